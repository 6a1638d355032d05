"""Model files and scoring: save a trained model in one file, load it back, score a trailer's subclips.

A model file is ``torch.save`` of a plain dict, read back with
``torch.load(weights_only=True)`` (tensors, numbers, strings, lists, dicts;
never arbitrary objects)::

    format="reelscore.model", version=1,
    model_state     the LRCN's weights
    model_config    LRCNConfig.to_dict()
    train_config    TrainConfig.to_dict() (frames_per_sample is used when scoring), or None
    sampling        the video sampling settings (ml.video.SamplingConfig.to_dict()), or None
    normaliser      {"mean", "std"}: model outputs are standardised ratings
    metrics         validation metrics (FitResult.metrics()), or {}
    history         per-epoch metrics, or []

A trailer's prediction is the mean of its subclips' scores; the spread is
their standard deviation (0 for a single subclip).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.data import Normaliser, prepare_frames
from ml.frames import load_frames
from ml.model import LRCN, LRCNConfig, build_model
from ml.train import FitResult, TrainConfig, load_saved, resolve_device, save_checkpoint

MODEL_FORMAT = "reelscore.model"


@dataclass
class LoadedModel:
    """A model ready to score: the network in eval mode and everything needed to feed it."""

    model: LRCN
    model_config: LRCNConfig
    normaliser: Normaliser
    frames_per_sample: int
    train_config: TrainConfig | None = None
    sampling: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


@dataclass(frozen=True)
class Scores:
    """A trailer's scores: one per subclip, their mean (the prediction) and spread (standard deviation)."""

    per_subclip: list[float]
    mean: float
    spread: float


def save_model_file(
    path: str | os.PathLike,
    result: FitResult | None = None,
    *,
    model: LRCN | None = None,
    normaliser: Normaliser | None = None,
    train_config: TrainConfig | None = None,
    sampling: Any = None,
    metrics: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Path:
    """Write one model file (atomically) from a ``FitResult``, or from a model and its normaliser.

    ``sampling`` is the frame-sampling settings the training frames were made with
    (a ``SamplingConfig`` or its dict), so videos can be scored the same way later.
    """
    if result is not None:
        model = model or result.model
        normaliser = normaliser or result.normaliser
        train_config = train_config or result.train_config
        metrics = metrics if metrics is not None else result.metrics()
        history = history if history is not None else result.history
    if model is None or normaliser is None:
        raise ValueError("save_model_file needs a FitResult, or a model and its normaliser")
    if sampling is not None and not isinstance(sampling, dict):
        sampling = sampling.to_dict()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_checkpoint(path, {
        "format": MODEL_FORMAT,
        "version": 1,
        "model_state": state,
        "model_config": model.config.to_dict(),
        "train_config": train_config.to_dict() if train_config is not None else None,
        "sampling": sampling,
        "normaliser": normaliser.to_dict(),
        "metrics": metrics or {},
        "history": history or [],
    })


def load_model(path: str | os.PathLike, *, device: str = "cpu") -> LoadedModel:
    """Read a model file (``weights_only=True``) and rebuild the model on ``device`` (``auto`` allowed)."""
    target = resolve_device(device)  # a bad device name is refused before the file is read
    data = load_saved(path, MODEL_FORMAT, "model file")
    model_config = LRCNConfig.from_dict(data["model_config"])
    model = build_model(model_config)
    model.load_state_dict(data["model_state"])
    model.to(target).eval()
    train_config = TrainConfig.from_dict(data["train_config"]) if data.get("train_config") else None
    return LoadedModel(
        model=model,
        model_config=model_config,
        normaliser=Normaliser.from_dict(data["normaliser"]),
        frames_per_sample=train_config.frames_per_sample if train_config else TrainConfig().frames_per_sample,
        train_config=train_config,
        sampling=data.get("sampling"),
        metrics=data.get("metrics") or {},
        history=data.get("history") or [],
    )


@torch.no_grad()
def score_subclips(loaded: LoadedModel, frames_list: Sequence[np.ndarray], *, batch_size: int = 8) -> Scores:
    """Score one trailer from its subclips' frames (each uint8 T×H×W×3, any size: resized to the model's)."""
    if not frames_list:
        raise ValueError("a trailer needs at least one subclip to be scored")
    prepared = [prepare_frames(f, loaded.frames_per_sample, loaded.model_config.frame_size) for f in frames_list]
    device = loaded.device
    loaded.model.eval()
    outputs = []
    for start in range(0, len(prepared), batch_size):
        chunk = prepared[start:start + batch_size]
        frames = torch.stack([x for x, _ in chunk]).to(device)
        lengths = torch.tensor([n for _, n in chunk], device=device)
        outputs.append(loaded.model(frames, lengths).float().cpu())
    per_subclip = loaded.normaliser.unscale(torch.cat(outputs).double().numpy())
    return Scores(
        per_subclip=[float(s) for s in per_subclip],
        mean=float(per_subclip.mean()),
        spread=float(per_subclip.std()),
    )


def score_frame_files(loaded: LoadedModel, paths: Sequence[str | os.PathLike], *, batch_size: int = 8) -> Scores:
    """Score one trailer from its subclips' ``.npy`` frame files."""
    return score_subclips(loaded, [load_frames(p, mmap=True) for p in paths], batch_size=batch_size)


def score_video(loaded: LoadedModel, path: str | os.PathLike, *, sampling: Any = None) -> Scores:
    """Sample a video's subclips the way the model's training frames were made, and score them.

    ``sampling`` overrides the model file's settings (a ``SamplingConfig`` or its dict).
    Raises ``ml.video.VideoError`` for a file that cannot serve.
    """
    from ml.video import SamplingConfig, sample_trailer  # decoding stack only when videos are scored

    settings = sampling if sampling is not None else loaded.sampling
    if settings is None:
        config = SamplingConfig(size=loaded.model_config.frame_size)
    elif isinstance(settings, dict):
        config = SamplingConfig.from_dict(settings)
    else:
        config = settings
    _, subclips = sample_trailer(path, config)
    return score_subclips(loaded, [s.frames for s in subclips])
