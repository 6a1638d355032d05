"""Cross-validation by trailer: estimates that can be believed, and the fold models as an ensemble.

``cross_validate`` splits the labelled trailers into K folds and, for each
fold, trains a model on the other K-1 and scores the fold it never saw. The
run's figures are those held-out scores only: MAE, RMSE and Spearman, mean ±
sd over folds and per fold, beside two baselines scored on the same folds
(always predicting the training folds' mean rating; the same encoder with
mean pooling over frames instead of the LSTM, the single-frame head; and, where
the trailers carry embeddings, the mean rating of the training trailers whose
footage looks most like it, ``ml.neighbours``).

Nothing is chosen on the fold being scored. With fixed epochs (the default
preset) the fold is also fit's validation set, so the run shows held-out
learning curves, but no epoch is picked from them; with ``restore_best`` or
early stopping, the epoch is chosen on an inner split of the training folds.

Leak-aware folds: the same footage uploaded twice (teaser and trailer, a
re-encode), or several trailers cut from one source, make trailers with
nearly the same frames, and one on each side would flatter the estimate. How
alike two trailers' footage is, is measured frame by frame: the median, over
one trailer's frames, of the best cosine similarity of its embedding to the
other trailer's frames, taken the more favourable way round (a teaser's frames
are all in its trailer, not the other way). Two trailers match when that is at
least ``TrainConfig.duplicate_threshold`` (0.9), or when it stands out from the
dataset: their distance (1 − match) is at most a third of what is typical for
those two trailers (1 − the median of their matches with 32 others). Groups
merge while more than half of their cross pairs match (average linkage: so
look-alikes do not chain into one big group), and a group never spans two
folds. The groups are dealt to the folds in order of rating (stratified
folds, :func:`make_folds`): with few sources of a rare kind, a fold that
held all of them would train a model that never saw it.

Why frames and not the mean embedding, and why the second test: on trailers of
one look (bench/learn.py's motion set, the demo's) the mean embeddings of
unrelated trailers are as close (cosine 0.88–0.92) as a re-encoded copy's
(0.87–0.96), while the frame match keeps them apart (re-encodes and teasers
0.91–0.99, unrelated trailers up to 0.85–0.89 at 64²–112²); the absolute 0.9
sits in that gap. On varied trailers (the content set: photographs) trailers
cut from one photograph match at 0.74–0.95 (5th to 95th percentile) against
0.25 typical and 0.51 for the 99th percentile of other pairs: only the relative
test finds them all (12 groups for the 12 photographs of the catalogue then,
against 5 with 0.9 alone).
On look-alike sets the typical match is high, so the relative test asks
nearly as much as the absolute one. Both hold for embeddings of 64² to 112²
frames: below 64² the encoder sees too little to tell footage apart
(unrelated synthetic trailers embedded at 32² or 48² match at up to
0.96–0.99, as closely as copies), so keep EMBEDDING_SIZE at 64 or more where
groups matter. A heavily compressed copy at 160² (MPEG-4 part 2, 100 kb/s,
0.87) can be missed.

Mixed with the neighbours (``TrainConfig.neighbour_mix``, on by default where
the trailers carry embeddings and there are at least ``MIX_MIN_TRAILERS``):
each fold's head predictions are mixed with the neighbours' in a share chosen
on the other folds' held-out predictions (:func:`mix_neighbours`), and those
mixes are the run's "model" figures, the head's own kept as "head". The
version mixes in the share chosen on all folds.

The K fold models are kept as the model's ensemble: a prediction is the mean
of their predictions (each mixed with its own training trailers' neighbours),
and their spread is its uncertainty. Each fold writes a
file when it finishes (and fit checkpoints within it), so a run resumed after
a crash carries on at the fold and epoch where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.config import LRCNConfig, TrainConfig, cross_validation_fits, fits_single_frame_baseline, resolve_config
from ml.data import (
    Normaliser,
    TrailerSample,
    as_trailer_samples,
    prepare_embeddings,
    prepare_frames,
    select_frame_indices,
    split_by_trailer,
)
from ml.embeddings import load_embeddings, trailer_frames
from ml.frames import load_frames
from ml.intervals import cv_plus
from ml.metrics import ESTIMATE_ROLES, regression_metrics
from ml.model import LRCN, build_model
from ml.neighbours import (
    MIX_MIN_TRAILERS,
    NearestTrailers,
    choose_weight,
    mixed,
    pooled,
    predict_neighbours,
    trailer_vectors,
)
from ml.pixels import pixel_options, remembered_features, sample_head_inputs
from ml.train import (
    RESUMABLE_CHANGES,
    Callback,
    FitResult,
    PredictsNoNumber,
    Progress,
    fit,
    load_saved,
    resolve_device,
    save_checkpoint,
    with_embeddings,
)

FOLD_FORMAT = "reelscore.fold"
METRICS = ("mae", "rmse", "spearman")


@dataclass
class Member:
    """One model of the ensemble: its network (eval mode), the target normaliser it was trained with, and the
    training trailers its predictions are mixed with (``near.weight`` their share), if any."""

    model: LRCN
    normaliser: Normaliser
    near: NearestTrailers | None = None
    residuals: np.ndarray | None = None  # its absolute errors on the trailers it did not train on (ml.intervals)
    scales: np.ndarray | None = None  # how far each of those trailers was from its training trailers (the same order)


@dataclass
class FoldResult:
    """One fold: which trailers it scored, the held-out metrics of the model and the baselines, the
    predictions it made for those trailers, and the model trained without them."""

    index: int
    test: list
    train_count: int
    metrics: dict[str, dict[str, float | None]]   # {role (ESTIMATE_ROLES): {mae, rmse, spearman}}
    predictions: dict[Any, float]                 # held-out prediction per trailer of this fold
    member: Member
    history: list[dict[str, Any]] = field(default_factory=list)
    near_predictions: dict[Any, float] = field(default_factory=dict)  # the neighbours' (empty: no embeddings)
    head_predictions: dict[Any, float] = field(default_factory=dict)  # the head's, where predictions are mixed
    neighbour_weight: float | None = None         # the neighbours' share in this fold's predictions (None: unmixed)


@dataclass
class CrossValResult:
    """The folds, the near-duplicate groups they respected, and the ensemble."""

    folds: list[FoldResult]
    groups: list[list]          # groups of two or more trailers judged to share footage
    model_config: LRCNConfig
    train_config: TrainConfig
    stop_reason: str = "completed"
    duplicates_checked: bool = True  # False when no embeddings were there to compare trailers with
    embedded_on_demand: int = 0      # subclips without cached embeddings, embedded for this run
    neighbour_weight: float | None = None  # the neighbours' share in the version's predictions (None: unmixed)
    refit: Member | None = None  # one model fit on every trailer (``TrainConfig.refit``): the version's predictions

    @property
    def members(self) -> list[Member]:
        return [f.member for f in self.folds]

    @property
    def predictions(self) -> dict[Any, float]:
        """Every trailer's held-out prediction (from the fold that did not train on it)."""
        return {k: v for f in self.folds for k, v in f.predictions.items()}

    @property
    def history(self) -> list[dict[str, Any]]:
        """Per-epoch metrics averaged over folds (the held-out fold's, with fixed epochs)."""
        return average_histories([f.history for f in self.folds])

    def estimate(self) -> dict[str, Any]:
        """The JSON-able report: per-fold table, mean ± sd over folds, pooled figures, groups."""
        summary: dict[str, Any] = {}
        for role in ESTIMATE_ROLES:
            per_fold = [f.metrics.get(role) for f in self.folds]
            if any(m is None for m in per_fold):
                continue
            summary[role] = {
                name: _mean_sd([m[name] for m in per_fold]) for name in METRICS
            }
        return {
            "folds": len(self.folds),
            "trailers": sum(len(f.test) for f in self.folds),
            "summary": summary,
            "per_fold": [{"fold": f.index + 1, "trailers": len(f.test), "train_trailers": f.train_count,
                          "test": list(f.test), **{role: m for role, m in f.metrics.items()},
                          **({"neighbour_weight": f.neighbour_weight} if f.neighbour_weight is not None else {})}
                         for f in self.folds],
            **({"neighbour_weight": self.neighbour_weight} if self.neighbour_weight is not None else {}),
            **({"refit": True} if self.refit is not None else {}),
            "groups": [sorted(g, key=str) for g in self.groups],
            "duplicate_threshold": self.train_config.duplicate_threshold,
            "duplicate_standout": STANDOUT,
            "duplicates_checked": self.duplicates_checked,
            "embedded_on_demand": self.embedded_on_demand,
            "predictions": {str(k): v for k, v in self.predictions.items()},
            "stop_reason": self.stop_reason,
        }


