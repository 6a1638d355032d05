"""Training runs: start one, run it on a worker (resuming after a crash), cancel it.

A run freezes its dataset (which trailers, which labels, which side of the split)
the first time a worker picks it up, so later ratings do not change it. While it
trains, the worker reports progress and a heartbeat to the row; a run whose
heartbeat stops is shown as stale and handed to the next worker by the sweep.
Only the worker holding the run's claim may write to it.

Checkpoints live in the media store (``trailers.store.Mirror``): a worker trains on a local folder and puts
every epoch's checkpoint in the store, so a run whose worker died resumes on another machine from its last
epoch. The frames and embeddings it reads are local copies (the worker's cache, with an object store).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from billiard import current_process as billiard_process
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Avg, Count, Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from ml.config import LRCNConfig, TrainConfig, reading_snippets, sampled_snippets
from ml.embeddings import EncoderError, installed_spec
from trailers import selectors, store
from trailers.errors import ServiceError
from trailers.models import ExcludedRater, ModelVersion, Subclip, Trailer, TrainingRun
from trailers.presets import preset_of
from trailers.selectors_runs import compare_with_active
from trailers.signals import delete_after_commit, delete_stored
from trailers.store import StoreUnavailable

from .embeddings import embedding_spec
from .heartbeat import Heartbeat
from .queue import enqueue_training
from .versions import activate_model_version, next_version_number

# TORCH_NOTE: ml.train, ml.crossval, ml.data and ml.predict load torch, which web processes (they start runs
# and never train) must not: the functions a worker runs import them where they use them.
if TYPE_CHECKING:
    from ml.train import Progress

log = logging.getLogger(__name__)

MIN_TRAILERS = 3  # at least two to train on and one to validate with
LOST_COPY_ATTEMPTS = 3  # a cache folder deleted under a run: fetched again this many times at most
HEARTBEAT_SECONDS = 1.0
EPOCH_SAVE_SECONDS = 5.0  # a run's checkpoint, and its curves with it, at most this often (and after a fit's last epoch)


class TrainingSetupError(ServiceError):
    """A run that cannot start; the message says why in plain words."""

    code = "cannot_start"


class LostClaim(Exception):
    """Another worker took this run over (it thought this one dead), or it was cancelled as stale; stop quietly."""


def _held(run_pk: int, token: str):
    """The run, as a queryset, while this worker still holds it (running, with this worker's claim)."""
    return TrainingRun.objects.filter(pk=run_pk, worker=token, status=TrainingRun.Status.RUNNING)


def labelled_trailers(*, label_source: str, min_ratings: int = 1, trailer_ids=None) -> dict[int, float]:
    """Ready trailers with a label from ``label_source``: {trailer id: label}."""
    trailers = Trailer.objects.filter(Exists(Subclip.objects.filter(trailer=OuterRef("pk"))),
                                      status=Trailer.Status.READY)
    if trailer_ids:
        trailers = trailers.filter(pk__in=trailer_ids)
    if label_source == TrainingRun.LabelSource.REFERENCE:
        rows = trailers.filter(reference_score__isnull=False).values_list("pk", "reference_score")
    elif ExcludedRater.objects.exists():
        # Raters staff left out (the raters page) count in neither the mean nor the number of ratings.
        kept = ~Q(ratings__user__in=ExcludedRater.objects.values("user"))
        rows = (trailers.annotate(n=Count("ratings", distinct=True, filter=kept),
                                  mean=Avg("ratings__score", filter=kept))
                .filter(n__gte=max(1, min_ratings)).values_list("pk", "mean"))
    else:  # nobody is left out: the trailers' rating counters (trailers/services/ratings.py keeps them)
        rows = trailers.filter(rating_count__gte=max(1, min_ratings)).values_list("pk", "mean_rating")
    return {pk: float(label) for pk, label in rows}


def _too_few_message(found: int, *, label_source: str, min_ratings: int) -> str:
    what = ("a reference score" if label_source == TrainingRun.LabelSource.REFERENCE
            else f"at least {min_ratings} rating{'s' if min_ratings != 1 else ''}")
    return (f"Not enough labelled trailers: this run has {found} ready trailer{'s' if found != 1 else ''} "
            f"with {what}, and needs at least {MIN_TRAILERS}.")


def unknown_trailer_ids(trailer_ids: list[int]) -> list[int]:
    """The ids among ``trailer_ids`` that name no trailer (deleted since they were picked), in order."""
    known = set(Trailer.objects.filter(pk__in=trailer_ids).values_list("pk", flat=True)) if trailer_ids else set()
    return sorted(set(trailer_ids) - known)


def _listed_ids(ids: list[int], most: int = 10) -> str:
    """"3, 5, 8", or the first ``most`` and how many more."""
    return ", ".join(map(str, ids[:most])) + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _mixed_snippets(trailer_ids) -> str:
    """Why these trailers cannot train one model, or "" when they can. A model reads motion within the snippets of
    consecutive frames its trailers hold: trailers cut in snippets of different lengths (SAMPLING_SNIPPET_FRAMES
    changed between them) cannot train one, and the reason names the ones cut otherwise than the installation cuts
    them now. Trailers whose sampling is unknown are not counted."""
    cut: dict[int, list[int]] = {}
    for pk, sampling in (Subclip.objects.filter(trailer_id__in=trailer_ids, index=0).order_by("trailer_id")
                         .values_list("trailer_id", "sampling")):
        snippets = sampled_snippets(sampling)
        if snippets is not None:
            cut.setdefault(snippets, []).append(pk)
    if len(cut) < 2:
        return ""
    from .preprocess import sampling_config

    now = sampling_config().snippet_frames

    def frames(n: int) -> str:
        return "single frames" if n == 1 else f"snippets of {n} frames"

    kinds = ", ".join(f"{len(cut[n])} in {frames(n)}" for n in sorted(cut))
    older = sorted(pk for n, pks in cut.items() if n != now for pk in pks)
    return (f"This run's trailers were cut in snippets of different lengths ({kinds}), and a model reads motion "
            f"within one: preprocess again (the trailers admin's “Preprocess again”) the trailers cut otherwise than "
            f"in {frames(now)}, as this installation cuts them now (SAMPLING_SNIPPET_FRAMES): {_listed_ids(older)}.")


def start_training_run(
    *,
    user,
    model_config: LRCNConfig,
    train_config: TrainConfig,
    label_source: str = TrainingRun.LabelSource.USER_MEAN,
    min_ratings: int = 1,
    trailer_ids: list[int] | None = None,
    auto_activate: bool = False,
) -> TrainingRun:
    """Create a run and enqueue it after commit; one with too few labelled trailers, or with trailers cut in
    snippets of different lengths, fails at once. Trailer ids
    that name no trailer are refused (TrainingSetupError on ``trailer_ids``), and no run is made."""
    unknown = unknown_trailer_ids(trailer_ids or [])
    if unknown:
        error = TrainingSetupError(f"No trailer has the id{'s' * (len(unknown) > 1)} {_listed_ids(unknown)} "
                                   "(deleted since?).", code="unknown_trailers")
        error.field = "trailer_ids"
        raise error
    labels = labelled_trailers(label_source=label_source, min_ratings=min_ratings, trailer_ids=trailer_ids)
    found = len(labels)
    mixed = _mixed_snippets(labels)  # checked again when a worker freezes the dataset
    with transaction.atomic():
        run = TrainingRun.objects.create(
            created_by=user if user is not None and user.is_authenticated else None,
            model_config=model_config.to_dict(), train_config=train_config.to_dict(),
            preset=preset_of(model_config.to_dict()),
            label_source=label_source, min_ratings=min_ratings, auto_activate=auto_activate,
            requested_trailer_ids=sorted(trailer_ids or []),
        )  # fmt: skip
        if found < MIN_TRAILERS:
            _finish(run, TrainingRun.Status.FAILED,
                    error=_too_few_message(found, label_source=label_source, min_ratings=min_ratings))
        elif mixed:
            _finish(run, TrainingRun.Status.FAILED, error=mixed)
        else:
            transaction.on_commit(lambda: enqueue_training(run_id=run.pk))
    run.refresh_from_db()
    return run


def fail_runs_whose_workers_keep_dying() -> int:
    """Fail, with the reason, each stale run whose workers died RUN_MAX_ATTEMPTS times in a row without
    finishing an epoch (the run itself kills them: out of memory?), instead of handing it over forever; its
    checkpoint goes. Called by the sweep before it hands stale runs over. Returns how many it failed."""
    stale_before = timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
    doomed = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale_before,
                                        attempts_without_epoch__gte=settings.RUN_MAX_ATTEMPTS)
    failed = 0
    for pk in list(doomed.values_list("pk", flat=True)):
        with transaction.atomic():  # _claim locks the row too: a worker taking it meanwhile wins
            run = TrainingRun.objects.select_for_update().defer(*TrainingRun.LARGE_FIELDS).filter(pk=pk).first()
            if run is None or not run.is_stale or run.attempts_without_epoch < settings.RUN_MAX_ATTEMPTS:
                continue
            log.error("run %s: its workers died %s times without finishing an epoch; failing it", pk,
                      run.attempts_without_epoch)
            _finish(run, TrainingRun.Status.FAILED, error=(
                f"Its worker stopped {run.attempts_without_epoch} times in a row before finishing an epoch (killed, "
                "perhaps for want of memory: a smaller batch, fewer or smaller frames may fit). Nothing more will "
                "be tried; start it again with “New run like this” once the cause is fixed."))
            failed += 1
    return failed


