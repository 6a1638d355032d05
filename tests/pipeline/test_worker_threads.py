"""Each worker pool process computes with its share of the cores: torch's default, every core in every process,
made two pool processes on two cores wait on each other (config/celery.py)."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pytest

import config.celery
from config.celery import _record_pool_size, _share_the_cores, compute_threads


@pytest.mark.parametrize(("processes", "cores", "threads"), [(2, 2, 1), (1, 2, 2), (3, 2, 1), (2, 16, 8), (0, 4, 4)])
def test_each_process_gets_its_share_and_at_least_one(processes, cores, threads):
    assert compute_threads(processes, cores) == threads


def test_a_pool_process_sets_its_share_and_keeps_an_operators(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(config.celery, "_pool_processes", 1)
    _record_pool_size(sender=SimpleNamespace(concurrency=2))
    assert config.celery._pool_processes == 2
    set_to = []
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(set_num_threads=set_to.append))

    monkeypatch.setenv("OMP_NUM_THREADS", "")  # so that what the test sets is undone after it
    monkeypatch.delenv("OMP_NUM_THREADS")
    _share_the_cores()
    assert set_to == [2]  # torch loaded before the fork: its pool is set again
    assert os.environ["OMP_NUM_THREADS"] == "2"  # torch loaded after it reads this

    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the operator's choice stands
    _share_the_cores()
    assert set_to == [2, 3] and os.environ["OMP_NUM_THREADS"] == "3"

    _record_pool_size(sender=SimpleNamespace(concurrency="auto"))  # resolved later, to the cores: one each
    monkeypatch.delenv("OMP_NUM_THREADS")
    _share_the_cores()
    assert set_to == [2, 3, 1]