def cross_validate(
    samples: Iterable[TrailerSample | Sequence[Any]],
    config: TrainConfig | None = None,
    model_config: str | LRCNConfig | dict[str, Any] = "default",
    *,
    embedding_spec: Any = None,
    callback: Callback | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_seconds: float = 0.0,
    device: str | None = None,
    known_groups: Iterable[Iterable[Hashable]] = (),
) -> CrossValResult:
    """K-fold cross-validation by trailer (``config.folds``, at least 2), near-duplicates kept together; with
    ``config.refit``, one more model fit last on every trailer (``CrossValResult.refit``: the version's predictions).

    samples, embedding_spec: as for :func:`ml.train.fit`. Embeddings, where the samples carry them (or a
        frozen pretrained encoder makes them on demand), also find the near-duplicate groups.
    callback: called with fit's ``Progress`` (its ``fit``/``fits`` say which of the run's fits it is);
        return True to stop (the result then holds the folds finished so far, ``stop_reason="cancelled"``).
    checkpoint_dir: where each fit checkpoints and each finished fold is kept; a second call with the same
        folder resumes. checkpoint_seconds: as for :func:`ml.train.fit`.
    known_groups: trailers the caller knows share their source (a teaser and its trailer, the trailers of
        one film), kept in one fold as the near-duplicate groups found are; a known group and a found
        one that share a trailer become one group.
    """
    config = config or TrainConfig()
    model_config = resolve_config(model_config)
    if config.folds < 2:
        raise ValueError("cross-validation needs folds of at least 2")
    samples = as_trailer_samples(samples)
    samples, embedded, embedding_spec = with_embeddings(samples, model_config, embedding_spec, config.device)
    frames = trailer_frames(_loaded(samples))  # read once: only the fingerprints and the means are kept
    vectors = frame_fingerprints(frames)
    looks = trailer_vectors(frames)  # for the neighbours baseline
    del frames
    groups = near_duplicate_groups(vectors, config.duplicate_threshold, seed=config.random_seed) if vectors else []
    groups = merge_groups([*groups, *known_groups], [s.trailer for s in samples])
    folds = make_folds([s.trailer for s in samples], config.folds, config.random_seed, groups,
                       ratings={s.trailer: s.rating for s in samples})
    by_key = {s.trailer: s for s in samples}
    baseline_config = None
    if fits_single_frame_baseline(config, model_config):
        baseline_config = model_config.single_frame()
    fits = cross_validation_fits(config, model_config, len(folds))
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

    results: list[FoldResult] = []
    stop_reason = "completed"
    with remembered_features():  # each trailer's pixel features once, not once per fit and prediction
        for index, test in enumerate(folds):
            done_file = folder / f"fold-{index + 1}.pt" if folder else None
            fingerprint = _fingerprint(model_config, config, test, by_key)
            if done_file is not None and done_file.exists():
                kept = _load_fold(done_file, model_config, device, fingerprint)
                if kept is not None:
                    results.append(kept)
                    continue
            held_out = set(test)
            train = [by_key[k] for k in by_key if k not in held_out]
            test_samples = [by_key[k] for k in test]
            fold_result, cancelled = _run_fold(
                index, train, test_samples, config, model_config, baseline_config,
                embedding_spec=embedding_spec, callback=callback, fits=fits, folder=folder, looks=looks,
                checkpoint_seconds=checkpoint_seconds, groups=groups,
            )
            if cancelled:
                stop_reason = "cancelled"
                break
            if done_file is not None:
                _save_fold(done_file, fold_result, fingerprint)
            results.append(fold_result)
        weight = None
        if (config.neighbour_mix and model_config.uses_embeddings and len(results) > 1 and len(samples) >= MIX_MIN_TRAILERS
                and all(f.near_predictions for f in results)):
            weight = mix_neighbours(results, {s.trailer: s.rating for s in samples}, looks)
        # Only a head on the embeddings scores a trailer from them, so only its members can tell how far one is.
        head_looks = looks if model_config.uses_embeddings else None
        record_residuals(results, {s.trailer: s.rating for s in samples}, weight, head_looks)
        refit = None
        if config.refit and stop_reason == "completed":
            # Named for its trailers and settings: a checkpoint another run left is not resumed.
            checkpoint = folder / f"refit-{_fingerprint(model_config, config, list(by_key), by_key)[:16]}.ckpt" \
                if folder else None
            refit = refit_member(samples, config, model_config, embedding_spec=embedding_spec, callback=callback,
                                 fits=fits, checkpoint=checkpoint, checkpoint_seconds=checkpoint_seconds,
                                 looks=head_looks, weight=weight)
            stop_reason = "completed" if refit is not None else "cancelled"
    return CrossValResult(folds=results, groups=[g for g in groups if len(g) > 1], model_config=model_config,
                          train_config=config, stop_reason=stop_reason, duplicates_checked=bool(vectors),
                          embedded_on_demand=embedded, neighbour_weight=weight, refit=refit)


