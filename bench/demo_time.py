"""Benchmark: `make demo` from a clean clone on a busy machine, as the README promises it.

Run by hand, not by the tests (a few minutes)::

    .venv/bin/python -m bench.demo_time                 # one core kept busy by stress-ng (or a Python loop)
    .venv/bin/python -m bench.demo_time --no-load       # as the machine is
    .venv/bin/python -m bench.demo_time --commit origin/main   # the same for main's last commit (a baseline)

Clones this repository's HEAD into a temporary folder (a clean clone: no .venv, no var/), keeps one core busy
(``stress-ng --cpu 1`` where it is installed, else a Python busy loop), runs ``make demo`` there with pip's cache as
it is (its wheels already on this machine: "the package cache warm"), and prints, from the command's start: when
the install finished, when the login page answered, and when the demo was complete (every trailer preprocessed,
a model trained, activated, every trailer scored), with where the time went (from the demo's database: the first
and last upload, the last trailer preprocessed, the training run's start and end; and the worker's time in each kind
of task). Then it stops the demo and starts ``make demo`` again: when the login page answered, and that the restart
built nothing. The load averages are printed beside.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from tests.support.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/accounts/login/")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _busy_core() -> subprocess.Popen:
    if shutil.which("stress-ng"):
        return subprocess.Popen(["stress-ng", "--cpu", "1", "--quiet"], start_new_session=True)
    return subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)


def _stop(process: subprocess.Popen, *, settle: float = 0) -> None:
    """Stop ``process`` and its process group. With ``settle``, whatever of the group is still there that many
    seconds later is killed: a worker stuck in its warm shutdown once outlived `make demo` and idled on after it."""
    stop_process(process, timeout=60)
    if settle:
        time.sleep(settle)  # serve stops its children itself (SIGTERM, then SIGKILL after 20 s)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group is gone: all stopped


def timeline(clone: Path, started: float) -> str:
    """Where the first start's time went: seconds from ``started`` (a time.time()) to each step the database
    recorded, and the worker's seconds in each kind of task (its log)."""
    database = sqlite3.connect(clone / "var" / "db.sqlite3")

    def at(query: str) -> str:
        value = database.execute(query).fetchone()[0]
        when = datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp() if value else None
        return "—" if when is None else f"{when - started:.0f} s"

    steps = [("first upload", at("SELECT min(uploaded_at) FROM trailers_trailer")),
             ("last upload", at("SELECT max(uploaded_at) FROM trailers_trailer")),
             ("last preprocessed", at("SELECT max(processed_at) FROM trailers_trailer")),
             ("run started", at("SELECT min(started_at) FROM trailers_trainingrun")),
             ("run finished", at("SELECT max(finished_at) FROM trailers_trainingrun"))]
    database.close()
    tasks: dict[str, list[float]] = defaultdict(list)
    for name, seconds in re.findall(r"tasks\.(\w+)\[[^\]]+\] succeeded in ([\d.]+)s",
                                    (clone / "demo-first.log").read_text(errors="replace")):
        tasks[name].append(float(seconds))
    return ("; ".join(f"{step} {value}" for step, value in steps) + "\nworker: "
            + "; ".join(f"{len(v)} {name} {sum(v):.0f} s" for name, v in sorted(tasks.items())))


def run_demo(clone: Path, port: int, log_name: str, *, until_complete: bool, timeout: float) -> dict[str, float]:
    """`make demo` in ``clone``: seconds from its start to each milestone; stopped after the last one."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "DATABASE_URL",
                                                            "CELERY_BROKER_URL", "REELSCORE_VAR_DIR")}
    env.update(PORT=str(port), PYTHONUNBUFFERED="1")
    log = open(clone / log_name, "wb")
    started, marks = time.monotonic(), {"started": time.time()}
    process = subprocess.Popen(["make", "demo"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    status_file = clone / "var" / "demo-status.json"
    try:
        while time.monotonic() - started < timeout:
            elapsed = time.monotonic() - started
            if process.poll() is not None:
                raise RuntimeError(f"make demo stopped:\n{(clone / log_name).read_text()[-3000:]}")
            if "installed" not in marks and (clone / ".venv" / ".installed").exists():
                marks["installed"] = elapsed
            if "login page" not in marks and _answers(port):
                marks["login page"] = elapsed
                marks["load at login"] = _load()
            if "login page" in marks and status_file.exists():
                try:
                    done = json.loads(status_file.read_text()).get("done")
                except ValueError:
                    done = False
                if done:
                    marks["complete"] = elapsed
                    marks["load at complete"] = _load()
            if "login page" in marks and (not until_complete or "complete" in marks):
                return marks
            time.sleep(0.05)
        raise TimeoutError(f"make demo did not get there in {timeout:.0f} s: {marks}")
    finally:
        _stop(process, settle=25)
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-load", action="store_true", help="keep no core busy")
    parser.add_argument("--keep", type=Path, help="clone into this folder (kept) instead of a temporary one")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--commit", help="clone this commit instead of HEAD (main's, for a baseline: origin/main)")
    args = parser.parse_args(argv)
    clone = args.keep or Path(tempfile.mkdtemp(prefix="reelscore-demo-time-")) / "reelscore"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    if args.commit:
        subprocess.run(["git", "checkout", "--quiet", args.commit], cwd=clone, check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True).stdout
    print(f"clean clone of {head.strip()} in {clone}; load before: {_load()}", flush=True)
    busy = None if args.no_load else _busy_core()
    try:
        time.sleep(0 if busy is None else 5)  # let the busy core show in the load average
        port = free_port()
        first = run_demo(clone, port, "demo-first.log", until_complete=True, timeout=args.timeout)
        print(f"first start: installed after {first.get('installed', 0):.0f} s, login page after "
              f"{first['login page']:.1f} s (load {first['load at login']}), demo complete after "
              f"{first['complete']:.0f} s (load {first['load at complete']})", flush=True)
        print(timeline(clone, first["started"]), flush=True)
        again = run_demo(clone, port, "demo-restart.log", until_complete=False, timeout=120)
        printed = (clone / "demo-restart.log").read_text()
        built = any(word in printed for word in ("Building", "Uploaded", "being built"))
        print(f"restart: login page after {again['login page']:.2f} s (load {again['load at login']}); "
              f"{'it built something' if built else 'it built nothing'}", flush=True)
    finally:
        if busy is not None:
            _stop(busy)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
