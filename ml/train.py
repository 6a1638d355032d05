"""Training: ``TrainConfig`` says everything a run used, ``fit`` runs it.

``fit`` takes labelled trailers (each with one or more subclip frame files),
splits them by trailer (or takes the caller's split), trains one LRCN on the
subclips with standardised targets, validates per epoch, writes a checkpoint
after every epoch and can resume from one.

Determinism: every epoch seeds its own shuffling and the global torch RNG
(dropout) from ``(random_seed, epoch)``, so an epoch does the same thing whether the
run went straight through or was resumed from a checkpoint; on CPU, 2 epochs +
resume + 2 epochs gives the same weights as 4 epochs straight. Datasets draw
no random numbers, so DataLoader workers do not matter to the result.

Metrics per epoch (``history``): ``train_loss`` and ``val_loss`` are the
configured loss on standardised ratings, per subclip; ``val_mae``,
``val_rmse`` and ``val_spearman`` are per validation *trailer* (its
prediction is the mean over its subclips), in rating units; ``baseline_mae``
and ``baseline_rmse`` are those of always predicting the training mean.

Checkpoint (a plain dict, read with ``torch.load(weights_only=True)``)::

    format="reelscore.checkpoint", version=1, epoch (completed epochs),
    model_state, optimizer_state, scaler_state (or None), best_model_state
    (None when the best epoch is the last), rng {torch, cuda, shuffle},
    model_config, train_config (dicts), normaliser {mean, std},
    split {train, val}, history [per-epoch dicts], best_epoch, best_val_loss,
    epochs_without_improvement
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from ml.config import (
    DEVICE_NAMES,
    LOSSES,
    LRCNConfig,
    TrainConfig,
    is_device_name,
    resolve_config,
)
from ml.data import (
    EmbeddingDataset,
    Normaliser,
    Split,
    SubclipDataset,
    TrailerSample,
    as_trailer_samples,
    check_split,
    split_by_trailer,
)
from ml.embeddings import gather_embeddings, installed_spec
from ml.files import write_atomically
from ml.metrics import regression_metrics
from ml.model import LRCN, build_model
from ml.pixels import pixel_options, sample_head_inputs, sample_pixel_features

CHECKPOINT_FORMAT = "reelscore.checkpoint"

# Fields of TrainConfig that may change when a run resumes from a checkpoint: they
# do not change what an epoch computes. Everything else must match.
RESUMABLE_CHANGES = frozenset({"epochs", "early_stopping_patience", "device", "num_workers"})


@dataclass(frozen=True)
class Progress:
    """What a callback is told: after every step (``kind="step"``) and after every epoch (``kind="epoch"``).

    ``epoch`` and ``step`` count from 1. For a step, ``metrics`` holds the running
    mean ``train_loss`` of the epoch so far; for an epoch, the epoch's full metrics,
    and ``history`` the metrics of every epoch of the run so far, this one included
    (those before a resume too: they come from the checkpoint).
    """

    kind: str
    epoch: int
    epochs: int
    step: int
    steps: int
    metrics: dict[str, Any]
    history: tuple[dict[str, Any], ...] = ()
    fit: int = 1                 # which of a cross-validation's fits this is (from 1), of ``fits``
    fits: int = 1
    fold: int | None = None      # the fold it holds out (from 1), in a cross-validation
    role: str = "model"          # "model"; "single_frame": the baseline head fit on the same fold; "refit": on all
    last: bool = False           # an epoch after which this fit stops (its last, or early stopping's)
    saved: bool = True           # an epoch whose checkpoint was written (or, without one, would have been)

    @property
    def fraction(self) -> float:
        """How much of the whole job (every fit) is done, 0–1."""
        within = ((self.epoch - 1) * self.steps + self.step) / max(1, self.epochs * self.steps)
        return min(1.0, ((self.fit - 1) + within) / max(1, self.fits))


class StopTraining(Exception):  # noqa: N818 - it is a request, not an error
    """Raise from a callback (or return True from it) to stop training after the current step."""


class PredictsNoNumber(FloatingPointError):
    """A trained model whose predictions are not numbers (NaN or infinite), though its training loss stayed finite
    (its weights did not): nothing of it can serve."""


class TrainingDiverged(FloatingPointError):
    """The training loss stopped being a finite number (a learning rate too high, most often).

    ``epoch`` and ``step`` (from 1) say where; ``checkpoint`` is the run's last
    checkpoint (the one this call wrote last, or the one it resumed from) and
    ``checkpoint_epoch`` the epochs it holds, or both are None.
    """

    def __init__(self, epoch: int, step: int, loss: float, checkpoint: Path | None, checkpoint_epoch: int | None):
        self.epoch, self.step, self.loss = epoch, step, loss
        self.checkpoint, self.checkpoint_epoch = checkpoint, checkpoint_epoch
        last = (f"the last checkpoint, after epoch {checkpoint_epoch}, is {checkpoint}" if checkpoint is not None
                else "no checkpoint was written")
        super().__init__(f"training diverged at epoch {epoch}, step {step} (the loss became {loss}); {last}")


@dataclass
class FitResult:
    """What ``fit`` hands back.

    ``model`` is on the training device, in eval mode, and holds the best epoch's
    weights (lowest validation loss) when ``restore_best`` and there was validation,
    else the weights as training left them.
    """

    model: LRCN
    model_config: LRCNConfig
    train_config: TrainConfig
    normaliser: Normaliser
    split: Split
    history: list[dict[str, Any]]
    best_epoch: int | None
    stop_reason: str            # "completed", "early_stopping" or "cancelled"
    device: str
    embedded_on_demand: int = 0  # subclips that had no cached embeddings and were embedded for this fit

    @property
    def best_metrics(self) -> dict[str, Any] | None:
        """The best epoch's metrics (the last epoch's when there was no validation)."""
        if self.best_epoch is None:
            return self.last_metrics
        return next(m for m in self.history if m["epoch"] == self.best_epoch)

    @property
    def last_metrics(self) -> dict[str, Any] | None:
        return self.history[-1] if self.history else None

    def metrics(self) -> dict[str, Any]:
        """A JSON-able summary: best epoch, its metrics, the last epoch's, why training stopped, how many subclips
        were embedded on demand."""
        return {
            "best_epoch": self.best_epoch,
            "best": self.best_metrics,
            "last": self.last_metrics,
            "epochs_run": len(self.history),
            "stop_reason": self.stop_reason,
            "embedded_on_demand": self.embedded_on_demand,
        }


Callback = Callable[[Progress], "bool | None"]


def with_embeddings(samples: list[TrailerSample], model_config: LRCNConfig, embedding_spec: Any,
                    device: str) -> tuple[list[TrailerSample], int, Any]:
    """For a frozen pretrained encoder: the samples with every subclip's embeddings (checked against the
    installed encoder, missing ones made on ``device``), how many were made, and the spec they follow.
    Other models get the samples back as they are."""
    if not model_config.uses_embeddings:
        return samples, 0, embedding_spec
    wanted = installed_spec(model_config.encoder, model_config.frame_size)
    samples, embedded = gather_embeddings(samples, wanted, given=embedding_spec, device=str(resolve_device(device)))
    return samples, embedded, wanted


def fit(
    samples: Iterable[TrailerSample | Sequence[Any]],
    config: TrainConfig | None = None,
    model_config: str | LRCNConfig | dict[str, Any] = "default",
    *,
    split: Split | tuple[Iterable[Hashable], Iterable[Hashable]] | dict[str, Iterable[Hashable]] | None = None,
    callback: Callback | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_seconds: float = 0.0,
    resume_from: str | os.PathLike | None = None,
    embedding_spec: Any = None,
) -> FitResult:
    """Train an LRCN on labelled trailers and return the trained model with its history.

    samples: ``TrailerSample``s or ``(trailer id or title, [subclip .npy paths], rating)``.
    config, model_config: the run's settings (a preset name is fine for the model).
    split: train/validation trailer keys, e.g. a snapshot the caller stored; by default the
        trailers are split with ``config.val_fraction`` and ``config.random_seed``. Resuming uses the
        checkpoint's split (a given split must equal it).
    callback: called with a ``Progress`` after every step and epoch; return True or raise
        ``StopTraining`` to stop (honoured between steps; the result says ``cancelled``).
    checkpoint_path: written atomically after every epoch, or with ``checkpoint_seconds`` after the first epoch
        that ends that long after the last one written (and after the fit's last epoch, ``Progress.last``): a head
        on cached embeddings runs dozens of epochs a second, each checkpoint written whole. ``Progress.saved`` says
        which epochs' were, so that a caller keeps what it records in step with them.
    resume_from: a checkpoint to carry on from (its configs must match, except for
        ``RESUMABLE_CHANGES``); training continues at the next epoch up to ``config.epochs``.
    embedding_spec: the ``ml.embeddings.EmbeddingSpec`` (or its dict) the samples' cached embeddings were
        made with. A model with a frozen pretrained encoder trains its head on them; a subclip without
        them is embedded on demand (``FitResult.embedded_on_demand`` counts them).
    """
    config = config or TrainConfig()
    model_config = resolve_config(model_config)
    samples = as_trailer_samples(samples)
    samples, embedded_on_demand, _ = with_embeddings(samples, model_config, embedding_spec, config.device)
    trailers = {t.trailer: t for t in samples}
    if not trailers:
        raise ValueError("no trailers to train on")
    split = _as_split(split) if split is not None else None

    state = None
    last_checkpoint: tuple[Path, int] | None = None  # (path, epochs it holds): what to resume from
    checkpoint_written = float("-inf")  # the first epoch's is written whatever checkpoint_seconds says (below)
    if resume_from is not None:
        state = load_checkpoint(resume_from)
        last_checkpoint = (Path(resume_from), state["epoch"])
        _check_resumable(state, config, model_config)
        saved_split = Split.from_dict(state["split"])
        if split is not None and (set(split.train), set(split.val)) != (set(saved_split.train), set(saved_split.val)):
            raise ValueError("the given split differs from the checkpoint's")
        split = saved_split
    if split is None:
        split = split_by_trailer(trailers, config.val_fraction, config.random_seed)
    check_split(split, trailers)

    device = resolve_device(config.device)
    embedded = model_config.uses_embeddings
    sources = {k: _sources(trailers[k], embedded, model_config) for k in (*split.train, *split.val)}
    train_items = [(source, trailers[k].rating) for k in split.train for source in sources[k]]
    val_items = [(source, trailers[k].rating, k) for k in split.val for source in sources[k]]
    normaliser = Normaliser.from_dict(state["normaliser"]) if state else Normaliser.fit([r for _, r in train_items])

    def dataset(items):
        standardised = [(source, normaliser.standardise(rating)) for source, rating, *_ in items]
        if model_config.uses_embeddings:
            return EmbeddingDataset(standardised, frames_per_sample=config.frames_per_sample)
        return SubclipDataset(standardised, frames_per_sample=config.frames_per_sample,
                              frame_size=model_config.frame_size)

    shuffle = torch.Generator()
    workers = 0 if model_config.uses_embeddings else config.num_workers  # embeddings are in memory already
    loader_options = {
        "batch_size": config.batch_size,
        "num_workers": workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": workers > 0,
    }
    # The sampler shuffles with its own generator, reseeded every epoch. The loaders get
    # generators of their own too, because DataLoader draws its workers' base seed from
    # the loader's generator (else the global RNG) whenever workers start, which with
    # persistent workers is only the first epoch run: a resumed run would drift.
    train_set = dataset(train_items)
    train_loader = DataLoader(
        train_set, sampler=RandomSampler(train_set, generator=shuffle),
        generator=torch.Generator().manual_seed(config.random_seed), **loader_options,
    )
    val_loader = None
    if val_items:
        val_loader = DataLoader(dataset(val_items), generator=torch.Generator().manual_seed(config.random_seed), **loader_options)

    torch.manual_seed(config.random_seed)
    model = build_model(model_config).to(device)
    if model.pixels and not state:  # a resumed run's scale is in its checkpoint
        model.scale_pixels(_training_pixels([trailers[k] for k in split.train], sources, model))
    forward = model.head if model_config.uses_embeddings else model
    optimizer = make_optimizer(model, config)
    loss_fn = make_loss(config.loss)
    autocast, scaler = _mixed_precision(device, config.mixed_precision)

    history: list[dict[str, Any]] = []
    start_epoch, best_epoch, best_val_loss, stale = 0, None, math.inf, 0
    best_state: dict[str, torch.Tensor] | None = None
    if state:
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        if state["scaler_state"] and scaler.is_enabled():
            scaler.load_state_dict(state["scaler_state"])
        history = list(state["history"])
        start_epoch, best_epoch, stale = state["epoch"], state["best_epoch"], state["epochs_without_improvement"]
        best_val_loss = state["best_val_loss"] if state["best_val_loss"] is not None else math.inf
        if best_epoch is not None and config.restore_best:
            saved_best = state["best_model_state"]
            best_state = saved_best if saved_best is not None else _cpu_copy(state["model_state"])
        _restore_rng(state["rng"], shuffle)

    stop_reason = "completed"
    steps = len(train_loader)
    try:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            epoch_seed = _epoch_seed(config.random_seed, epoch)
            shuffle.manual_seed(epoch_seed)
            torch.manual_seed(epoch_seed + 1)
            model.train()
            total, count = 0.0, 0
            for step, (frames, lengths, targets) in enumerate(train_loader, 1):
                frames = frames.to(device, non_blocking=True)
                lengths = lengths.to(device, non_blocking=True)
                targets = targets.to(device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                with autocast():
                    predictions = forward(frames, lengths)
                loss = loss_fn(predictions.float(), targets)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(epoch + 1, step, loss.item(), *(last_checkpoint or (None, None)))
                scaler.scale(loss).backward()
                if config.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                total += loss.item() * targets.shape[0]
                count += targets.shape[0]
                if callback is not None and callback(
                    Progress("step", epoch + 1, config.epochs, step, steps, {"train_loss": total / count})
                ):
                    raise StopTraining

            metrics = {"epoch": epoch + 1, "train_loss": total / count}
            metrics.update(evaluate(forward, val_loader, val_items, loss_fn, normaliser, device, autocast))
            metrics["seconds"] = round(time.perf_counter() - started, 3)
            history.append(metrics)

            val_loss = metrics["val_loss"]
            if val_loss is not None and val_loss < best_val_loss:
                best_val_loss, best_epoch, stale = val_loss, epoch + 1, 0
                if config.restore_best:
                    best_state = _cpu_copy(model.state_dict())
            elif val_loss is not None:
                stale += 1

            patience = config.early_stopping_patience
            last = epoch + 1 == config.epochs or (patience is not None and stale >= patience)
            saved = last or time.monotonic() - checkpoint_written >= checkpoint_seconds
            if saved:
                checkpoint_written = time.monotonic()
            if checkpoint_path is not None and saved:
                save_checkpoint(checkpoint_path, {
                    "format": CHECKPOINT_FORMAT,
                    "version": 1,
                    "epoch": epoch + 1,
                    "model_state": model.state_dict(),
                    "optimizer_state": optimizer.state_dict(),
                    "scaler_state": scaler.state_dict() if scaler.is_enabled() else None,
                    # Only when it differs from model_state: the seed preset's weights are 1.5 GB.
                    "best_model_state": best_state if best_epoch != epoch + 1 else None,
                    "rng": _rng_state(shuffle),
                    "model_config": model_config.to_dict(),
                    "train_config": config.to_dict(),
                    "normaliser": normaliser.to_dict(),
                    "split": split.to_dict(),
                    "history": history,
                    "best_epoch": best_epoch,
                    "best_val_loss": None if math.isinf(best_val_loss) else best_val_loss,
                    "epochs_without_improvement": stale,
                })
                last_checkpoint = (Path(checkpoint_path), epoch + 1)

            if callback is not None and callback(
                Progress("epoch", epoch + 1, config.epochs, steps, steps, dict(metrics), tuple(map(dict, history)),
                         last=last, saved=saved)
            ):
                raise StopTraining
            if patience is not None and stale >= patience:
                stop_reason = "early_stopping"
                break
    except StopTraining:
        stop_reason = "cancelled"

    restored = config.restore_best and best_state is not None
    if restored:
        model.load_state_dict(best_state)
    model.eval()
    kept = next((m for m in history if m["epoch"] == best_epoch), None) if restored else (history or [None])[-1]
    if kept is not None and kept.get("val_loss") is not None and not math.isfinite(kept["val_loss"]):
        raise PredictsNoNumber(f"training diverged: the model predicts no number for its validation trailers (their "
                               f"loss is {kept['val_loss']} after epoch {kept['epoch']}, though the training loss "
                               "stayed finite); try a lower lr, or grad_clip")
    return FitResult(
        model=model, model_config=model_config, train_config=config, normaliser=normaliser, split=split,
        history=history, best_epoch=best_epoch, stop_reason=stop_reason, device=str(device),
        embedded_on_demand=embedded_on_demand,
    )


def _sources(sample: TrailerSample, embedded: bool, model_config: LRCNConfig) -> tuple:
    """What the model reads for each subclip: its embeddings (and pixel features) for a frozen pretrained
    encoder, else its frames."""
    if not embedded:
        return sample.subclips
    return sample_head_inputs(sample, **pixel_options(model_config))


def _training_pixels(samples: list[TrailerSample], sources: dict, model: LRCN) -> np.ndarray:
    """The pixel features of every training subclip's frames, (N, model.pixels): what the model's scale is
    learnt from. A head on embeddings has them as its inputs' last columns already."""
    if model.config.uses_embeddings:
        return np.concatenate([np.asarray(s)[:, -model.pixels:] for sample in samples for s in sources[sample.trailer]])
    return np.concatenate([f for sample in samples
                           for f in sample_pixel_features(sample, **pixel_options(model.config))])


@torch.no_grad()
def evaluate(forward, loader, items, loss_fn, normaliser: Normaliser, device, autocast=nullcontext) -> dict[str, Any]:
    """Validation loss per subclip, and MAE/RMSE/Spearman per trailer against the training-mean baseline.

    ``forward`` is the model (frames in) or its ``head`` (cached embeddings in); either way, its module
    is put in eval mode here.
    """
    empty = {"val_loss": None, "val_mae": None, "val_rmse": None, "val_spearman": None,
             "baseline_mae": None, "baseline_rmse": None}
    if loader is None:
        return empty
    getattr(forward, "__self__", forward).eval()
    total, predictions = 0.0, []
    for frames, lengths, targets in loader:
        with autocast():
            out = forward(frames.to(device), lengths.to(device)).float()
        total += loss_fn(out, targets.to(device)).item() * targets.shape[0]
        predictions.append(out.cpu())
    scores = normaliser.unscale(torch.cat(predictions).double().numpy())
    by_trailer: dict[Hashable, list[float]] = defaultdict(list)
    ratings = {}
    for (_, rating, key), score in zip(items, scores, strict=True):
        by_trailer[key].append(float(score))
        ratings[key] = rating
    keys = list(by_trailer)
    metrics = regression_metrics([ratings[k] for k in keys], [np.mean(by_trailer[k]) for k in keys],
                                 baseline=normaliser.mean)
    return {
        "val_loss": total / len(items),
        "val_mae": metrics["mae"],
        "val_rmse": metrics["rmse"],
        "val_spearman": metrics["spearman"],
        "baseline_mae": metrics["baseline_mae"],
        "baseline_rmse": metrics["baseline_rmse"],
    }


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum)
    return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum)


