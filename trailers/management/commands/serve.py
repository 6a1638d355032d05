"""`manage.py serve`: migrate, then run the web server, one Celery worker and the scheduler together.

The scheduler (Celery beat) sends the periodic sweep, which the worker runs (see the README's deployment
section for what runs where on several machines).

Used by `make run` and `make demo` (with --demo, which also creates the demo
accounts and data). It stays in the foreground; Ctrl-C stops all three processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_ADMIN = ("admin", "reelscore-admin")


def collect_static_for_production() -> bool:
    """With DEBUG off, pages name their CSS and JS through the static manifest that collectstatic writes
    (without it every page is a 500): collect them now. Returns whether it did."""
    if settings.DEBUG:
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    return True


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the web server, a Celery worker (both queues) and the scheduler together, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--demo", action="store_true", help="create demo accounts and the demo dataset")
        parser.add_argument("--trailers", type=int, default=None, help="demo dataset size (with --demo)")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")

    def handle(self, *args, **options):
        # Ctrl-C (SIGINT) or a SIGTERM from a process manager both stop the children cleanly,
        # even where the shell started us with SIGINT ignored.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        if collect_static_for_production():
            self.stdout.write(f"DEBUG is off: static files collected into {settings.STATIC_ROOT}.")
        if options["demo"]:
            self._ensure_admin()

        env = os.environ.copy()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "video,gpu",
             "--concurrency", str(options["concurrency"]), "--loglevel", "INFO", "-n", "demo@%h",
             # One local worker needs no cluster chatter (the filesystem broker has no broadcast).
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env,
        )  # fmt: skip
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
             "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
            env=env,
        )
        web = subprocess.Popen(
            [sys.executable, "manage.py", "webserver", f"{options['host']}:{options['port']}", "--noreload"],
            env=env,
        )
        url = f"http://{options['host']}:{options['port']}/"
        children = [worker, scheduler, web]
        try:
            if options["demo"]:
                demo_args = ["make_demo_dataset"]
                if options["trailers"]:
                    demo_args += ["--trailers", str(options["trailers"])]
                call_command(*demo_args, stdout=self.stdout)
            self._banner(url, demo=options["demo"])
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("A child process stopped; shutting down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the web server, the worker and the scheduler…")
        finally:
            self._stop(children)

    def _ensure_admin(self) -> None:
        from django.contrib.auth.models import User

        username, password = DEMO_ADMIN
        if not User.objects.filter(username=username).exists():
            User.objects.create_superuser(username=username, email="admin@example.com", password=password)

    def _banner(self, url: str, *, demo: bool) -> None:
        lines = ["", "=" * 64, f"Reelscore is running at {url}"]
        if demo:
            from trailers.demo import DEMO_USERS

            lines.append(f"Admin login:     {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}   ({url}admin/)")
            name, password = DEMO_USERS[0]
            lines.append(f"Demo user login: {name} / {password}")
            lines.append("Try first: open the dataset page, then a trailer, rate it, and see its predicted rating.")
        lines += ["Press Ctrl-C to stop the web server, the worker and the scheduler.", "=" * 64, ""]
        self.stdout.write("\n".join(lines))

    @staticmethod
    def _stop(children: list[subprocess.Popen]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
