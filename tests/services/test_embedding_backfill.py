"""Embeddings for trailers preprocessed without them, or with another encoder, weights or size: made from the
stored frames by `manage.py embed_subclips` and by the sweep's task, never by decoding or uploading again; a damaged
frame file is skipped and left waiting, and a replaced embeddings file is deleted."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from ml.embeddings import load_embeddings
from tests.support.broker import broker_messages
from trailers.models import Subclip, Trailer
from trailers.services import sweep
from trailers.services.embeddings import embedding_spec

pytestmark = pytest.mark.django_db

EMBED = "trailers.tasks.embed_subclips_task"


def embed(*args) -> str:
    out = io.StringIO()
    call_command("embed_subclips", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_embeds_every_subclip_that_lacks_this_installations_embeddings(
        make_trailer, django_capture_on_commit_callbacks):
    spec = embedding_spec()
    waiting = [make_trailer(), make_trailer()]  # two subclips each, frames only: preprocessed before embeddings
    make_trailer(status=Trailer.Status.FAILED, error="could not decode")  # not ready: left alone
    # One embedded at another size (EMBEDDING_SIZE changed since): made again, its old file deleted.
    older = make_trailer()
    old_name = "subclips/old.emb.npy"
    default_storage.save(old_name, io.BytesIO(b"old embeddings"))
    Subclip.objects.filter(trailer=older).update(embeddings=old_name, embedding={**spec.to_dict(), "size": 96})
    frames_before = {s.pk: s.frames.name for s in Subclip.objects.all()}

    described = spec.describe()
    assert embed("--limit", "1") == f"Embedded 1 of 6 subclip(s) with {described}; 5 still without."
    with django_capture_on_commit_callbacks(execute=True):  # the replaced file goes once the new one is named
        assert embed() == f"Embedded 5 of 5 subclip(s) with {described}; 0 still without."
    for subclip in Subclip.objects.filter(trailer__in=[*waiting, older]):
        assert subclip.embedding == spec.to_dict()
        with default_storage.open(subclip.embeddings.name) as handle:
            array = load_embeddings(io.BytesIO(handle.read()))
        assert array.shape == (4, 1280) and array.dtype == np.float16  # one row per stored frame
        assert subclip.frames.name == frames_before[subclip.pk]  # the frames were read, not made again
    assert not default_storage.exists(old_name)
    assert not Subclip.objects.filter(trailer__status=Trailer.Status.FAILED).exclude(embeddings="").exists()
    assert embed() == f"Embedded 0 of 0 subclip(s) with {described}; 0 still without."  # nothing left: no work


def test_a_damaged_frame_file_is_skipped_and_stays_waiting(make_trailer, caplog):
    trailer = make_trailer()
    damaged = trailer.subclips.get(index=0)
    with default_storage.open(damaged.frames.name, "wb") as handle:
        handle.write(b"not an array")
    assert embed().startswith("Embedded 1 of 2 subclip(s)")
    assert f"subclip {damaged.pk} (trailer {trailer.pk}) was not embedded" in caplog.text
    damaged.refresh_from_db()
    assert damaged.embeddings == "" and trailer.subclips.get(index=1).embeddings != ""
    assert embed().endswith("1 still without.")  # still waiting, for the next sweep or a re-preprocessing


def test_a_limit_below_one_is_refused():
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        embed("--limit", "0")


def test_the_sweep_sends_one_embedding_task_while_subclips_wait(make_trailer, settings):
    broker_messages("video")
    cache.delete("reelscore:embedding-sweep")
    make_trailer()
    assert sweep()["embedding"] == 1
    assert [m for m in broker_messages("video") if m[0] == EMBED] == [(EMBED, [None])]
    assert sweep()["embedding"] == 0  # sent: not again until REQUEUE_AFTER_SECONDS
    cache.delete("reelscore:embedding-sweep")
    settings.EMBEDDINGS = False  # an installation that does not embed sends nothing
    assert sweep()["embedding"] == 0
    settings.EMBEDDINGS = True
    call_command("embed_subclips", stdout=io.StringIO())
    assert sweep()["embedding"] == 0  # nothing waits


def test_a_worker_with_other_encoder_settings_leaves_the_sites_embeddings_as_they_are(make_trailer, settings,
                                                                                       caplog):
    """A video worker started with EMBEDDING_SIZE=64 beside a site at 112 re-embedded every subclip at 64 from its
    first sweep (the active version trained at 112), and the next worker at 112 would make them again: the sweep
    and its task fill in only missing embeddings, and say what differs; the command, run by hand, makes the rest.
    (The tests' site embeds at 64; this worker at 96.)"""
    from trailers.tasks import embed_subclips_task

    broker_messages("video")
    cache.delete("reelscore:embedding-sweep")
    trailer = make_trailer()
    assert embed().startswith("Embedded 2 of 2")  # the site's, at 112
    site = {s.pk: (s.embeddings.name, s.embedding) for s in trailer.subclips.all()}
    assert embedding_spec().size != 96
    settings.EMBEDDING_SIZE = 96  # this worker's own settings
    assert sweep()["embedding"] == 0
    assert [m for m in broker_messages("video") if m[0] == EMBED] == []
    assert "2 subclips have embeddings made otherwise than this worker makes them" in caplog.text
    embed_subclips_task.run(subclip_ids=None)  # a task sent before, taken by this worker
    assert {s.pk: (s.embeddings.name, s.embedding) for s in trailer.subclips.all()} == site
    waiting = make_trailer()  # a subclip with none at all is still filled in by the sweep's task
    embed_subclips_task.run(subclip_ids=None)
    assert all(s.embedding["size"] == 96 for s in waiting.subclips.all())
    assert {s.pk: (s.embeddings.name, s.embedding) for s in trailer.subclips.all()} == site
