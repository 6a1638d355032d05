"""The Celery application. Settings come from Django's, under the CELERY_ namespace."""

import logging
import os
import sys

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("reelscore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_pool_processes = 1  # the worker's pool size, recorded before it forks its processes


def compute_threads(processes: int, cores: int) -> int:
    """How many threads each of a worker's ``processes`` computes with on ``cores``: its share, at least one.

    torch's default is every core in every process, so two pool processes on two cores ran four threads that
    waited on each other; beside any other busy process (a second worker, tests) that made embedding a trailer
    9× and a training run 4× slower (measured, README "Time to a working demo").
    """
    return max(1, cores // max(1, processes))


@worker_init.connect
def _record_pool_size(sender=None, **kwargs) -> None:
    global _pool_processes
    concurrency = getattr(sender, "concurrency", 1)
    # "auto" is resolved after this signal, to the cores available: one thread each.
    _pool_processes = concurrency if isinstance(concurrency, int) and concurrency > 0 else len(os.sched_getaffinity(0))


@worker_process_init.connect
def _share_the_cores(**kwargs) -> None:
    """Each pool process computes with its share of the cores (OMP_NUM_THREADS, where set, is kept)."""
    share = compute_threads(_pool_processes, len(os.sched_getaffinity(0)))
    try:
        threads = int(os.environ.setdefault("OMP_NUM_THREADS", str(share)))
    except ValueError:
        return  # not a number: torch warns about it and picks its own
    if "torch" in sys.modules:  # loaded before the fork: its thread pool is set already, so set it again
        sys.modules["torch"].set_num_threads(threads)
    logging.getLogger(__name__).info("pool process %s computes with %s thread(s)", os.getpid(), threads)
