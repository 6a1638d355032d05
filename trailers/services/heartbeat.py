"""A worker's heartbeat for the work it holds (a training run, a trailer's preprocessing).

A thread stamps ``heartbeat_at`` on the work's row every ``every`` seconds while the worker holds it,
also through phases that report no progress, so that busy work is never mistaken for dead work and
dead work is handed over by the sweep once its heartbeat is old.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """``held()`` returns the row while this worker still holds the work; when it matches nothing, the
    work was taken over or ended elsewhere, and ``lost`` is set."""

    def __init__(self, held: Callable[[], QuerySet], *, every: float, name: str):
        super().__init__(name=f"heartbeat-{name}", daemon=True)
        self.held, self.every, self.label = held, max(0.5, every), name
        self.lost = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.wait(self.every):
                try:
                    if not self.held().update(heartbeat_at=timezone.now()):
                        self.lost.set()
                        return
                except Exception as exc:  # the database is away: the work may show as stale; beat again next time
                    log.warning("heartbeat of %s failed: %s", self.label, exc)
                    connection.close()
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self.join()