def refit_member(samples: Sequence[TrailerSample], config: TrainConfig, model_config: LRCNConfig, *,
                 embedding_spec: Any = None, looks: dict[Any, np.ndarray] | None = None, weight: float | None = None,
                 callback: Callback | None = None, fits: int = 1, checkpoint: Path | None = None,
                 checkpoint_seconds: float = 0.0) -> Member | None:
    """A run's last fit (``TrainConfig.refit``): one model on every trailer with the folds' fixed epochs, mixed with
    every trailer's neighbours (their pooled embeddings, ``looks``) in the version's share ``weight``; None if it
    was cancelled."""
    wrapped = None
    if callback is not None:
        def wrapped(progress: Progress):
            return callback(dataclasses.replace(progress, fit=fits, fits=fits, fold=None, role="refit"))
    try:
        result = fit(samples, config, model_config, split=([s.trailer for s in samples], []), callback=wrapped,
                     checkpoint_path=checkpoint, checkpoint_seconds=checkpoint_seconds,
                     resume_from=checkpoint if checkpoint is not None and checkpoint.exists() else None,
                     embedding_spec=embedding_spec)
    except PredictsNoNumber as exc:
        raise PredictsNoNumber(f"the refit on every trailer: {exc}") from None
    if result.stop_reason == "cancelled":
        return None
    if not all(torch.isfinite(t).all() for t in result.model.state_dict().values() if t.is_floating_point()):
        raise PredictsNoNumber("the refit on every trailer diverged (its weights are not numbers); try a lower lr, "
                               "or grad_clip")
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    ratings = {s.trailer: s.rating for s in samples}
    near = _training_neighbours(list(ratings), ratings, looks, weight=weight or 0.0) if looks else None
    return Member(result.model, result.normaliser, near)


