"""Requests at the same moment, as several web processes answer them: each call in a thread of its own."""

from __future__ import annotations

import threading

from django.db import connection


def at_once(*calls):
    """Run each call in a thread of its own, released together; what each returned or raised."""
    start, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        start.wait()
        try:
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - what it raised is the result
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results