def refuse_deleting_runs(*, run_ids) -> None:
    """ServiceError (409) when one of ``run_ids`` is not finished (``not_finished``: cancel it first) or made a version
    (``made_version``): such a run is kept, as the record of what its version was and of the version's number,
    which is never given again (``next_version_number`` reads it), even once the version is deleted."""
    rows = TrainingRun.objects.filter(pk__in=list(run_ids)).only("pk", "status", "version_number")
    going = rows.exclude(status__in=TrainingRun.FINISHED).order_by("pk").first()
    if going is not None:
        raise ServiceError(f"Run {going.pk} is {going.get_status_display().lower()}: cancel it first, then delete it.",
                           code="not_finished", status=409)
    made = rows.filter(Q(version_number__isnull=False) | Q(model_version__isnull=False)).order_by("pk").first()
    if made is not None:
        raise ServiceError(f"Run {made.pk} made a model version (v{made.version_number}): it is kept as that version's "
                           "record, and only runs that made none are deleted.", code="made_version", status=409)


def delete_runs(*, run_ids) -> int:
    """Delete the finished runs ``run_ids`` that made no version, with everything they kept (curves, frozen dataset,
    estimate, a checkpoint left behind); none of them if one may not go (``refuse_deleting_runs``). Returns how many
    were deleted."""
    with transaction.atomic():
        rows = TrainingRun.objects.select_for_update().filter(pk__in=list(run_ids)).order_by("pk")
        locked = list(rows.values_list("pk", "checkpoint"))
        refuse_deleting_runs(run_ids=[pk for pk, _ in locked])  # under the lock: a run finishing now waits
        for pk, checkpoint in locked:
            delete_after_commit(default_storage, checkpoint)
            _remove_stray_model_files(pk)
        TrainingRun.objects.filter(pk__in=[pk for pk, _ in locked]).delete()
    return len(locked)


