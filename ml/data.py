"""Training data: trailers and their subclips, the split by trailer, the target normaliser, and the frame pipeline.

A trailer is one labelled item with one or more subclips; each subclip's
frames are one uint8 ``.npy`` array (T×H×W×3, RGB) and each subclip is one
training sample carrying its trailer's rating. The split is always by
trailer, so subclips of one trailer never sit on both sides.

The frame pipeline (``prepare_frames``) is shared by training and scoring:
pick at most ``frames_per_sample`` frames spread evenly over the subclip,
resize them to the model's ``frame_size`` when they differ (centre crop to a
square, then antialiased bilinear resize), and zero-pad at the end to a fixed
length, returning the number of real frames alongside. Arrays are read
memory-mapped, so only the chosen frames are read from disk and no image is
decoded per step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ml.frames import load_frames

SAMPLING_FILE = "sampling.json"  # DATA_DIR/sampling.json: the sampling settings that made DATA_DIR


@dataclass(frozen=True)
class TrailerSample:
    """One labelled trailer: a key (id or title), its subclips' frame files, its rating, and optionally each
    subclip's cached encoder embeddings (a ``.npy`` path or an array; None where a subclip has none)."""

    trailer: Hashable
    subclips: tuple[str, ...]
    rating: float
    embeddings: tuple[Any, ...] | None = None


def as_trailer_samples(samples: Iterable[TrailerSample | Sequence[Any]]) -> list[TrailerSample]:
    """Accept ``TrailerSample``s or ``(trailer, [subclip paths], rating)`` tuples; check them."""
    result: list[TrailerSample] = []
    seen: set = set()
    for item in samples:
        embeddings = None
        if isinstance(item, TrailerSample):
            trailer, subclips, rating, embeddings = item.trailer, item.subclips, item.rating, item.embeddings
        else:
            try:
                trailer, subclips, rating, *rest = item
            except (TypeError, ValueError):
                rest = [None, None]
            if len(rest) > 1:
                raise ValueError(f"a sample must be (trailer, [subclip paths], rating[, [embeddings]]), got {item!r}")
            embeddings = rest[0] if rest else None
        if not isinstance(trailer, int | str) or isinstance(trailer, bool):
            raise ValueError(f"trailer keys must be ints or strings, got {trailer!r}")
        if trailer in seen:
            raise ValueError(f"trailer {trailer!r} appears more than once")
        seen.add(trailer)
        if isinstance(subclips, str | os.PathLike):
            subclips = [subclips]
        subclips = tuple(os.fspath(p) for p in subclips)
        if not subclips:
            raise ValueError(f"trailer {trailer!r} has no subclips")
        try:
            rating = float(rating)
        except (TypeError, ValueError):
            raise ValueError(f"trailer {trailer!r}: rating {rating!r} is not a number") from None
        if not math.isfinite(rating):
            raise ValueError(f"trailer {trailer!r}: rating {rating!r} is not finite")
        if embeddings is not None:
            embeddings = tuple(os.fspath(e) if isinstance(e, str | os.PathLike) else e for e in embeddings)
            if len(embeddings) != len(subclips):
                raise ValueError(f"trailer {trailer!r}: {len(embeddings)} embeddings for {len(subclips)} subclips")
        result.append(TrailerSample(trailer, subclips, rating, embeddings))
    return result


