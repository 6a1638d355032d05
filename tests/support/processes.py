"""Real processes for the pipeline, object-store and browser tests: Celery workers and the scheduler, each in its
own process group with its log in a file, and a poll that waits for what they do."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something on 127.0.0.1 accepts connections on ``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def database_url(settings_dict) -> str:
    """The DATABASE_URL that points a worker process at the database the tests use."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    auth = settings_dict["USER"] + (f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else "")
    return f"postgres://{auth}@{settings_dict['HOST']}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"


def start_serve(var_dir: Path, *args: str, env: dict[str, str] | None = None, log_path: Path | None = None,
                **variables: str) -> tuple[subprocess.Popen, int, Path]:
    """`manage.py serve ARGS` (web server, worker and scheduler, as `make run` starts them) with one pool process,
    on a free port, in a process group of its own: the process, its port and its log (``log_path``, or
    serve.log in ``var_dir``). Without ``env``, on the embedded default under ``var_dir``: the test run's
    database, broker, storage and settings module (CI's PostgreSQL and Redis) do not reach it; the test settings'
    small sampling and sweep values, in the environment, do. ``variables`` are set on top."""
    port = free_port()
    if env is None:
        env = {k: v for k, v in os.environ.items() if k not in (
            "DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "MEDIA_ROOT", "STATIC_ROOT",
            "STORAGE_BACKEND")}
        env.update(DEBUG="1", REELSCORE_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    env = {**env, **variables}
    log_path = log_path or Path(var_dir) / "serve.log"
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "manage.py", "serve", *args, "--port", str(port), "--concurrency",
                                    "1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return process, port, log_path


class WorkerProcess:
    """`celery -A config worker` in its own process group, logging to a file. The ones not yet stopped are in
    ``WorkerProcess.running``: a failing test's report shows the end of their logs (tests/conftest.py)."""

    ready_line = " ready."
    running: list[WorkerProcess] = []

    def __init__(self, env: dict[str, str], log_dir: Path, name: str, queues: str = "video,gpu",
                 pool: str = "prefork", argv: list[str] | None = None, prefix: list[str] | None = None):
        self.name = name
        self.log_path = log_dir / f"worker-{name}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        argv = argv or [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "--concurrency", "1",
                        "--pool", pool, "--loglevel", "INFO", "-n", f"{name}@%h", "--without-gossip",
                        "--without-mingle", "--without-heartbeat"]
        self.process = subprocess.Popen(
            [*(prefix or []), *argv], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        WorkerProcess.running.append(self)

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
        self._forget()

    def stop(self) -> None:
        stop_process(self.process, timeout=20)
        self._log.close()
        self._forget()

    def _forget(self) -> None:
        if self in WorkerProcess.running:
            WorkerProcess.running.remove(self)


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


def stop_process(process: subprocess.Popen, signum: int = signal.SIGTERM, *, timeout: float = 30) -> None:
    """Send ``signum`` to ``process`` (to its whole process group when it leads one: started with
    ``start_new_session``) and wait for it to end; SIGKILL it, or the group, if it has not ended within ``timeout``
    seconds."""
    if process.poll() is not None:
        return
    leads_group = os.getpgid(process.pid) == process.pid

    def send(number: int) -> None:
        os.killpg(process.pid, number) if leads_group else process.send_signal(number)

    send(signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")