def cancel_run(*, run: TrainingRun) -> TrainingRun:
    """Ask a run to stop. A queued or stale run is cancelled at once; a running one stops after its current step
    (one about to make its version makes none: ``_create_version`` asks under the same lock); a finished one is
    left as it is."""
    return _cancel(run)[0]


def _cancel(run: TrainingRun) -> tuple[TrainingRun, bool]:
    """cancel_run, and whether the run had finished when its row was locked (nothing was asked of it then)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        finished = run.is_finished
        if run.status == TrainingRun.Status.QUEUED or run.is_stale:  # no worker is on it
            _finish(run, TrainingRun.Status.CANCELLED, cancel_requested=True)
        elif run.status == TrainingRun.Status.RUNNING:
            TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run.refresh_from_db()
    return run, finished


@dataclass(frozen=True)
class Cancellation:
    """What asking a run to stop came to, in the words the run page and the admin both show."""

    run: TrainingRun
    already_finished: bool  # nothing to cancel

    @property
    def message(self) -> str:
        if self.already_finished:
            return f"{self.run} has already finished ({self.run.get_status_display().lower()})."
        if self.run.status == TrainingRun.Status.CANCELLED:
            return f"{self.run} was cancelled."
        return f"Cancel requested for {self.run}: it stops after its current step."

    @property
    def note(self) -> str:
        """What the admin's history records of it."""
        return "Cancelled." if self.run.status == TrainingRun.Status.CANCELLED else "Cancel requested."


def request_cancel(*, run: TrainingRun, refuse_finished: bool = False) -> Cancellation:
    """Ask ``run`` to stop (cancel_run) unless it has finished, and say what came of it; with ``refuse_finished``
    (the API), a finished run is a refusal instead: ServiceError 409 ``already_finished``."""
    run, finished = _cancel(run)  # finished or not is read under the run's lock: it may finish as it is asked
    if finished:
        done = Cancellation(run=run, already_finished=True)
        if refuse_finished:
            raise ServiceError(done.message, code="already_finished", status=409)
        return done
    return Cancellation(run=run, already_finished=False)


