"""The thread fan-out: wanted frames cut into units of work that decode independently, and readers (each an
open file with its own decoder) lent to the threads that decode them side by side."""

from __future__ import annotations

import bisect
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from .decoder import TIME_SLACK, Reader

#: A wanted frame: (time, subclip, position in the subclip).
Wanted = tuple[float, int, int]
Result = TypeVar("Result")


class ReaderPool:
    """Readers lent to one unit of work at a time; a new one is opened only while fewer than ``workers`` exist.

    The first reader is opened at once: it plans the work, and when it is the only one (``workers`` 1) it
    decodes with frame threads. Closing the pool closes every reader.
    """

    def __init__(self, path: Path, workers: int):
        self.path, self.workers = path, workers
        self.first = Reader(path, frame_threads=workers == 1)
        self._readers = [self.first]
        self._free: queue.SimpleQueue[Reader] = queue.SimpleQueue()
        self._free.put(self.first)
        self._lock = threading.Lock()

    def borrow(self) -> Reader:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                if len(self._readers) < self.workers:
                    reader = Reader(self.path, frame_threads=False)
                    self._readers.append(reader)
                    return reader
            return self._free.get()

    def give_back(self, reader: Reader) -> None:
        self._free.put(reader)

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc) -> None:
        for reader in self._readers:
            reader.close()


def plan_units(reader: Reader, per_subclip: list[list[Wanted]], *, fast: bool) -> list[list[Wanted]]:
    """Split the wanted frames into units of work: runs of wanted frames, each decoded from one seek.

    With a keyframe index, wanted frames (of all subclips together) that would
    be decoded from the same keyframe form one unit: neighbouring subclips
    never decode the same stretch twice, and units are independent. Without
    an index, and in fast mode, each subclip is one unit.
    """
    keyframes = reader.keyframes()
    if fast or not keyframes:
        return [sorted(unit) for unit in per_subclip if unit]
    units: list[list[Wanted]] = []
    entry_key = None
    for entry in sorted(entry for unit in per_subclip for entry in unit):
        key = bisect.bisect_right(keyframes, entry[0] + TIME_SLACK)  # the keyframe decoding starts from
        if units and key == entry_key:
            units[-1].append(entry)
        else:
            units.append([entry])
            entry_key = key
    return units


def unit_cost(reader: Reader, unit: list[Wanted]) -> float:
    """Seconds of video a unit decodes, roughly: from the keyframe before its first frame to its last."""
    keyframes = reader.keyframes()
    i = bisect.bisect_right(keyframes, unit[0][0] + TIME_SLACK) - 1
    entry = keyframes[i] if i >= 0 else unit[0][0] - 5.0
    return unit[-1][0] - entry


def run_units(units: list[list[Wanted]], run: Callable[[list[Wanted]], Result], *, workers: int,
              cost: Callable[[list[Wanted]], float]) -> list[Result]:
    """``run`` on every unit, on up to ``workers`` threads, longest first so that they finish together;
    the results in the units' order."""
    if workers == 1 or len(units) == 1:
        return [run(unit) for unit in units]
    order = sorted(range(len(units)), key=lambda u: -cost(units[u]))
    with ThreadPoolExecutor(max_workers=min(workers, len(units))) as pool:
        done = dict(zip(order, pool.map(run, [units[u] for u in order]), strict=True))
    return [done[u] for u in range(len(units))]