def mix_neighbours(folds: Sequence[FoldResult], ratings: dict[Any, float], looks: dict[Any, np.ndarray]) -> float:
    """Mix the head's predictions with the nearest neighbours', in a share chosen on held-out predictions
    (:func:`ml.neighbours.choose_weight`: the smallest within one standard error of the best).

    Each fold's share is chosen on the *other* folds' held-out predictions (of the head and of the neighbours),
    never on its own trailers, and its predictions and "model" figures become the mix; the head's own figures
    stay as "head". (The other folds' heads were trained on this fold's trailers, so its ratings reach the
    choice of one number among five at one remove: a small optimism, far from choosing on the fold itself.)
    The version's share is chosen on every fold's held-out predictions, and each fold's member rates by its
    own training trailers' neighbours in that share. Returns the version's share.
    """
    def choose(chosen_from: Sequence[FoldResult]) -> float:
        keys = [k for f in chosen_from for k in f.test]
        head = {k: v for f in chosen_from for k, v in f.predictions.items()}
        near = {k: v for f in chosen_from for k, v in f.near_predictions.items()}
        return choose_weight([ratings[k] for k in keys], [head[k] for k in keys], [near[k] for k in keys])

    version = choose(folds)
    weights = [choose([f for f in folds if f is not fold]) for fold in folds]  # all chosen before any fold is mixed
    for fold, weight in zip(folds, weights, strict=True):
        held_out = set(fold.test)
        truth = [ratings[k] for k in fold.test]
        train = [k for k in ratings if k not in held_out]
        fold.head_predictions = dict(fold.predictions)
        fold.predictions = {k: float(mixed(fold.head_predictions[k], fold.near_predictions[k], weight))
                            for k in fold.test}
        fold.metrics["head"] = fold.metrics["model"]
        fold.metrics["model"] = _metrics(truth, [fold.predictions[k] for k in fold.test],
                                         float(np.mean([ratings[k] for k in train])))
        fold.neighbour_weight = weight
        fold.member.near = _training_neighbours(train, ratings, looks, weight=version)
    return version


def _training_neighbours(train: Sequence, ratings: dict[Any, float], looks: dict[Any, np.ndarray],
                         weight: float = 0.0) -> NearestTrailers:
    """A fold model's training trailers (``train``), as its neighbours in share ``weight``."""
    return NearestTrailers(np.stack([looks[k] for k in train]), np.array([ratings[k] for k in train]),
                           weight=weight, keys=list(train))


def record_residuals(folds: Sequence[FoldResult], ratings: dict[Any, float], weight: float | None,
                     looks: dict[Any, np.ndarray] | None = None) -> None:
    """Each fold's member keeps its absolute errors on the fold's trailers as the version delivers it: mixed
    with its neighbours in the version's share ``weight`` where there is one (a fold's own predictions were
    mixed in the share chosen without it). Its prediction intervals come from them (``ml.intervals``).

    With the trailers' vectors (``looks``), each member also keeps its training trailers (as its neighbours,
    in share 0 where the run mixes none in) and how far each of its fold's trailers was from them: an
    interval is widened for a trailer farther from them than those were."""
    for fold in folds:
        delivered = fold.predictions
        if weight is not None and fold.head_predictions:
            delivered = {k: float(mixed(fold.head_predictions[k], fold.near_predictions[k], weight)) for k in fold.test}
        fold.member.residuals = np.array([abs(ratings[k] - delivered[k]) for k in fold.test], dtype=np.float64)
        if not looks:
            continue
        if fold.member.near is None:
            held_out = set(fold.test)
            fold.member.near = _training_neighbours([k for k in ratings if k not in held_out], ratings, looks)
        fold.member.scales = fold.member.near.distance(np.stack([looks[k] for k in fold.test]))


