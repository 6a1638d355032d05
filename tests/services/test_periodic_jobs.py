"""The sweep's claim: of the deliveries two schedulers send by mistake, one per interval runs."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from trailers.models import PeriodicJob
from trailers.services import claim_periodic_job


@pytest.mark.django_db
def test_the_first_delivery_in_an_interval_runs_and_the_next_does_not():
    assert claim_periodic_job(name="sweep", interval=60)
    assert not claim_periodic_job(name="sweep", interval=60)  # a second scheduler's, moments later
    PeriodicJob.objects.filter(name="sweep").update(last_run_at=timezone.now() - timedelta(seconds=50))
    assert not claim_periodic_job(name="sweep", interval=60)  # still within this interval
    PeriodicJob.objects.filter(name="sweep").update(last_run_at=timezone.now() - timedelta(seconds=55))
    assert claim_periodic_job(name="sweep", interval=60)  # the scheduler's next tick, a little early
    assert claim_periodic_job(name="embedding", interval=60)  # each job has its own


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_the_same_moment_run_once():
    # A job of the test's own: a worker an earlier test left running may claim "sweep" itself meanwhile.
    PeriodicJob.objects.create(name="test-race")
    start, won = threading.Barrier(4), []

    def deliver():
        try:
            start.wait()
            won.append(claim_periodic_job(name="test-race", interval=60))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False, False, False, True]


def test_the_sweep_deletes_expired_login_sessions_and_keeps_live_ones(client, user):
    from django.contrib.sessions.models import Session
    from django.core.management import call_command

    from trailers.services import sweep

    client.force_login(user)
    live = Session.objects.get()
    expired = Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(1))
    assert sweep()["sessions"] == 1
    assert list(Session.objects.values_list("pk", flat=True)) == [live.pk] and expired.pk != live.pk
    out = io.StringIO()
    call_command("sweep", stdout=out)
    assert "failed 0 trailer(s) and 0 run(s)" in out.getvalue() and "deleted 0 expired login session(s)" in out.getvalue()
