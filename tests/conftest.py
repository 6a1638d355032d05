"""Fixtures shared by every test folder: users and logged-in clients, rows made directly (tests/support/rows.py),
real worker processes and the scheduler (tests/support/processes.py), and synthetic trailers."""

from __future__ import annotations

import os

import pytest

from tests.support.processes import SchedulerProcess, WorkerProcess, database_url
from tests.support.rows import create_prediction, create_run, create_trailer, create_version


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """The throttles count in the process's cache: each test starts with none of another test's requests counted
    (ids of rows rolled back come again, and every test client is 127.0.0.1)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-pass-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="staff", password="staff-pass-123", is_staff=True,
                                                 is_superuser=True)


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


# --- Rows made directly, without a worker (tests/support/rows.py) ------------------------


@pytest.fixture
def make_trailer():
    return create_trailer


@pytest.fixture
def make_run():
    return create_run


@pytest.fixture
def make_version():
    return create_version


@pytest.fixture
def make_prediction():
    return create_prediction


# --- A real Celery worker process (tests/support/processes.py) ---------------------------


WORKER_LOG_TAIL = 6000  # characters of each running worker's log a failing test's report shows


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that fails while workers run shows the end of each one's log: what the worker was doing is the
    first thing to know about a pipeline test that waited in vain, and the log files go with the CI machine."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for process in WorkerProcess.running:
            report.sections.append((f"log of worker {process.name!r}, {process.log_path} (its end)",
                                    process.log()[-WORKER_LOG_TAIL:]))


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker):
    from django.db import connection

    env = os.environ.copy()
    env.update(DJANGO_SETTINGS_MODULE="config.test_settings", DATABASE_URL=database_url(connection.settings_dict),
               PYTHONUNBUFFERED="1")
    from config.celery import app

    with app.connection_for_write() as conn:  # leave no message from an earlier run on the broker
        for queue in ("video", "gpu"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - a queue that does not exist yet has nothing to purge
                pass
    return env


@pytest.fixture(scope="module")
def start_worker(worker_env, tmp_path_factory):
    """Start real worker processes, and beside the first one the scheduler (Celery beat), as a deployment runs
    them; all are stopped at the end of the test module."""
    started: list[WorkerProcess] = []
    log_dir = tmp_path_factory.mktemp("workers")

    def start(name: str = "w", queues: str = "video,gpu", pool: str = "prefork") -> WorkerProcess:
        if not any(isinstance(p, SchedulerProcess) for p in started):
            started.append(SchedulerProcess(worker_env, log_dir).wait_ready())
        worker = WorkerProcess(worker_env, log_dir, name, queues, pool)
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def worker(start_worker):
    """One worker consuming both queues for a test module; stopped after the module."""
    process = start_worker("module")
    yield process
    process.stop()


# 4 s at 12 fps: with the test sampling (subclips of 1.5 s from 0.5 s in) each gives 2 subclips.
SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".flv")


@pytest.fixture(scope="session")
def synthetic_trailers(tmp_path_factory):
    """Eight real trailers made by the project's generator, each with its hidden rating."""
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("synthetic")
    return [
        generate_trailer(folder / f"trailer-{i}{SUFFIXES[i % len(SUFFIXES)]}", seed=100 + i, duration=4.0, fps=12,
                         width=64, height=48)
        for i in range(8)
    ]


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory):
    """A real 4 s H.264 trailer made by the project's generator (probe and decode work on it)."""
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("web-synthetic")
    return generate_trailer(folder / "synthetic-web.mp4", seed=7, duration=4.0, fps=12, width=64, height=48).path


@pytest.fixture(scope="session")
def other_synthetic_video(tmp_path_factory):
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("web-synthetic-2")
    return generate_trailer(folder / "second-web.mp4", seed=8, duration=4.0, fps=12, width=64, height=48).path


@pytest.fixture
def full_disk(tmp_path, settings):
    """MEDIA_ROOT on a 256 KB tmpfs of its own: a real full disk, where writes past it fail with ENOSPC (as root,
    as CI runs; skipped where it cannot be mounted): its ``root``, and ``fill(leave)``, which fills it up to
    ``leave`` bytes."""
    import subprocess
    from types import SimpleNamespace

    root = tmp_path / "small"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(root)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    settings.MEDIA_ROOT = str(root)

    def fill(leave: int = 0) -> None:
        free = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
        (root / "filler").write_bytes(b"\0" * max(0, free - leave))

    try:
        yield SimpleNamespace(root=root, fill=fill)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