def make_loss(name: str) -> nn.Module:
    if name == "mse":
        return nn.MSELoss()
    if name == "mae":
        return nn.L1Loss()
    if name == "smooth_mae":
        return nn.SmoothL1Loss()
    raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}")


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda where available, else cpu; an explicit cuda that is not there is an error.

    A name that is not one of :data:`DEVICE_NAMES` raises ``ValueError``; cuda
    where there is none, ``RuntimeError``.
    """
    if not is_device_name(name):
        raise ValueError(f"device must be {DEVICE_NAMES}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for, but CUDA is not available here")
    return torch.device(name)


def describe_device(device: torch.device | str) -> str:
    """Which GPU ``device`` is, in words a person can find the card by: its name, its index as this process sees
    it, its index on the machine (through ``CUDA_VISIBLE_DEVICES``, where set) and its UUID; "" for the CPU.

    Call it only where the work runs on that device: it initialises CUDA.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return ""
    index = device.index if device.index is not None else torch.cuda.current_device()
    properties = torch.cuda.get_device_properties(index)
    words = [f"{properties.name}, cuda:{index}"]
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if index < len(visible):
        words.append(f"GPU {visible[index]} of this machine (CUDA_VISIBLE_DEVICES={','.join(visible)})")
    uuid = getattr(properties, "uuid", None)
    if uuid is not None:
        words.append(f"GPU-{uuid}")
    return "; ".join(words)


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename: a reader never sees half a file."""
    return write_atomically(path, lambda handle: torch.save(checkpoint, handle))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary unpickling), tensors on the CPU.

    Any other file raises ``ValueError``: "``path`` is not a Reelscore checkpoint".
    """
    return load_saved(path, CHECKPOINT_FORMAT, "checkpoint")