@dataclass(frozen=True)
class Split:
    """Which trailers train and which validate."""

    train: tuple
    val: tuple

    def to_dict(self) -> dict[str, list]:
        return {"train": list(self.train), "val": list(self.val)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        return cls(tuple(data["train"]), tuple(data["val"]))


def split_by_trailer(trailers: Iterable[Hashable], val_fraction: float, seed: int,
                     groups: Iterable[Iterable[Hashable]] = ()) -> Split:
    """Shuffle the trailer keys with ``seed`` and hold out ``val_fraction`` of them (at least one).

    Deterministic: the same keys (in any order), fraction and seed give the same split.
    With ``val_fraction`` 0 or fewer than two trailers, everything trains. ``groups``: trailers that share their
    footage (near-duplicates), each kept on one side; the held-out side then takes, in the shuffled order, whole
    groups that keep it within ``val_fraction`` of the trailers (a group larger than that trains), and only if
    none fits, the smallest group that leaves something to train on.
    """
    def order(k):  # any keys, in one order whatever order they came in
        return type(k).__name__, k

    keys = sorted(set(trailers), key=order)
    n_val = 0
    if val_fraction > 0 and len(keys) >= 2:
        n_val = min(len(keys) - 1, max(1, round(len(keys) * val_fraction)))
    known = set(keys)
    together = [members for members in ({k for k in g if k in known} for g in groups) if len(members) > 1]
    if not together:  # as before groups were known: a split saved then is made again the same
        val = {keys[i] for i in np.random.default_rng(seed).permutation(len(keys))[:n_val]}
    else:
        grouped = set().union(*together)
        units = sorted([sorted(m, key=order) for m in together] + [[k] for k in keys if k not in grouped],
                       key=lambda unit: order(unit[0]))
        shuffled = [units[i] for i in np.random.default_rng(seed).permutation(len(units))]
        val = set()
        for unit in shuffled:
            if len(val) + len(unit) <= n_val:
                val.update(unit)
        if not val and n_val:  # every group is larger than the held-out side should be: the smallest that leaves some
            fits = [unit for unit in shuffled if len(unit) < len(keys)]
            if fits:
                val.update(min(fits, key=len))
    return Split(tuple(k for k in keys if k not in val), tuple(k for k in keys if k in val))


def check_split(split: Split, trailers: Iterable[Hashable]) -> None:
    """Refuse a split that mixes a trailer into both sides or names a trailer that is not there."""
    known = set(trailers)
    train, val = set(split.train), set(split.val)
    if train & val:
        raise ValueError(f"trailers on both sides of the split: {sorted(map(str, train & val))[:5]}")
    missing = (train | val) - known
    if missing:
        raise ValueError(f"the split names trailers that are not in the samples: {sorted(map(str, missing))[:5]}")
    if not train:
        raise ValueError("the split leaves no trailer to train on")


@dataclass(frozen=True)
class Normaliser:
    """Standardises ratings for training (``(r - mean) / std``) and unscales predictions."""

    mean: float
    std: float

    @classmethod
    def fit(cls, ratings: Sequence[float]) -> Normaliser:
        values = np.asarray(ratings, dtype=np.float64)
        std = float(values.std()) if values.size > 1 else 0.0
        # A constant target would divide by zero; any positive scale works then.
        return cls(float(values.mean()), std if std > 1e-8 else 1.0)

    def standardise(self, ratings):
        return (ratings - self.mean) / self.std

    def unscale(self, values):
        return values * self.std + self.mean

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normaliser:
        return cls(float(data["mean"]), float(data["std"]))


# ---------------------------------------------------------------------------
# The frame pipeline.


def select_frame_indices(n_frames: int, n: int) -> np.ndarray:
    """Indices of at most ``n`` frames spread evenly over ``n_frames`` (all of them when there are few)."""
    if n_frames <= n:
        return np.arange(n_frames)
    return np.linspace(0, n_frames - 1, n).round().astype(np.int64)


def resize_frames(frames: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) → uint8 (T, size, size, 3): centre crop to a square, antialiased bilinear resize.

    Frames already ``size``×``size`` come back unchanged (no copy of the data).
    """
    x = torch.as_tensor(np.asarray(frames)) if isinstance(frames, np.ndarray) else frames
    height, width = x.shape[1], x.shape[2]
    if height == size and width == size:
        return x
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    x = x[:, top:top + side, left:left + side].permute(0, 3, 1, 2).float()
    if side != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=side > size, align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def prepare_frames(frames: np.ndarray, frames_per_sample: int, frame_size: int) -> tuple[torch.Tensor, int]:
    """A subclip's frames → (uint8 (frames_per_sample, S, S, 3) zero-padded at the end, number of real frames)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"expected a non-empty (T, H, W, 3) frame array, got shape {frames.shape}")
    chosen = frames[select_frame_indices(frames.shape[0], frames_per_sample)]  # reads only these from a memmap
    x = resize_frames(np.ascontiguousarray(chosen), frame_size)
    length = x.shape[0]
    if length < frames_per_sample:
        pad = x.new_zeros((frames_per_sample - length, *x.shape[1:]))
        x = torch.cat([x, pad])
    return x, length


class SubclipDataset(Dataset):
    """One item per subclip: (frames uint8 (T, S, S, 3), length, target float32).

    ``items`` are (frame file, target) pairs; targets are whatever the caller
    trains on (standardised ratings in ``ml.train``). Every frame file's header
    is checked here, up front (cheap: memory-mapped, no frame is read), so a
    damaged one stops training before it starts, with its name, rather than
    midway in a loader worker.
    """

    def __init__(self, items: Sequence[tuple[str, float]], *, frames_per_sample: int, frame_size: int) -> None:
        self.items = list(items)
        for path, _ in self.items:
            load_frames(path, mmap=True)
        self.frames_per_sample = frames_per_sample
        self.frame_size = frame_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        path, target = self.items[index]
        frames, length = prepare_frames(load_frames(path, mmap=True), self.frames_per_sample, self.frame_size)
        return frames, torch.tensor(length, dtype=torch.long), torch.tensor(target, dtype=torch.float32)


def prepare_embeddings(embeddings: np.ndarray, frames_per_sample: int) -> tuple[torch.Tensor, int]:
    """A subclip's embeddings (T, D) → (float32 (frames_per_sample, D) zero-padded at the end, number of real
    frames), taking the same frames :func:`prepare_frames` would."""
    chosen = np.asarray(embeddings)[select_frame_indices(embeddings.shape[0], frames_per_sample)]
    x = torch.from_numpy(chosen.astype(np.float32))
    length = x.shape[0]
    if length < frames_per_sample:
        x = torch.cat([x, x.new_zeros((frames_per_sample - length, x.shape[1]))])
    return x, length


class EmbeddingDataset(Dataset):
    """One item per subclip from cached embeddings held in memory: (float32 (T, D), length, target float32)."""

    def __init__(self, items: Sequence[tuple[np.ndarray, float]], *, frames_per_sample: int) -> None:
        prepared = [prepare_embeddings(array, frames_per_sample) for array, _ in items]
        self.x = torch.stack([x for x, _ in prepared]) if prepared else torch.empty(0)
        self.lengths = torch.tensor([n for _, n in prepared], dtype=torch.long)
        self.targets = torch.tensor([t for _, t in items], dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x[index], self.lengths[index], self.targets[index]


def find_subclips(data_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """DATA_DIR/<trailer>/<subclip index>.npy → {trailer: [frame files in subclip order]}."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir} is not a directory")
    found: dict[str, list[Path]] = {}
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [p for p in folder.glob("*.npy") if p.stem.isdigit()]
        if files:
            found[folder.name] = sorted(files, key=lambda p: int(p.stem))
    return found
