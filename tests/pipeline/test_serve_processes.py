"""`manage.py serve` (make run, make demo) on the embedded default: the web server, a worker and the one
scheduler, which has the worker sweep; Ctrl-C stops all three."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support.processes import listening, start_serve, stop_process, wait_for

pytestmark = pytest.mark.pipeline


def test_serve_runs_the_site_a_worker_and_the_scheduler(tmp_path):
    serve, port, log = start_serve(tmp_path / "var", SWEEP_INTERVAL_SECONDS="2")
    try:
        def up():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2) as r:  # noqa: S310
                    return r.status == 200
            except OSError:
                return False

        wait_for(up, timeout=120, interval=0.5, message="the web server to answer")
        # The scheduler sends the sweep and the worker runs it.
        wait_for(lambda: "sweep handed over" in log.read_text(errors="replace"), timeout=90, interval=0.5,
                 message="a sweep sent by the scheduler and run by the worker")
        text = log.read_text(errors="replace")
        assert "beat: Starting" in text and "Press Ctrl-C to stop the web server, the worker and the scheduler." in text
    finally:
        stop_process(serve, signal.SIGINT, timeout=60)
    time.sleep(0.5)
    assert "Stopping the web server, the worker and the scheduler" in log.read_text(errors="replace")
    with pytest.raises(ProcessLookupError):  # no child of serve (web server, worker, scheduler) outlived it
        os.killpg(serve.pid, 0)


@pytest.mark.parametrize("after", [0.0, 1.5, 4.0])
def test_a_sigterm_while_serve_starts_stops_it_and_all_it_started(tmp_path, after):
    """A process manager's SIGTERM during start-up (the checks, the worker and the scheduler starting) stops serve
    as one after it: it once landed in a finalizer, was lost, and serve ran on until it was killed."""
    serve, port, log = start_serve(tmp_path / "var", SWEEP_INTERVAL_SECONDS="2")

    def sigterm():
        wait_for(lambda: listening(port) or serve.poll() is not None, timeout=120, interval=0.05,
                 message="the web server to listen")
        time.sleep(after)
        serve.send_signal(signal.SIGTERM)

    text = _ended(serve, log, sigterm)
    assert serve.returncode == 0, text
    assert "Stopping the web server, the worker and the scheduler" in text, text
    assert "Exception ignored" not in text, text


def _ended(serve, log, act) -> str:
    """Do ``act`` to a running serve and wait for it to end; its log. Nothing it started outlives it."""
    try:
        act()
        serve.wait(timeout=60)
    finally:
        stop_process(serve, signal.SIGKILL, timeout=10)
    with pytest.raises(ProcessLookupError):
        os.killpg(serve.pid, 0)
    return log.read_text(errors="replace")


def test_with_redis_and_no_var_folder_yet_the_scheduler_starts(tmp_path):
    """`make run` on a fresh clone with PostgreSQL and Redis: nothing had made var/ (only the embedded database and
    broker make it), so the scheduler could not write its schedule there, and serve stopped everything and exited
    0. It makes the folder now."""
    if not listening(6379):
        pytest.skip("needs Redis at 127.0.0.1:6379 (CI runs it): the embedded broker makes var/ by itself")
    var = tmp_path / "not-made-yet" / "var"
    (tmp_path / "db").mkdir()
    serve, port, log = start_serve(var, log_path=tmp_path / "serve.log", SWEEP_INTERVAL_SECONDS="2",
                                   CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
                                   DATABASE_URL=f"sqlite:///{tmp_path / 'db' / 'db.sqlite3'}")
    try:
        wait_for(lambda: "sweep handed over" in log.read_text(errors="replace") or serve.poll() is not None,
                 timeout=120, interval=0.5, message="a sweep sent by the scheduler and run by the worker")
        assert serve.poll() is None, log.read_text(errors="replace")
        assert list(var.glob("celerybeat-schedule*")), list(var.iterdir())
    finally:
        stop_process(serve, signal.SIGINT, timeout=60)
        import redis

        redis.Redis(host="127.0.0.1", port=6379, db=14).flushdb()  # the sweeps it left queued


def test_a_part_that_stops_by_itself_stops_serve_with_a_failure(tmp_path):
    """The worker or scheduler dying is a failure a process manager must see: serve exited 0."""
    serve, port, log = start_serve(tmp_path / "var", SWEEP_INTERVAL_SECONDS="2")

    def kill_the_scheduler():
        wait_for(lambda: "beat: Starting" in log.read_text(errors="replace"), timeout=120, interval=0.5,
                 message="the scheduler to start")
        beat = subprocess.run(["pgrep", "-f", "-g", str(serve.pid), "celery -A config beat"], capture_output=True,
                              text=True).stdout.split()
        assert beat, "the scheduler's process"
        os.kill(int(beat[0]), signal.SIGKILL)

    text = _ended(serve, log, kill_the_scheduler)
    assert serve.returncode == 1, text
    assert "The scheduler stopped by itself (exit status -9), so the rest were stopped too" in text, text
