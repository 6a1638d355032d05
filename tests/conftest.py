"""Fixtures shared by every test folder: users and logged-in clients."""

from __future__ import annotations

import pytest


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


# --- A real Celery worker process -----------------------------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _database_url(settings_dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    auth = settings_dict["USER"] + (f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else "")
    return f"postgres://{auth}@{settings_dict['HOST']}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"


class WorkerProcess:
    """`celery -A config worker` in its own process group, logging to a file."""

    ready_line = " ready."

    def __init__(self, env: dict[str, str], log_dir: Path, name: str, queues: str = "video,gpu",
                 pool: str = "prefork", argv: list[str] | None = None, prefix: list[str] | None = None):
        self.log_path = log_dir / f"worker-{name}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        argv = argv or [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "--concurrency", "1",
                        "--pool", pool, "--loglevel", "INFO", "-n", f"{name}@%h", "--without-gossip",
                        "--without-mingle", "--without-heartbeat"]
        self.process = subprocess.Popen(
            [*(prefix or []), *argv], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_line in self.log():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.1)
        raise TimeoutError(f"the worker did not start in {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no clean-up of any kind."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class SchedulerProcess(WorkerProcess):
    """`celery -A config beat`: the one scheduler, which sends the sweep every SWEEP_INTERVAL_SECONDS."""

    ready_line = "beat: Starting..."

    def __init__(self, env: dict[str, str], log_dir: Path, name: str = "beat", prefix: list[str] | None = None):
        schedule = log_dir / f"{name}-{time.monotonic_ns()}-schedule"
        super().__init__(env, log_dir, name, prefix=prefix, argv=[
            sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--schedule",
            str(schedule)])

    def sweeps_sent(self) -> int:
        return self.log().count("Scheduler: Sending due task sweep")


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker):
    from django.db import connection

    env = os.environ.copy()
    env.update(DJANGO_SETTINGS_MODULE="config.test_settings", DATABASE_URL=_database_url(connection.settings_dict),
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


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


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