def load_saved(path: str | os.PathLike, kind: str, what: str) -> dict[str, Any]:
    """Read a dict ml saved with ``format=kind`` (``weights_only=True``, tensors on the CPU).

    Any other file, or a damaged one, raises ``ValueError`` in one line naming
    ``path`` and ``what`` it should be; a file that cannot be opened, the ``OSError``.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception:  # torch's own words run to many lines and never say which file
        raise ValueError(f"{path} is not a Reelscore {what}: not a file Reelscore saved, or a damaged one") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        raise ValueError(f"{path} is not a Reelscore {what}")
    return data


# ---------------------------------------------------------------------------


def _as_split(split) -> Split:
    if isinstance(split, Split):
        return split
    if isinstance(split, dict):
        return Split.from_dict(split)
    train, val = split
    return Split(tuple(train), tuple(val))


def _check_resumable(state: dict[str, Any], config: TrainConfig, model_config: LRCNConfig) -> None:
    saved_model = LRCNConfig.saved(state["model_config"])
    if saved_model != model_config:
        there, now = saved_model.to_dict(), model_config.to_dict()
        differ = [f"{name} {there[name]!r} there, {now[name]!r} now" for name in saved_model.differing(model_config)]
        raise ValueError(f"the checkpoint was made with another model config ({'; '.join(differ)}): give the same "
                         "model options to resume it")
    saved = TrainConfig.saved(state["train_config"])
    changed = sorted(k for k in saved.differing(config) if k not in RESUMABLE_CHANGES)
    if changed:
        raise ValueError(f"cannot resume with different {', '.join(changed)} (only {sorted(RESUMABLE_CHANGES)} may change)")


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _rng_state(shuffle: torch.Generator) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "shuffle": shuffle.get_state(),
    }


def _restore_rng(rng: dict[str, Any], shuffle: torch.Generator) -> None:
    # Each epoch reseeds from (seed, epoch) anyway; restoring keeps anything drawn
    # outside an epoch identical too.
    torch.set_rng_state(rng["torch"])
    shuffle.set_state(rng["shuffle"])
    if rng["cuda"] and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _mixed_precision(device: torch.device, enabled: bool):
    if device.type != "cuda" or not enabled:
        return nullcontext, torch.amp.GradScaler("cuda", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def autocast():
        return torch.autocast(device_type="cuda", dtype=dtype)

    # bf16 has float32's range and needs no loss scaling; fp16 does.
    return autocast, torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
