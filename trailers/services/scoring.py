"""Scoring: apply a model version to trailers' subclips and keep one Prediction per (version, trailer).

The model file, frames and embeddings are read from local copies (``trailers.store``): with an object store,
the worker's cache, so a GPU worker scoring trailer after trailer fetches the model once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import lru_cache

from django.db import transaction
from django.utils import timezone

from ml.config import sampled_snippets
from trailers import selectors, store
from trailers.models import ModelVersion, Prediction, Trailer

from .ratings import keep_errors
from .summaries import keep_prediction_summary, mark_summaries_stale

log = logging.getLogger(__name__)

SCORING_CHUNK = 500  # trailers read, and predictions written, per statement
RATING_SCALE = (1.0, 10.0)  # where a rating can lie: an interval reaching past it says no more than its ends


def _on_scale(value: float | None) -> float | None:
    return None if value is None else min(max(value, RATING_SCALE[0]), RATING_SCALE[1])


@lru_cache(maxsize=2)
def _loaded_model(weights_path: str):
    # Once per worker process and model file (a cached copy's path names its content), not once per trailer.
    # Imported here: it loads torch, which web processes (they only enqueue scoring) do not need.
    from ml.predict import load_model

    return load_model(weights_path, device="auto")


def score_trailers(*, model_version_id: int, trailer_ids: list[int] | None = None) -> int:
    """Score the given ready trailers (or every ready trailer not yet scored by this version).

    Returns how many predictions were written.
    """
    started = timezone.now()
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        log.info("model version %s no longer exists; nothing to score", model_version_id)
        return 0
    if trailer_ids is None:
        trailers = selectors.unscored_trailers(model_version=version)
    else:
        trailers = Trailer.objects.filter(status=Trailer.Status.READY, pk__in=trailer_ids)
    trailers = trailers.prefetch_related("subclips")
    from ml.predict import score_frame_files, score_video  # loads torch: see _loaded_model
    from ml.video import VideoError

    try:
        with store.local_copy(version.weights.name) as weights:
            model = _loaded_model(str(weights))
    except (OSError, ValueError, RuntimeError) as exc:  # weights gone, damaged, or for another encoder
        log.error("model version %s cannot be loaded, so nothing was scored: %s", version.number, exc)
        return 0
    # A frozen encoder's head reads the cached embeddings made the way the model's were (others: on demand).
    wanted = model.embedding if model.model_config.uses_embeddings else None
    standing = selectors.run_standing(version)  # kept on each prediction: what the version knew of the trailer
    # The snippets of the frames the model trained on (older versions may say otherwise in their options).
    trained_on = sampled_snippets(model.sampling) or model.model_config.snippet_frames
    written = 0
    chunk: list[Prediction] = []
    for trailer in trailers.iterator(chunk_size=SCORING_CHUNK):
        subclips = list(trailer.subclips.all())
        if not subclips:
            continue
        held = sampled_snippets(subclips[0].sampling)  # a trailer's subclips are sampled alike
        try:
            if held is not None and held != trained_on:
                # Motion read within snippets its frames do not hold would be made up: the video is sampled again,
                # the way the model's training frames were (SAMPLING_SNIPPET_FRAMES changed since it was cut).
                log.info("trailer %s's frames were sampled in snippets of %s, but version %s reads motion within "
                         "snippets of %s: scored from its video", trailer.pk, held, version.number, trained_on)
                with store.local_copy(trailer.file.name) as video:
                    scores = score_video(model, video)
            else:
                cached = [s.embeddings.name if wanted and s.embeddings and s.embedding == wanted else None
                          for s in subclips]
                names = [s.frames.name for s in subclips] + [name for name in cached if name]
                with store.local_copies(names) as paths:
                    local = dict(zip(names, map(str, paths), strict=True))
                    scores = score_frame_files(model, [local[s.frames.name] for s in subclips],
                                               embeddings=[local[name] if name else None for name in cached],
                                               embedding_spec=wanted)
        except (OSError, ValueError, VideoError) as exc:
            # Its frames changed under us (preprocessed again), or its video cannot serve: the next run scores it.
            log.warning("trailer %s was not scored with version %s: %s", trailer.pk, version.number, exc)
            continue
        chunk.append(Prediction(model_version=version, trailer=trailer, score=scores.mean, spread=scores.spread,
                                uncertainty=scores.uncertainty, low=_on_scale(scores.low), high=_on_scale(scores.high),
                                novelty=scores.novelty,
                                subclip_scores=list(scores.per_subclip),
                                **asdict(standing.of(trailer.pk))))
        if len(chunk) >= SCORING_CHUNK:
            written += write_predictions(predictions=chunk)
            chunk = []
            # Its prediction count (kept with its figures) follows a long pass: the sweep makes them again.
            mark_summaries_stale(model_version_id=version.pk)
    written += write_predictions(predictions=chunk)
    if trailer_ids is None:
        keep_prediction_summary(model_version=version)  # it has scored everything: its figures, once
        if not selectors.unscored_trailers(model_version=version).exists():
            ModelVersion.objects.filter(pk=version.pk, scored_at__isnull=True).update(scored_at=started)
    elif written:
        mark_summaries_stale(model_version_id=version.pk)  # a few more: the sweep brings the figures up to date
    return written


def write_predictions(*, predictions: list[Prediction]) -> int:
    """Insert these predictions, or overwrite the version's earlier prediction of the same trailer: one statement
    per chunk (a trailer deleted meanwhile is left out rather than failing the chunk)."""
    if not predictions:
        return 0
    with transaction.atomic():
        # The trailers are locked (in id order, as rating writers lock them) until each error is set from its mean.
        ids = set(Trailer.objects.select_for_update(no_key=True).filter(pk__in=[p.trailer_id for p in predictions])
                  .order_by("pk").values_list("pk", flat=True))
        kept = [p for p in predictions if p.trailer_id in ids]
        Prediction.objects.bulk_create(
            kept, update_conflicts=True, unique_fields=["model_version", "trailer"],
            update_fields=["score", "spread", "uncertainty", "low", "high", "novelty", "subclip_scores", "trained",
                           "held_out_score", "baseline"],
        )
        versions = {p.model_version_id for p in kept}
        for version_id in versions:
            keep_errors(trailer_ids=sorted(ids), model_version_id=version_id)
    return len(kept)