def execute_training_run(*, run_id: int, worker: str = "") -> TrainingRun | None:
    """Train a run to the end on this worker, resuming from its last checkpoint if it has one.

    With ``folds`` ≥ 2 (the default) the run cross-validates (ml.crossval): its figures are held-out ones,
    and its fold models are the version's ensemble; with 1 it fits one model on a validation split.
    """
    token = f"{worker or 'worker'}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
    run = _claim(run_id, token)
    if run is None:
        return None
    # It beats from the claim on: freezing the dataset and fetching its files may take longer than
    # RUN_STALE_AFTER_SECONDS, and a run silent that long would be handed to another worker.
    with Heartbeat(lambda: _held(run.pk, token), every=settings.RUN_STALE_AFTER_SECONDS / 4,
                   name=f"run {run.pk}") as heartbeat:
        return _execute(run, token, heartbeat)


def _execute(run: TrainingRun, token: str, heartbeat: Heartbeat) -> TrainingRun | None:
    from ml.train import describe_device, resolve_device  # loads torch: see TORCH_NOTE

    try:
        samples, split, spec = _dataset(run)
    except TrainingSetupError as exc:
        return _finish(run, TrainingRun.Status.FAILED, error=str(exc), token=token)

    train_config = TrainConfig.saved(run.train_config)
    model_config = LRCNConfig.saved(run.model_config)
    if train_config.num_workers and _in_daemon_process():
        train_config = train_config.replace(num_workers=0)  # a pool process may not start child processes
    cross_validated = train_config.folds >= 2
    # One file for a single fit; a folder (fold files and each fit's checkpoint) for a cross-validation.
    checkpoint_name = f"runs/{run.pk}/cv/" if cross_validated else f"runs/{run.pk}/checkpoint.pt"
    try:
        device = resolve_device(train_config.device)
    except RuntimeError as exc:
        return _finish(run, TrainingRun.Status.FAILED, error=str(exc), token=token)
    checkpoints = store.Mirror(checkpoint_name if cross_validated else f"runs/{run.pk}/", label=f"run-{run.pk}")
    names = _stored_names(samples)
    try:
        for attempt in range(1, LOST_COPY_ATTEMPTS + 1):
            try:
                with store.local_copies(names) as paths:
                    if run.checkpoint:
                        checkpoints.pull()  # the last epoch a worker put in the store (this one, or one that died)
                    local = dict(zip(names, map(str, paths), strict=True))
                    local_samples = [(key, [local[f] for f in frames], label, [local[e] if e else None for e in embeds])
                                     for key, frames, label, embeds in samples]
                    checkpoint_path = checkpoints.folder if cross_validated else checkpoints.folder / "checkpoint.pt"
                    resume_from = checkpoint_path if run.checkpoint and checkpoint_path.exists() else None
                    # Recorded before the first file is written, so that a run cancelled within its first epoch
                    # still takes its (cross-validation) folder with it.
                    TrainingRun.objects.filter(pk=run.pk, worker=token).update(
                        device=str(device), gpu=describe_device(device),
                        resumed_from_epoch=len(run.metrics) if resume_from and run.metrics else None,
                        checkpoint=checkpoint_name,
                    )
                    run.checkpoint = checkpoint_name
                    return _train(run, token, local_samples, split, spec, train_config, model_config, checkpoints,
                                  checkpoint_path, resume_from, paths, heartbeat)
            except store.LocalCopyLost as exc:
                if attempt == LOST_COPY_ATTEMPTS:
                    raise
                # The cache folder went under the run: fetch again, go on from the checkpoint in the store.
                log.warning("run %s: %s; resuming from its last checkpoint", run.pk, exc)
                run.refresh_from_db()
    except StoreUnavailable as exc:
        # Nothing is lost: the run goes back to the queue and starts again (from its checkpoint) once the store
        # is back; the task is retried meanwhile (tasks.py).
        log.warning("training run %s waits for the object store: %s", run.pk, exc)
        _held(run.pk, token).update(status=TrainingRun.Status.QUEUED, worker="", enqueued_at=timezone.now(),
                                    error=f"Waiting for the object store, which cannot be reached ({exc}).",
                                    # not the run's doing (0 after an epoch of this attempt: it stays 0)
                                    attempts_without_epoch=Greatest(F("attempts_without_epoch") - 1, 0))
        raise
    finally:
        checkpoints.remove_local()


