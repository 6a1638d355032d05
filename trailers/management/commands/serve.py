"""`manage.py serve`: migrate, then run the web server, one Celery worker and the scheduler together.

The scheduler (Celery beat) sends the periodic sweep, which the worker runs (see the README's deployment
section for what runs where on several machines).

Used by `make run` and `make demo` (with --demo, which also creates the demo
accounts and data). The web server starts first and answers at once; the worker
and the scheduler start once it does, and the demo is built in the background while
the site serves, every page's banner saying how far it got. A demo that is all there
is found in a few queries and nothing is built. It stays in the foreground; Ctrl-C
stops all three processes.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.core.management.base import BaseCommand
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from trailers import demo_status
from trailers.demo import DEMO_PASSWORD, DEMO_USERS, DemoOptions, demo_summary, was_built

DEMO_ADMIN = ("admin", "reelscore-admin")


CHANGED = "(the password it was given when first served to other machines, or changed since)"


def _published_or_random(user, published: str, exposed: bool) -> str:
    """The password to print for ``user``: the published one, or, served to other machines, a random one it is given
    now (only while it still has the published one: a password someone chose is kept, and not printed)."""
    if not user.check_password(published):
        return CHANGED
    if not exposed:
        return published
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.save(update_fields=["password"])
    return password


def _serves_others(host: str) -> bool:
    """Whether listening on ``host`` lets other machines in (anything but a loopback address or localhost)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: whatever it resolves to


def collect_static_for_production() -> bool:
    """With DEBUG off, pages name their CSS and JS through the static manifest that collectstatic writes
    (without it every page is a 500): collect them now. Returns whether it did."""
    if settings.DEBUG:
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    return True


# Set by Ctrl-C (SIGINT) or SIGTERM. The handler only records it and serve looks between its steps and while it
# waits: an exception raised from a handler is lost where it lands in a finalizer ("Exception ignored in:
# <finalize object>"), and a SIGTERM during start-up then left serve running until it was killed. A plain flag,
# not a threading.Event: the handler runs in the main thread, which may hold the Event's lock at that moment.
_stop_requested = False


def _request_stop(signum, frame) -> None:
    global _stop_requested
    _stop_requested = True


