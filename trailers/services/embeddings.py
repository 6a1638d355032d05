"""Subclip embeddings: the frozen pretrained encoder's view of every frame, cached beside the frames.

Made at preprocessing (the video queue, on the GPU where the worker has one);
for subclips preprocessed before embeddings existed, ``embed_subclips`` fills
them in from the stored frames (the sweep, and the ``embed_subclips`` command)
without decoding any video again. Embeddings made with other encoder weights or
size are made again by the command only, run where the settings are the site's:
the sweep runs on whichever worker takes it, and one worker started with other
settings than the rest would otherwise rewrite every subclip's, and the next
worker rewrite them back.
"""

from __future__ import annotations

import logging
import os
import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q

from ml.embeddings import embed_subclip, installed_spec, save_embeddings
from ml.frames import load_frames
from trailers import store
from trailers.models import Subclip
from trailers.signals import delete_after_commit, delete_stored

log = logging.getLogger(__name__)


def embedding_spec():
    """The ml.embeddings.EmbeddingSpec this installation embeds with (settings.EMBEDDING_ENCODER/SIZE)."""
    return installed_spec(settings.EMBEDDING_ENCODER, settings.EMBEDDING_SIZE)


def _device() -> str:
    from ml.train import resolve_device  # here, not at the top: web processes load this module and never torch

    return str(resolve_device("auto"))


def write_embeddings(frames, path: str | os.PathLike, spec) -> None:
    """Embed a subclip's frames (uint8 T×H×W×3) with ``spec`` into the local file ``path``."""
    save_embeddings(embed_subclip(frames, spec, device=_device()), path)


def stale_subclips(*, missing_only: bool = False):
    """Subclips of ready trailers whose embeddings are missing or (unless ``missing_only``) were made another way
    than this installation's (other weights, encoder or size)."""
    subclips = Subclip.objects.filter(trailer__status="ready")
    if missing_only:
        return subclips.filter(embeddings="")
    return subclips.filter(Q(embeddings="") | ~Q(embedding=embedding_spec().to_dict()))


def embedded_otherwise():
    """Subclips of ready trailers with embeddings made another way than this installation's."""
    return Subclip.objects.filter(trailer__status="ready").exclude(embeddings="").exclude(
        embedding=embedding_spec().to_dict())


def embed_subclips(*, subclip_ids: list[int] | None = None, limit: int | None = None,
                   missing_only: bool = False) -> int:
    """Embed the stale subclips (all, or those of ``subclip_ids``; only those without embeddings where
    ``missing_only``) from their stored frames; returns how many.

    A subclip whose frames were replaced meanwhile (preprocessed again) is left alone: its new row
    already has embeddings. A damaged frame file is logged and skipped.
    """
    spec = embedding_spec()
    subclips = stale_subclips(missing_only=missing_only).order_by("pk")
    if subclip_ids is not None:
        subclips = subclips.filter(pk__in=subclip_ids)
    if limit is not None:
        subclips = subclips[:limit]
    done = 0
    work = store.work_folder("embeddings")
    try:
        for subclip in subclips:
            folder = subclip.frames.name.rsplit("/", 1)[0]
            name = f"{folder}/{subclip.index}-{uuid.uuid4().hex[:8]}.emb.npy"
            local = work / name.rsplit("/", 1)[1]
            try:
                with store.local_copy(subclip.frames.name) as frames:
                    write_embeddings(load_frames(frames, mmap=True), local, spec)
            except (OSError, ValueError) as exc:
                log.warning("subclip %s (trailer %s) was not embedded: %s", subclip.pk, subclip.trailer_id, exc)
                continue
            store.publish(local, name)  # in the store before the row names it
            updated = Subclip.objects.filter(pk=subclip.pk, frames=subclip.frames.name).update(
                embeddings=name, embedding=spec.to_dict())
            if updated:
                delete_after_commit(default_storage, subclip.embeddings.name)
                done += 1
            else:
                delete_stored(default_storage, name)  # the row went away or got new frames meanwhile
    finally:
        store.remove_work_folder(work)
    return done