def _train(run, token, samples, split, spec, train_config, model_config, checkpoints, checkpoint_path,
           resume_from, paths, heartbeat: Heartbeat) -> TrainingRun | None:
    reporter = _Reporter(run, token, run.checkpoint, heartbeat, checkpoints)
    try:
        if train_config.folds >= 2:
            from ml.crossval import cross_validate  # loads torch: see TORCH_NOTE

            result = cross_validate(samples, train_config, model_config, embedding_spec=spec, callback=reporter,
                                    checkpoint_dir=checkpoint_path, checkpoint_seconds=EPOCH_SAVE_SECONDS)
        else:
            from ml.train import fit  # loads torch: see TORCH_NOTE

            result = fit(samples, train_config, model_config, split=split, callback=reporter,
                         checkpoint_path=checkpoint_path, checkpoint_seconds=EPOCH_SAVE_SECONDS,
                         resume_from=resume_from, embedding_spec=spec)
        if result.stop_reason == "cancelled":
            return _finish(run, TrainingRun.Status.CANCELLED, metrics=reporter.history, token=token)  # every epoch reported
        return _succeed(run, result, token, spec, heartbeat)
    except LostClaim:
        log.warning("run %s was taken over by another worker or cancelled; this one stops", run.pk)
        run.refresh_from_db()
        if run.is_finished and run.checkpoint:  # cancelled while this worker still wrote checkpoints
            delete_stored(default_storage, run.checkpoint)
        return None
    except Exception as exc:
        if _connection_lost(exc):
            # The database went away under the run (restarted, the connection ended): not the run's fault, and it
            # may not be written down now. It goes stale, and the next worker goes on from its checkpoint. (Any
            # other database error, a lock or a timeout, fails the run with it, below.)
            log.warning("run %s lost its database connection (%s): this worker stops; the run is handed over from "
                        "its checkpoint once it is stale", run.pk, exc)
            connection.close()
            return None
        if isinstance(exc, StoreUnavailable) or store.copies_lost(paths):
            raise  # not the run's fault: it waits, or goes on from its checkpoint (execute_training_run)
        log.exception("training run %s failed", run.pk)
        return _finish(run, TrainingRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}", token=token)


# PostgreSQL's codes for a connection that ended: class 08 (connection exception), and the server shut down or
# starting (57P01–57P03). psycopg names none for a connection it found closed.
CONNECTION_ENDED = ("08", "57P01", "57P02", "57P03")


def _connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the worker's database connection ended (not a lock, a timeout or a bad query)."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None)
    if state is None:  # SQLite's "database is locked" names none either: only psycopg's own counts
        return type(cause).__module__.split(".")[0] == "psycopg"
    return state.startswith(CONNECTION_ENDED)


def _stored_names(samples) -> list[str]:
    """Every stored file the samples read (frames and cached embeddings), once each, in order."""
    names = [name for _, frames, _, embeddings in samples for name in (*frames, *(e for e in embeddings if e))]
    return list(dict.fromkeys(names))


# --- the parts -------------------------------------------------------------------------