def _pending_migrations() -> bool:
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class _Forked:
    """A forked child, with the part of subprocess.Popen's interface that serve uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode


def _fork_web_server(host: str, port: int) -> _Forked:
    """`manage.py webserver` in a child forked from this process, before it starts any thread."""
    connections.close_all()  # the child opens its own
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: serve until told to stop
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            call_command("webserver", f"{host}:{port}", "--noreload", "--skip-checks")
        except BaseException:  # noqa: BLE001 - whatever stops it, the child ends here, never in the parent's code
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return _Forked(pid)


class Command(BaseCommand):
    help = "Run the web server, a Celery worker (both queues) and the scheduler together, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="the web server's port (default %(default)s)")
        parser.add_argument("--host", default="127.0.0.1",
                            help="the address it listens on (default %(default)s; 0.0.0.0 serves other machines)")
        parser.add_argument("--demo", action="store_true", help="create demo accounts and the demo dataset")
        parser.add_argument("--trailers", type=int, default=None,
                            help=f"demo dataset size, with --demo (default {DemoOptions.trailers})")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default %(default)s)")

    # The checks run once, after the web server answers (they take seconds on a busy machine).
    requires_system_checks = []

    def handle(self, *args, **options):
        # Ctrl-C (SIGINT) or a SIGTERM from a process manager both stop the children cleanly,
        # even where the shell started us with SIGINT ignored.
        global _stop_requested
        _stop_requested = False
        signal.signal(signal.SIGINT, _request_stop)
        signal.signal(signal.SIGTERM, _request_stop)
        if _pending_migrations():
            call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        if collect_static_for_production():
            self.stdout.write(f"DEBUG is off: static files collected into {settings.STATIC_ROOT}.")
        passwords = self._demo_passwords(exposed=_serves_others(options["host"])) if options["demo"] else None

        env = os.environ.copy()
        # The web server first, forked from this process (Django is loaded here already, so it answers without a
        # second start-up): the login page answers while the worker, which loads torch, is still starting; the
        # scheduler (Celery beat) sends the periodic sweep the worker runs.
        if _stop_requested:  # asked to stop while migrating: nothing is started
            self.stdout.write("Stopped before starting anything.")
            return
        web = _fork_web_server(options["host"], options["port"])
        url = f"http://{options['host']}:{options['port']}/"
        children = {"web server": web}
        stopped = None
        try:
            self._wait_listening(options["host"], options["port"], web)
            if not _stop_requested:
                call_command("check")
            if not _stop_requested:
                children.update(self._start_worker_and_scheduler(options, env))
                building = self._start_demo(options) if options["demo"] else None
                self._banner(url, passwords=passwords, building=building is not None)
            while not _stop_requested:
                stopped = next((name for name, child in children.items() if child.poll() is not None), None)
                if stopped:
                    break
                time.sleep(0.5)
            else:
                self.stdout.write("\nStopping the web server, the worker and the scheduler…")
        finally:
            self._stop(list(children.values()))
        if stopped and not _stop_requested:  # not asked to: a failure, for a process manager too (its output says why)
            raise CommandError(f"The {stopped} stopped by itself (exit status {children[stopped].returncode}), so "
                               "the rest were stopped too; its output above says why.")

    @staticmethod
    def _start_worker_and_scheduler(options, env) -> dict[str, subprocess.Popen]:
        # The scheduler keeps its schedule in VAR_DIR, which only the embedded database and broker make otherwise.
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
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
        return {"worker": worker, "scheduler": scheduler}

    @staticmethod
    def _wait_listening(host: str, port: int, web: subprocess.Popen, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and web.poll() is None and not _stop_requested:
            try:
                socket.create_connection((host if host != "0.0.0.0" else "127.0.0.1", port), timeout=1).close()  # noqa: S104
                return
            except OSError:
                time.sleep(0.05)

    def _start_demo(self, options) -> threading.Thread | None:
        """Build the demo in a thread of this process while the site serves; None when it is all there."""
        demo = DemoOptions(**({"trailers": options["trailers"]} if options["trailers"] else {}))
        if demo_summary(demo) is not None or was_built(demo):
            demo_status.write("complete", done=True)
            return None
        demo_status.write("starting")

        def build():
            args = ["make_demo_dataset"] + (["--trailers", str(options["trailers"])] if options["trailers"] else [])
            try:
                call_command(*args, stdout=self.stdout)
                self.stdout.write(self.style.SUCCESS("The demo is complete: every page shows it."))
            except Exception as exc:  # the site serves on; the banner says the build stopped, and why
                demo_status.write(f"it failed: {exc}", failed=True)
                self.stderr.write(f"The demo could not be built: {exc}")
            finally:
                connection.close()

        thread = threading.Thread(target=build, name="demo-build", daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _demo_passwords(*, exposed: bool) -> tuple[str, str]:
        """Make the demo's superuser if it is not there; the admin's and the demo people's passwords to print.
        Served to other machines, accounts whose passwords everyone can read in the README would be anyone's: there
        they get random ones (kept on the next runs, served only here or not); the demo people made later by the
        build get theirs (REELSCORE_DEMO_PASSWORD, read by trailers.demo)."""
        username, published = DEMO_ADMIN
        admin = User.objects.filter(username=username).first()
        if admin is None:
            admin = User.objects.create_superuser(username=username, email="admin@example.com", password=published)
        people = list(User.objects.filter(username__in=[name for name, _ in DEMO_USERS]))
        admin_password = _published_or_random(admin, published, exposed)
        people_password = DEMO_PASSWORD
        if exposed:
            people_password = secrets.token_urlsafe(9)
            os.environ["REELSCORE_DEMO_PASSWORD"] = people_password
            hashed = make_password(people_password)  # once for them all, as the build does (a hash costs a second)
            for person in people:
                if person.check_password(DEMO_PASSWORD):
                    person.password = hashed
                    person.save(update_fields=["password"])
        elif people and not people[0].check_password(people_password):
            people_password = CHANGED
        return admin_password, people_password

    def _banner(self, url: str, *, passwords: tuple[str, str] | None, building: bool = False) -> None:
        lines = ["", "=" * 64, f"Reelscore is running at {url}"]
        if building:
            lines.append("The demo is being built in the background: every page says how far it got.")
        if passwords is not None:
            lines.append(f"Admin login:     {DEMO_ADMIN[0]} / {passwords[0]}   ({url}admin/)")
            lines.append(f"Demo user login: {DEMO_USERS[0][0]} / {passwords[1]}")
            lines.append("Try first: open the dataset page, then a trailer, rate it, and see its predicted rating.")
        lines += ["Press Ctrl-C to stop the web server, the worker and the scheduler.", "=" * 64, ""]
        self.stdout.write("\n".join(lines))

    @staticmethod
    def _stop(children: list) -> None:
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