def _run_fold(index, train, test, config, model_config, baseline_config, *, embedding_spec, callback, fits,
              folder, looks, checkpoint_seconds: float = 0.0, groups=()) -> tuple[FoldResult, bool]:
    keys = [s.trailer for s in train]
    selects = config.restore_best or config.early_stopping_patience is not None
    if selects:
        # The epoch is chosen on trailers of the training folds only, a near-duplicate group on one side.
        inner = split_by_trailer(keys, config.val_fraction, config.random_seed + index, groups)
        split = (inner.train, inner.val)
    else:
        split = (keys, [s.trailer for s in test])  # held-out learning curves; nothing is chosen on them
    labelled = train + (test if not selects else [])
    rated = {s.trailer: s.rating for s in train}
    baseline = float(np.mean(list(rated.values())))
    truth = [s.rating for s in test]
    metrics: dict[str, dict[str, float | None]] = {
        "mean_baseline": _metrics(truth, [baseline] * len(test), baseline),
    }
    near = {}
    if looks:
        near = predict_neighbours({k: looks[k] for k in rated}, rated, {s.trailer: looks[s.trailer] for s in test})
        metrics["neighbours"] = _metrics(truth, [near[s.trailer] for s in test], baseline)

    def run(role_config, position) -> FitResult | None:
        wrapped = None
        role = "model" if role_config is model_config else "single_frame"
        if callback is not None:
            def wrapped(progress: Progress):
                return callback(dataclasses.replace(progress, fit=position, fits=fits, fold=index + 1, role=role))
        checkpoint = folder / f"fold-{index + 1}-{position}.ckpt" if folder else None
        try:
            result = fit(labelled, config, role_config, split=split,
                         callback=wrapped, checkpoint_path=checkpoint, checkpoint_seconds=checkpoint_seconds,
                         resume_from=checkpoint if checkpoint is not None and checkpoint.exists() else None,
                         embedding_spec=embedding_spec)
        except PredictsNoNumber as exc:
            raise PredictsNoNumber(f"fold {index + 1}: {exc}") from None
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
        return None if result.stop_reason == "cancelled" else result

    per_fold = 2 if baseline_config else 1
    result = run(model_config, index * per_fold + 1)
    if result is None:
        return None, True  # type: ignore[return-value]
    member = Member(result.model, result.normaliser)
    predictions = predict_samples([member], test, model_config, config.frames_per_sample)
    if not all(math.isfinite(value) for value in predictions.values()):
        raise PredictsNoNumber(f"fold {index + 1}: training diverged: the model predicts no number for its held-out "
                               "trailers (its loss stayed finite while its weights did not); try a lower lr, or "
                               "grad_clip")
    metrics["model"] = _metrics(truth, [predictions[s.trailer] for s in test], baseline)
    if baseline_config is not None:
        single = run(baseline_config, index * per_fold + 2)
        if single is None:
            return None, True  # type: ignore[return-value]
        single_predictions = predict_samples([Member(single.model, single.normaliser)], test, baseline_config,
                                             config.frames_per_sample)
        metrics["single_frame"] = _metrics(truth, [single_predictions[s.trailer] for s in test], baseline)
    history = [{**m, "fold": index + 1} for m in result.history]
    return FoldResult(index=index, test=[s.trailer for s in test], train_count=len(train), metrics=metrics,
                      predictions=predictions, member=member, history=history, near_predictions=near), False


# --------------------------------------------------------------------------- scoring


@torch.no_grad()
def subclip_scores(members: Sequence[Member], sources: Sequence[Any], model_config: LRCNConfig,
                   frames_per_sample: int, *, batch_size: int = 32) -> np.ndarray:
    """Every member's rating for every subclip: (members, subclips), in rating units.

    ``sources`` are embeddings (T, D) for a frozen pretrained encoder, else frames (T, H, W, 3) uint8.
    """
    if model_config.uses_embeddings:
        prepared = [prepare_embeddings(np.asarray(s), frames_per_sample) for s in sources]
    else:
        prepared = [prepare_frames(np.asarray(s), frames_per_sample, model_config.frame_size) for s in sources]
    out = np.empty((len(members), len(prepared)), dtype=np.float64)
    for m, member in enumerate(members):
        model = member.model.eval()
        device = next(model.parameters()).device
        forward = model.head if model_config.uses_embeddings else model
        values = []
        for start in range(0, len(prepared), batch_size):
            chunk = prepared[start:start + batch_size]
            x = torch.stack([p for p, _ in chunk]).to(device)
            lengths = torch.tensor([n for _, n in chunk], device=device)
            values.append(forward(x, lengths).float().cpu())
        out[m] = member.normaliser.unscale(torch.cat(values).double().numpy())
    return out


def trailer_vector(members: Sequence[Member], sources: Sequence[Any]) -> np.ndarray | None:
    """The trailer's vector as its members' neighbours compare it: its subclips' head inputs' first columns
    (the encoder's embeddings), pooled as theirs were (``ml.neighbours.pooled``); None when no member has
    neighbours."""
    near = next((m.near for m in members if m.near is not None), None)
    if near is None or any(np.ndim(s) != 2 or np.shape(s)[1] < near.width for s in sources):
        return None  # no neighbours, or frames rather than a head's inputs
    return pooled(np.concatenate([np.asarray(s)[:, :near.width] for s in sources]), near.pooling)


