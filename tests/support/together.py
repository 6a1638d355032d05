"""Calls run at the same moment, each in a thread of its own with its own database connection, as several web
processes or workers answer them: the races tests make."""

from __future__ import annotations

import threading

from django.db import connection


def at_once(*calls):
    """Run each call in a thread of its own, released together; what each returned or raised."""
    start, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        try:
            start.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - what it raised is the result
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def run_together(jobs) -> None:
    """Run each job at once (``at_once``); re-raise the first error any raised, in the test's thread."""
    for result in at_once(*jobs):
        if isinstance(result, Exception):
            raise result