def _claim(run_id: int, token: str) -> TrainingRun | None:
    """Take the run for this worker unless it is finished, cancelled, or alive on another worker."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_finished:
            return None
        if run.status == TrainingRun.Status.RUNNING and not run.is_stale:
            log.info("run %s is alive on %s; not starting a second copy", run_id, run.worker)
            return None
        if run.cancel_requested:
            _finish(run, TrainingRun.Status.CANCELLED)
            return None
        now = timezone.now()
        TrainingRun.objects.filter(pk=run_id).update(
            status=TrainingRun.Status.RUNNING, worker=token, started_at=run.started_at or now, heartbeat_at=now,
            error="", attempts_without_epoch=F("attempts_without_epoch") + 1,
        )
    run.refresh_from_db()
    return run


def _dataset(run: TrainingRun):
    """The run's frozen dataset as ml samples naming stored files (each subclip's frames, and its cached
    embeddings where they were made the way this installation makes them), its split, and that embedding
    spec; frozen now on the first start."""
    train_config = TrainConfig.saved(run.train_config)
    if not run.dataset:
        from ml.data import split_by_trailer  # loads torch: see TORCH_NOTE

        labels = labelled_trailers(label_source=run.label_source, min_ratings=run.min_ratings,
                                   trailer_ids=run.requested_trailer_ids or None)
        if len(labels) < MIN_TRAILERS:
            raise TrainingSetupError(_too_few_message(len(labels), label_source=run.label_source,
                                                      min_ratings=run.min_ratings))
        if train_config.folds >= 2:  # every trailer is held out once; ml.crossval makes the folds
            run.dataset = [{"trailer": pk, "label": label, "split": "cv"} for pk, label in sorted(labels.items())]
        else:
            split = split_by_trailer(list(labels), train_config.val_fraction, train_config.random_seed)
            val = set(split.val)
            run.dataset = [{"trailer": pk, "label": label, "split": "val" if pk in val else "train"}
                           for pk, label in sorted(labels.items())]
        mixed = _mixed_snippets(labels)
        if mixed:
            raise TrainingSetupError(mixed)
        first = Subclip.objects.filter(trailer_id__in=labels).order_by("pk").first()
        run.sampling = first.sampling if first else {}
        # Motion is read within the snippets the frames hold, whatever the form said (ml.config.reading_snippets);
        # the run's options then show what it read.
        asked = LRCNConfig.saved(run.model_config)
        reading = reading_snippets(asked, run.sampling)
        if reading != asked:
            log.info("run %s reads snippets of %s frames, as its trailers were sampled (its options said %s)",
                     run.pk, reading.snippet_frames, asked.snippet_frames)
            run.model_config = reading.to_dict()
        TrainingRun.objects.filter(pk=run.pk).update(dataset=run.dataset, sampling=run.sampling,
                                                     model_config=run.model_config,
                                                     **TrainingRun.split_sizes(run.dataset))

    spec = _embedding_spec_or_none(LRCNConfig.saved(run.model_config))
    wanted = spec.to_dict() if spec is not None else None
    paths: dict[int, list[str]] = {}
    embeddings: dict[int, list[str | None]] = {}
    for subclip in Subclip.objects.filter(trailer_id__in=[d["trailer"] for d in run.dataset]).order_by("index"):
        paths.setdefault(subclip.trailer_id, []).append(subclip.frames.name)
        cached = subclip.embeddings.name if subclip.embeddings and subclip.embedding == wanted else None
        embeddings.setdefault(subclip.trailer_id, []).append(cached)
    missing = [d["trailer"] for d in run.dataset if d["trailer"] not in paths]
    if missing:
        raise TrainingSetupError(f"Trailers of this run's dataset are gone or have no frames: {missing}.")
    # What the run's page says of the frames it reads, kept once here rather than measured on every view.
    TrainingRun.objects.filter(pk=run.pk).update(frames=selectors.measure_run_frames(run.pk))
    samples = [(d["trailer"], paths[d["trailer"]], d["label"], embeddings[d["trailer"]]) for d in run.dataset]
    split = {"train": [d["trailer"] for d in run.dataset if d["split"] == "train"],
             "val": [d["trailer"] for d in run.dataset if d["split"] == "val"]}
    return samples, split, spec


def _embedding_spec_or_none(model_config: LRCNConfig):
    """The spec of the cached embeddings a run reads: for a pretrained encoder, those made at its frame size
    (others are embedded on demand); for a CNN from scratch, this installation's (they only find duplicates)."""
    try:
        if model_config.pretrained:
            return installed_spec(model_config.encoder, model_config.frame_size)
        return embedding_spec()
    except EncoderError:
        return None  # scratch runs train without; a pretrained run's fit reports the encoder's error