def with_neighbours(members: Sequence[Member], scores: np.ndarray, sources: Sequence[Any]) -> np.ndarray:
    """One trailer's (members, subclips) scores, each member's mixed with its neighbours' rating of the
    trailer in their share (``Member.near``); ``sources`` are its subclips' head inputs, whose first columns
    are the encoder's embeddings (averaged, they are the trailer's vector)."""
    if not any(m.near is not None and m.near.weight for m in members):
        return scores
    vector = trailer_vector(members, sources)
    out = scores.copy()
    for row, member in enumerate(members):
        if member.near is not None and member.near.weight:
            out[row] = mixed(scores[row], member.near.predict(vector)[0], member.near.weight)
    return out


def trailer_distances(members: Sequence[Member], vector: np.ndarray | None) -> list[float] | None:
    """How far a trailer's ``vector`` (:func:`trailer_vector`) sits from each member's training trailers; None
    unless every member knows its own and how far its fold's trailers sat from them."""
    if vector is None or not members or any(m.near is None or m.scales is None or not len(m.scales) for m in members):
        return None
    return [float(m.near.distance(vector)[0]) for m in members]


def trailer_interval(members: Sequence[Member], predictions: Sequence[float], distances: Sequence[float] | None,
                     point: float | None = None) -> tuple[float, float] | None:
    """The interval a trailer's rating should fall in (``ml.intervals.cv_plus``), from each member's
    ``predictions`` of it, widened by its ``distances`` (:func:`trailer_distances`) where they are known. ``point``:
    the version's prediction where it is not the members' mean (a refit's); the interval moves with it, its width
    unchanged."""
    interval = cv_plus(predictions, [m.residuals for m in members],
                       scales=[m.scales for m in members] if distances is not None else None, distances=distances)
    if interval is None or point is None:
        return interval
    shift = point - float(np.mean(predictions))
    return interval[0] + shift, interval[1] + shift


def trailer_novelty(members: Sequence[Member], distances: Sequence[float] | None) -> float | None:
    """How unlike the trailers the version learnt from a trailer looks: its distance from each member's training
    trailers over the median distance of that member's fold trailers from them, averaged over members (1: as
    unlike as a typical trailer was in cross-validation); None where the ``distances`` are not known, or a median
    is 0 or either is not a number (the interval is then plain CV+ too)."""
    if distances is None:
        return None
    medians = [float(np.median(m.scales)) for m in members]
    if not all(np.isfinite(d) and np.isfinite(m) and m > 0 for d, m in zip(distances, medians, strict=True)):
        return None
    return float(np.mean([d / m for d, m in zip(distances, medians, strict=True)]))


def predict_samples(members: Sequence[Member], samples: Sequence[TrailerSample], model_config: LRCNConfig,
                    frames_per_sample: int) -> dict[Any, float]:
    """Each trailer's prediction: the members' mean over its subclips (mixed with their neighbours' rating
    where they have them), averaged over members."""
    return {key: float(values.mean()) for key, values in
            member_predictions(members, samples, model_config, frames_per_sample).items()}


def member_predictions(members: Sequence[Member], samples: Sequence[TrailerSample], model_config: LRCNConfig,
                       frames_per_sample: int) -> dict[Any, np.ndarray]:
    """Each trailer's prediction by each member, (members,): its mean over the trailer's subclips, mixed with
    its neighbours' rating where it has them."""
    sources, spans = [], {}
    for sample in samples:
        if model_config.uses_embeddings:
            items = sample_head_inputs(sample, **pixel_options(model_config))
        else:
            items = [load_frames(p, mmap=True) for p in sample.subclips]
        spans[sample.trailer] = slice(len(sources), len(sources) + len(items))
        sources.extend(items)
    scores = subclip_scores(members, sources, model_config, frames_per_sample)
    return {key: with_neighbours(members, scores[:, span], sources[span]).mean(axis=1) for key, span in spans.items()}


# --------------------------------------------------------------------------- folds and groups


FINGERPRINT_FRAMES = 24   # frames per trailer compared when looking for near-duplicates
CANDIDATE_COSINE = 0.7    # pairs whose mean embeddings are less alike than this are not compared frame by frame
BACKGROUND_SAMPLE = 32    # others each trailer is compared with to learn how alike the dataset's trailers are
STANDOUT = 1 / 3          # a pair this much closer than the dataset's typical pair shares footage


