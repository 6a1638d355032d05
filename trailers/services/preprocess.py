"""Preprocess a trailer: sample its subclips' frames and store them, replacing any earlier set.

Safe to run twice (a redelivered task): the new frames are written to a fresh
folder and swapped in with the Subclip rows in one transaction; the old rows'
files are deleted once that commits.

The worker reads a local copy of the trailer (``trailers.store``: the folder store's own file, or the
worker's cache of the object store) and writes its outputs in a local folder; they go up to the store
before the rows that name them are written. An object store that cannot be reached puts the trailer
back in the queue (it is tried again, see ``tasks``): it is never failed for it.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import av
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ml.config import SamplingConfig
from ml.embeddings import EncoderError
from ml.files import out_of_room
from ml.frames import save_frames, write_contact_sheet
from ml.transcode import needs_browser_copy, write_browser_copy
from ml.video import VideoError, sample_trailer
from trailers import store
from trailers.models import ModelVersion, Subclip, Trailer
from trailers.signals import delete_after_commit, delete_stored
from trailers.store import StoreUnavailable

from .embeddings import embedding_spec, write_embeddings
from .heartbeat import Heartbeat
from .queue import enqueue_scoring

log = logging.getLogger(__name__)


def sampling_config() -> SamplingConfig:
    """The preprocessing settings every trailer gets (settings.REELSCORE_SAMPLING)."""
    return SamplingConfig(**{**settings.REELSCORE_SAMPLING, "frame_step": None})


def preprocess_trailer(*, trailer_id: int) -> Trailer | None:
    """Sample, store and register a trailer's subclips; mark it ready, or failed with the reason.

    Only a queued trailer is started, so a second delivery of the same task does nothing.
    """
    started = timezone.now()
    claimed = Trailer.objects.filter(pk=trailer_id, status=Trailer.Status.QUEUED).update(
        status=Trailer.Status.PROCESSING, error="", processing_started_at=started, heartbeat_at=started,
        processing_attempts=F("processing_attempts") + 1,
    )
    if not claimed:
        log.info("trailer %s is not queued (gone, or started by another delivery); nothing to do", trailer_id)
        return None
    trailer = Trailer.objects.get(pk=trailer_id)
    config = sampling_config()
    folder = f"subclips/{trailer.pk}/{uuid.uuid4().hex}"
    def held():  # this attempt's claim: the sweep may have handed a silent attempt to another worker
        return Trailer.objects.filter(pk=trailer_id, status=Trailer.Status.PROCESSING, processing_started_at=started)

    work = None
    try:
        with Heartbeat(held, every=settings.PROCESSING_STALE_AFTER_SECONDS / 4, name=f"trailer {trailer_id}"):
            remove_partial_output(trailer=trailer)
            work = store.work_folder(f"trailer-{trailer.pk}")
            with store.local_copy(trailer.file.name) as source:
                _, sampled = sample_trailer(source, config)
                spec = embedding_spec() if settings.EMBEDDINGS else None
                rows = [_write(trailer, subclip, work, folder, config, spec) for subclip in sampled]
                browser_copy = _browser_copy(trailer, source, work, folder)
            store.publish_folder(work, folder)  # every output in the store before a row names it
    except StoreUnavailable as exc:
        log.warning("preprocessing trailer %s waits for the object store: %s", trailer_id, exc)
        _discard(work, folder)
        held().update(status=Trailer.Status.QUEUED, error=f"Waiting for the object store, which cannot be reached "
                      f"({exc}); it will be tried again.", enqueued_at=timezone.now(),
                      processing_attempts=F("processing_attempts") - 1)  # not the trailer's failing
        raise
    except VideoError as exc:
        _discard(work, folder)
        return _fail(trailer, held(), exc.naming(trailer.original_name))  # the stored copy's name means nothing
    except EncoderError as exc:  # a broken install: every trailer would fail alike, so say so plainly
        log.error("preprocessing trailer %s stopped: %s", trailer_id, exc)
        _discard(work, folder)
        return _fail(trailer, held(), f"The frame encoder cannot run on this worker: {exc}")
    except Exception as exc:  # a full disk, a bug: the trailer says so instead of staying `processing`
        log.exception("preprocessing trailer %s failed", trailer_id)
        _discard(work, folder)
        if out_of_room(exc):  # not the file's doing; the worker's path and numpy's words mean nothing to its uploader
            return _fail(trailer, held(), f"{trailer.original_name}: the worker ran out of disk space while writing "
                                          "its frames, and nothing was kept. Try again once there is room (the "
                                          "staff can see which worker in its log).")
        return _fail(trailer, held(), f"Preprocessing failed unexpectedly: {exc}")
    store.remove_work_folder(work)

    with transaction.atomic():
        if not held().select_for_update().exists():
            _discard(None, folder)  # deleted while we worked, or handed to another worker
            return None
        for old in trailer.subclips.all():
            old.delete()  # the post_delete signal removes its files after commit
        Subclip.objects.bulk_create(rows)
        replaced = Trailer.objects.filter(pk=trailer.pk).values_list("browser_copy", flat=True).first()
        if replaced != browser_copy:
            delete_after_commit(default_storage, replaced)
        Trailer.objects.filter(pk=trailer.pk).update(status=Trailer.Status.READY, error="", browser_copy=browser_copy,
                                                     processed_at=timezone.now())
        # Which version is active is read after commit: one activated meanwhile scores this trailer too.
        transaction.on_commit(lambda: _score_with_active_version(trailer.pk))
    return Trailer.objects.filter(pk=trailer.pk).first()  # None where it was deleted the moment it was ready


def _write(trailer: Trailer, subclip, work: Path, folder: str, config: SamplingConfig, spec) -> Subclip:
    """Write one sampled subclip's frames, contact sheet and (with ``spec``) embeddings in the local folder
    ``work``; its (unsaved) row, naming them as they will be stored under ``folder``."""
    index = subclip.plan.index
    save_frames(subclip.frames, work / f"{index}.npy")
    write_contact_sheet(subclip.frames, work / f"{index}.jpg")
    embeddings_name = ""
    if spec is not None:
        write_embeddings(subclip.frames, work / f"{index}.emb.npy", spec)
        embeddings_name = f"{folder}/{index}.emb.npy"
    return Subclip(
        trailer=trailer, index=index, start=subclip.plan.start, duration=subclip.plan.duration,
        frames=f"{folder}/{index}.npy", contact_sheet=f"{folder}/{index}.jpg", frame_count=len(subclip.frames),
        timestamps=[round(float(t), 4) for t in subclip.timestamps], sampling=config.to_dict(),
        embeddings=embeddings_name, embedding=spec.to_dict() if spec is not None else {},
    )  # fmt: skip


def _browser_copy(trailer: Trailer, source: Path, work: Path, folder: str) -> str:
    """The stored name of an MP4 copy browsers play, made in ``work`` (to be stored under ``folder``) when they
    cannot play the trailer's own file, or it is stored under no video's suffix (served as bytes to download, which
    not every browser plays: ``store.served_type``); "" when they can, or when the copy fails (the page then offers
    the file)."""
    if not settings.BROWSER_COPIES:
        return ""
    try:
        if store.served_type(trailer.file.name).startswith("video/") and not needs_browser_copy(source):
            return ""
        write_browser_copy(source, work / "browser.mp4")
    except (VideoError, OSError, av.error.FFmpegError) as exc:
        log.warning("no browser copy of trailer %s: %s", trailer.pk, exc)
        (work / "browser.mp4").unlink(missing_ok=True)
        return ""
    return f"{folder}/browser.mp4"


def _score_with_active_version(trailer_id: int) -> None:
    active = ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True).first()
    if active:
        enqueue_scoring(model_version_id=active, trailer_ids=[trailer_id])


def _fail(trailer: Trailer, rows, reason: str) -> Trailer:
    """Mark the trailer failed, if ``rows`` (this attempt's claim) still holds it."""
    rows.update(status=Trailer.Status.FAILED, error=reason, processed_at=timezone.now())
    trailer.refresh_from_db()
    return trailer


def remove_partial_output(*, trailer: Trailer) -> int:
    """Remove the folders under ``subclips/<id>/`` that neither its subclips nor its browser copy live in:
    what an attempt killed mid-way left. Called by the attempt that holds the trailer, before it writes."""
    base = f"subclips/{trailer.pk}"
    try:
        with store.unavailable_as_error():
            folders, _ = default_storage.listdir(base)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    names = [*Subclip.objects.filter(trailer=trailer).values_list("frames", flat=True), trailer.browser_copy.name or ""]
    kept = {name.split("/")[2] for name in names if name.startswith(f"{base}/") and name.count("/") >= 3}
    orphans = [f for f in folders if f not in kept]
    for orphan in orphans:
        log.info("removing %s/%s, left by an attempt that did not finish", base, orphan)
        delete_stored(default_storage, f"{base}/{orphan}/")
    return len(orphans)


def _discard(work: Path | None, folder: str) -> None:
    """Remove an attempt's outputs: its local folder, and what of it already went up to the store."""
    if work is not None:
        store.remove_work_folder(work)
    delete_stored(default_storage, f"{folder}/")