@dataclass
class _Reporter:
    """fit's callback: progress and heartbeat to the row, and the cancel request back."""

    run: TrainingRun
    token: str
    checkpoint_name: str
    heartbeat: Heartbeat
    checkpoints: store.Mirror
    last_beat: float = 0.0
    history: list = field(init=False)  # the run's curves as the epochs report them, saved with each checkpoint

    def __post_init__(self) -> None:
        self.history = list(self.run.metrics)  # a resumed run's, to carry on from

    def __call__(self, progress: Progress) -> bool:
        if self.heartbeat.lost.is_set():
            raise LostClaim
        fields = {"progress": progress.fraction, "epoch": progress.epoch, "heartbeat_at": timezone.now()}
        now = time.monotonic()
        if progress.kind == "epoch" and progress.role == "model":  # the single-frame baseline's are not the curves
            # This fit's whole history, as it stands: a fit resumed from a checkpoint saved just before its worker
            # died brings back the epoch that worker never got to report.
            fold = {"fold": progress.fold} if progress.fold else {}
            self.history = [m for m in self.history if m.get("fold") != progress.fold] + [
                {**m, **fold} for m in progress.history]
        # The curves are saved with the checkpoint they belong to, whole, when fit writes one (``Progress.saved``:
        # at most every EPOCH_SAVE_SECONDS, and after each fit's last epoch): on cached embeddings a head runs
        # dozens of epochs a second, and saving each one rewrote the run's whole history every time.
        if progress.kind == "epoch" and progress.saved:
            if progress.role == "model":
                self.run.metrics = fields["metrics"] = self.history
            fields["checkpoint"] = self.checkpoint_name
            fields["attempts_without_epoch"] = 0
            self._push_checkpoints()
        elif now - self.last_beat < HEARTBEAT_SECONDS:
            return self._cancel_requested()
        self.last_beat = now
        if not _held(self.run.pk, self.token).update(**fields):
            raise LostClaim
        return self._cancel_requested()

    def _push_checkpoints(self) -> None:
        # The epoch's checkpoint goes to the store, so another machine can resume from it. A store that is
        # away only delays that: training goes on, and the next epoch tries again.
        try:
            self.checkpoints.push()
        except StoreUnavailable as exc:
            log.warning("run %s: this epoch's checkpoint is not in the store yet: %s", self.run.pk, exc)

    def _cancel_requested(self) -> bool:
        return bool(TrainingRun.objects.filter(pk=self.run.pk).values_list("cancel_requested", flat=True).first())


def _remove_stray_model_files(run_pk: int, *, keep: str = "") -> None:
    """After the transaction commits, delete the model files named for run ``run_pk`` that no version names (but
    ``keep``): a worker killed while it published the run's model left one. Called where nothing else can be
    publishing one for the run: as its version is made, under its claim, and as it is deleted."""
    try:
        with store.unavailable_as_error():
            _, names = default_storage.listdir("models")
    except (FileNotFoundError, NotADirectoryError, StoreUnavailable):
        return  # no models yet, or a store that is away: what an earlier attempt left stays
    ours = {f"models/{name}" for name in names if name.startswith(f"run-{run_pk}-")} - {keep}
    named = set(ModelVersion.objects.filter(weights__in=ours).values_list("weights", flat=True))
    for name in sorted(ours - named):
        log.warning("run %s: removing %s, which an earlier attempt of it left", run_pk, name)
        delete_after_commit(default_storage, name)


def _succeed(run: TrainingRun, result, token: str, spec, heartbeat: Heartbeat) -> TrainingRun:
    from ml.crossval import CrossValResult  # loads torch: see TORCH_NOTE
    from ml.predict import save_model_file  # loads torch: see TORCH_NOTE

    weights_name = f"models/run-{run.pk}-{uuid.uuid4().hex[:8]}.pt"
    uses_embeddings = result.model_config.uses_embeddings
    work = store.work_folder(f"run-{run.pk}-model")
    try:
        local = save_model_file(work / "model.pt", result, sampling=run.sampling,
                                embedding=spec if uses_embeddings else None)
        _publish_patiently(local, weights_name, heartbeat)  # in the store before the version names it
    finally:
        store.remove_work_folder(work)
    config = {"model": result.model_config.to_dict(), "train": result.train_config.to_dict(),
              "sampling": run.sampling, "embedding": spec.to_dict() if uses_embeddings and spec else None}
    cross_validation: dict = {}
    if isinstance(result, CrossValResult):
        cross_validation = result.estimate()
        metrics = version_metrics(cross_validation)
        history = run.metrics
    else:
        metrics = {**(result.best_metrics or {}), **result.metrics(), "estimate": "validation split"}
        history = result.history
        config["normaliser"] = result.normaliser.to_dict()
    try:
        if _create_version(run, token, weights_name, config, metrics, history, cross_validation) is None:
            delete_stored(default_storage, weights_name)  # cancelled at the end: no version holds it
    except BaseException:
        delete_stored(default_storage, weights_name)  # no version holds it
        raise
    run.refresh_from_db()
    return run


def _publish_patiently(local, name: str, heartbeat: Heartbeat) -> None:
    """Store the model file, waiting out an object store that is briefly away (the heartbeat keeps the run
    alive meanwhile): the hours of training it holds are not thrown away for a restart of the store."""
    delay, waited = 2.0, 0.0
    while True:
        try:
            store.publish(local, name)
            return
        except StoreUnavailable as exc:
            if waited >= settings.STORE_PATIENCE_SECONDS or heartbeat.lost.is_set():
                raise
            log.warning("the model file waits for the object store (%s); trying again in %.0f s", exc, delay)
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 30.0)