def frame_fingerprints(frames: dict[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """Each trailer's unit-length frame embeddings, at most FINGERPRINT_FRAMES spread over its subclips, from
    its frame embeddings (``ml.embeddings.trailer_frames``)."""
    prints = {}
    for trailer, rows in frames.items():
        rows = rows[select_frame_indices(rows.shape[0], FINGERPRINT_FRAMES)]
        prints[trailer] = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return prints


def duplicate_score(a: np.ndarray, b: np.ndarray) -> float:
    """How much of one trailer's footage is in the other: the median best frame match, the better way round."""
    similar = a @ b.T
    return float(max(np.median(similar.max(axis=1)), np.median(similar.max(axis=0))))


def near_duplicate_groups(fingerprints: dict[Any, np.ndarray], threshold: float, *, seed: int = 0) -> list[list]:
    """Trailers that share footage, in groups: every trailer in exactly one group (most alone).

    A pair *matches* when its :func:`duplicate_score` is at least ``threshold``, or when it stands out
    from how alike the dataset's trailers are: its distance (1 − score) at most STANDOUT times the
    two trailers' typical distance (1 − the median of their scores against BACKGROUND_SAMPLE others).
    Groups then merge, best-scoring pair first, when more than half of their cross pairs match
    (average linkage). ``fingerprints`` are unit-length frame embeddings (F, D) per trailer (a single
    vector (D,) counts as one frame).

    Average rather than single linkage: on trailers of one look, single linkage chains look-alikes
    (a ≈ b ≈ c …) into one group that swallows most of the dataset; copies of the same footage match
    each other all round, so they still end up together."""
    keys = list(fingerprints)
    if not keys:
        return []
    prints = [np.atleast_2d(fingerprints[k]) for k in keys]
    n = len(prints)
    scores: dict[tuple[int, int], float] = {}

    def score(i: int, j: int) -> float:
        pair = (min(i, j), max(i, j))
        if pair not in scores:
            scores[pair] = duplicate_score(prints[i], prints[j])
        return scores[pair]

    rng = np.random.default_rng(seed)
    typical = np.ones(n)
    for i in range(n):
        others = np.delete(np.arange(n), i)
        if others.size:
            sample = rng.choice(others, min(BACKGROUND_SAMPLE, others.size), replace=False)
            typical[i] = np.median([score(i, int(j)) for j in sample])

    def match(i: int, j: int) -> bool:
        distance, background = 1.0 - score(i, j), 1.0 - (typical[i] + typical[j]) / 2
        return distance <= 1.0 - threshold or distance <= STANDOUT * background

    means = np.stack([p.mean(axis=0) for p in prints])
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    candidates = np.triu(means @ means.T >= min(threshold, CANDIDATE_COSINE), k=1)
    pairs = sorted(((score(int(i), int(j)), int(i), int(j)) for i, j in zip(*np.nonzero(candidates), strict=True)),
                   reverse=True)
    group_of = {i: (i,) for i in range(n)}
    for _, i, j in pairs:
        a, b = group_of[i], group_of[j]
        if a is b or not match(i, j):
            continue
        if np.mean([match(x, y) for x in a for y in b]) > 0.5:
            merged = a + b
            for member in merged:
                group_of[member] = merged
    unique = {id(g): g for g in group_of.values()}
    return [[keys[i] for i in sorted(g)] for g in sorted(unique.values(), key=min)]


def merge_groups(groups: Iterable[Iterable[Hashable]], keys: Iterable[Hashable]) -> list[list]:
    """Groups of ``keys`` joined wherever two share a trailer (keys outside ``keys`` are dropped); every key
    ends in exactly one group, most of them alone, in the order of ``keys``."""
    keys = list(keys)
    known = set(keys)
    parent = {k: k for k in keys}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for group in groups:
        members = [g for g in group if g in known]
        for other in members[1:]:
            parent[root(other)] = root(members[0])
    joined: dict[Hashable, list] = {}
    for key in keys:
        joined.setdefault(root(key), []).append(key)
    return list(joined.values())


def make_folds(keys: Iterable[Hashable], k: int, seed: int, groups: Iterable[Iterable[Hashable]] = (),
               ratings: dict[Hashable, float] | None = None) -> list[list]:
    """Split trailer keys into ``k`` folds of near-equal size, never splitting a group.

    Units (groups and lone trailers) are dealt out in rounds: each round gives every fold one unit, the
    largest unit to the fold with fewest trailers (ties broken by a seeded shuffle). With ``ratings``
    (trailer → rating) the units are dealt in order of their mean rating, so each round holds units of
    like rating and every fold gets its share of low, middle and high ratings (stratified folds): units
    next to each other in rating land in different folds (among units of one size), so a fold seldom holds
    all of a rare kind, which would leave its model without any of it and make the estimate more
    pessimistic than the model the run delivers. Deterministic for the same keys, groups,
    ratings and seed. Fewer units than ``k`` give as many folds as there are units; fewer than 2 is an
    error.
    """
    keys = sorted(set(keys), key=lambda x: (type(x).__name__, x))
    owner: dict[Hashable, int] = {}
    units: list[list] = []
    for group in groups:
        members = [g for g in group if g in set(keys) and g not in owner]
        if members:
            for g in members:
                owner[g] = len(units)
            units.append(sorted(members, key=lambda x: (type(x).__name__, x)))
    for key in keys:
        if key not in owner:
            owner[key] = len(units)
            units.append([key])
    if len(units) < 2:
        raise ValueError(f"cross-validation needs at least 2 trailers that are not copies of each other, "
                         f"found {len(units)}")
    k = min(k, len(units))
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(units)))
    if ratings is not None:
        order.sort(key=lambda i: float(np.mean([ratings[key] for key in units[i]])))  # stable: shuffled ties
        rounds = [order[start:start + k] for start in range(0, len(order), k)]
    else:
        rounds = [order]  # one round: size alone decides
    folds: list[list] = [[] for _ in range(k)]
    tie = rng.permutation(k)
    for dealt in rounds:
        open_folds = set(range(k))
        for i in sorted(dealt, key=lambda i: -len(units[i])):  # stable: the shuffle breaks ties
            fold = min(open_folds, key=lambda f: (len(folds[f]), tie[f]))
            folds[fold].extend(units[i])
            if ratings is not None:
                open_folds.discard(fold)
    return [sorted(f, key=lambda x: (type(x).__name__, x)) for f in folds]


