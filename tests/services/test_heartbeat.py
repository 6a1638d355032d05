"""A worker's heartbeat (trailers/services/heartbeat.py): it goes on beating after the database was away for a
moment, so that one lost beat does not make live work look dead (and count as a worker's death)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from trailers.models import Trailer
from trailers.services.heartbeat import Heartbeat

pytestmark = pytest.mark.django_db(transaction=True)  # the heartbeat's thread writes beside the test


def test_a_heartbeat_beats_on_after_the_database_was_away(make_trailer):
    trailer = make_trailer(status=Trailer.Status.PROCESSING)
    long_ago = timezone.now() - timedelta(hours=1)
    Trailer.objects.filter(pk=trailer.pk).update(heartbeat_at=long_ago)
    calls = []

    def held():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("the database is away")
        return Trailer.objects.filter(pk=trailer.pk, status=Trailer.Status.PROCESSING)

    with Heartbeat(held, every=0.5, name="test") as heartbeat:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(calls) >= 2 and not heartbeat.lost.is_set()
    assert Trailer.objects.get(pk=trailer.pk).heartbeat_at > long_ago


def test_a_heartbeat_stops_once_the_work_is_no_longer_held(make_trailer):
    trailer = make_trailer(status=Trailer.Status.FAILED)  # ended elsewhere
    with Heartbeat(lambda: Trailer.objects.filter(pk=trailer.pk, status=Trailer.Status.PROCESSING), every=0.5,
                   name="test") as heartbeat:
        assert heartbeat.lost.wait(10)
    assert not heartbeat.is_alive()