def version_metrics(estimate: dict) -> dict:
    """A cross-validated version's headline figures (held-out, mean over folds) from its run's estimate.

    ``val_mae``, ``val_rmse``, ``val_spearman`` and ``baseline_*`` keep the names the pages and the API have
    always read; they are the cross-validated figures here.
    """
    summary = estimate.get("summary", {})

    def mean(role: str, name: str):
        return ((summary.get(role) or {}).get(name) or {}).get("mean")

    def sd(role: str, name: str):
        return ((summary.get(role) or {}).get(name) or {}).get("sd")

    return {
        "estimate": "cross-validated", "folds": estimate.get("folds"), "ensemble": estimate.get("folds"),
        "trailers": estimate.get("trailers"),
        "val_mae": mean("model", "mae"), "val_mae_sd": sd("model", "mae"),
        "val_rmse": mean("model", "rmse"), "val_spearman": mean("model", "spearman"),
        "baseline_mae": mean("mean_baseline", "mae"), "baseline_rmse": mean("mean_baseline", "rmse"),
        "single_frame_mae": mean("single_frame", "mae"), "single_frame_rmse": mean("single_frame", "rmse"),
        "neighbours_mae": mean("neighbours", "mae"), "head_mae": mean("head", "mae"),
        "neighbour_weight": estimate.get("neighbour_weight"),
        "near_duplicate_groups": len(estimate.get("groups", [])),
        # One more model fit on every trailer makes the version's predictions; the fold models, the rest.
        "refit": bool(estimate.get("refit")),
    }


def auto_activate(*, version: ModelVersion) -> bool:
    """Activate ``version`` if it beats the active one on the same held-out trailers (or none is active).

    The comparison is saved in the version's metrics, whatever it decides.
    """
    comparison = compare_with_active(version)
    ModelVersion.objects.filter(pk=version.pk).update(metrics={**version.metrics, "comparison": comparison})
    version.refresh_from_db()
    if comparison["decision"] == "activate":
        activate_model_version(model_version=version)
        return True
    return False


def _create_version(run: TrainingRun, token: str, weights_name: str, config: dict, metrics: dict,
                    history: list, cross_validation: dict) -> ModelVersion | None:
    """The run's model version (activated, with ``auto_activate``, when it wins) and the run marked succeeded,
    in one transaction, while this worker holds it; None, and the run cancelled, where a cancel was accepted as its
    last step ended."""
    for _ in range(5):
        try:
            with transaction.atomic():
                held = _held(run.pk, token).select_for_update().values_list("cancel_requested", flat=True).first()
                if held is None:
                    raise LostClaim
                if held:  # a cancel accepted as the last step ended: it is honoured, and no version is made
                    _finish(run, TrainingRun.Status.CANCELLED, metrics=history, token=token)
                    return None
                version = ModelVersion.objects.create(run=run, number=next_version_number(), weights=weights_name,
                                                      config=config, metrics=metrics)
                TrainingRun.objects.filter(pk=run.pk).update(version_number=version.number)
                _remove_stray_model_files(run.pk, keep=weights_name)
                # The run's cross-validation first: the comparison reads the new version's held-out predictions
                # there (read before, they were none, and a version was active, it was "kept" whatever it scored).
                _finish(run, TrainingRun.Status.SUCCEEDED, metrics=history, token=token, progress=1.0,
                        cross_validation=cross_validation)
                if run.auto_activate:  # in the same transaction: nobody sees the run succeeded but undecided
                    auto_activate(version=version)
            return version
        except IntegrityError:  # another run took the same version number
            continue
    raise RuntimeError("could not allocate a model version number")


def _finish(run: TrainingRun, status: str, *, token: str | None = None, **fields) -> TrainingRun:
    """End the run (only if this worker still holds it, when ``token`` is given) and drop its checkpoint."""
    rows = _held(run.pk, token) if token is not None else TrainingRun.objects.filter(pk=run.pk)
    finished = rows.update(status=status, finished_at=timezone.now(), **fields)
    run.refresh_from_db()
    if finished:  # a finished run is never resumed; its checkpoint (weights and optimiser) can be large
        delete_after_commit(default_storage, run.checkpoint)
    return run


def _in_daemon_process() -> bool:
    return billiard_process().daemon or multiprocessing.current_process().daemon