# --------------------------------------------------------------------------- helpers


def _loaded(samples: Sequence[TrailerSample]) -> list[TrailerSample]:
    """The samples with their cached embeddings read (for finding duplicates), when every subclip has them."""
    if not all(s.embeddings and all(e is not None for e in s.embeddings) for s in samples):
        return list(samples)
    return [dataclasses.replace(s, embeddings=tuple(e if isinstance(e, np.ndarray) else load_embeddings(e)
                                                    for e in s.embeddings)) for s in samples]


def average_histories(histories: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per-epoch metrics averaged over folds (numbers only; an epoch some folds lack averages the rest)."""
    by_epoch: dict[int, list[dict[str, Any]]] = {}
    for history in histories:
        for metrics in history:
            by_epoch.setdefault(metrics["epoch"], []).append(metrics)
    out = []
    for epoch in sorted(by_epoch):
        rows = by_epoch[epoch]
        merged: dict[str, Any] = {"epoch": epoch, "folds": len(rows)}
        for name in rows[0]:
            if name in ("epoch", "fold"):
                continue
            values = [r.get(name) for r in rows if isinstance(r.get(name), int | float)]
            merged[name] = float(np.mean(values)) if values else None
        out.append(merged)
    return out


def _metrics(truth: Sequence[float], predicted: Sequence[float], baseline: float) -> dict[str, float | None]:
    m = regression_metrics(truth, predicted, baseline=baseline)
    return {"mae": m["mae"], "rmse": m["rmse"], "spearman": m["spearman"]}


def _mean_sd(values: Sequence[float | None]) -> dict[str, float | None]:
    real = [v for v in values if v is not None]
    if not real:
        return {"mean": None, "sd": None}
    return {"mean": float(np.mean(real)), "sd": float(np.std(real, ddof=1)) if len(real) > 1 else 0.0}


def _fingerprint(model_config: LRCNConfig, config: TrainConfig, test: Sequence, by_key: dict) -> str:
    """What a finished fold depends on: the configs (less what may change on resume), its trailers and labels."""
    train = {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES}
    train.pop("refit", None)  # a fold is the same fold with or without the refit after it (and folds kept before it)
    train["seed"] = train.pop("random_seed")  # its name before the rename: folds finished before it still count
    labels = sorted((str(k), s.rating, len(s.subclips)) for k, s in by_key.items())
    text = json.dumps([model_config.to_dict(), train, sorted(map(str, test)), labels], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _save_fold(path: Path, fold: FoldResult, fingerprint: str) -> None:
    save_checkpoint(path, {
        "format": FOLD_FORMAT, "version": 1, "fingerprint": fingerprint, "index": fold.index,
        "test": list(fold.test), "train_count": fold.train_count, "metrics": fold.metrics,
        "predictions": [[k, v] for k, v in fold.predictions.items()],
        "near_predictions": [[k, v] for k, v in fold.near_predictions.items()],
        "model_state": {k: v.detach().cpu() for k, v in fold.member.model.state_dict().items()},
        "normaliser": fold.member.normaliser.to_dict(), "history": fold.history,
    })


def _load_fold(path: Path, model_config: LRCNConfig, device: str | None, fingerprint: str) -> FoldResult | None:
    """A finished fold kept by an earlier call, or None when it belongs to other settings or data (or is
    damaged): that fold is trained again."""
    try:
        data = load_saved(path, FOLD_FORMAT, "finished fold")
    except ValueError:
        return None
    if data.get("fingerprint") != fingerprint:
        return None
    model = build_model(model_config)
    model.load_state_dict(data["model_state"])
    model.to(resolve_device(device or "auto")).eval()
    return FoldResult(
        index=data["index"], test=list(data["test"]), train_count=data["train_count"], metrics=data["metrics"],
        predictions={k: v for k, v in data["predictions"]}, member=Member(model, Normaliser.from_dict(data["normaliser"])),
        history=list(data["history"]), near_predictions={k: v for k, v in data.get("near_predictions") or []},
    )

