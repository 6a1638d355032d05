"""The subclip plan: where in a trailer its subclips lie (a pure function of its duration; no PyAV)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml.config import Option, SamplingConfig, check_value, options

from .errors import VideoError


@dataclass(frozen=True)
class SubclipPlan:
    """One planned subclip: its position in the trailer, start and duration in seconds."""

    index: int
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "start": self.start, "duration": self.duration}


def _consecutive(duration: float, start: float, n_subclips: int, subclip_duration: float) -> list[tuple[float, float]]:
    spans = []
    for i in range(n_subclips):
        begin = start + i * subclip_duration
        length = min(subclip_duration, duration - begin)
        # The seed dropped a subclip that came out at half its length or less.
        if length <= subclip_duration / 2:
            break
        spans.append((begin, length))
    return spans


def plan_subclips(
    duration: float,
    *,
    n_subclips: int = 3,
    subclip_duration: float = 30.0,
    offset: float = 10.0,
    min_duration: float = 1.0,
) -> list[SubclipPlan]:
    """Plan the subclips of a trailer of ``duration`` seconds; pure function.

    The rule, the seed's with a fallback for short videos:

    1. Lay ``n_subclips`` consecutive, non-overlapping subclips of
       ``subclip_duration`` from ``offset`` on. One cut short by the end of the
       video is kept only if it is longer than half ``subclip_duration``;
       planning stops at the first one that is not.
    2. If none fits after ``offset``, plan again from 0 with the same rule.
    3. If still none fits, the whole video is one subclip.

    A video shorter than ``min_duration`` raises :class:`VideoError`. So with
    the defaults a 120 s trailer gives 10–40, 40–70, 70–100; 60 s gives 10–40
    and 40–60; 45 s gives 10–40; 20 s gives 0–20; 5 s gives 0–5.
    """
    check_value("duration", duration, Option(float, low=0.0))
    sampling = options(SamplingConfig)
    for name, value in (("n_subclips", n_subclips), ("subclip_duration", subclip_duration), ("offset", offset),
                        ("min_duration", min_duration)):
        check_value(name, value, sampling[name])
    duration = float(duration)
    if duration <= 0 or duration < min_duration:
        raise VideoError(
            f"the video is too short: {duration:.2f} s, the minimum is {min_duration:g} s", reason="too_short"
        )
    spans = _consecutive(duration, float(offset), n_subclips, float(subclip_duration))
    if not spans and offset > 0:
        spans = _consecutive(duration, 0.0, n_subclips, float(subclip_duration))
    if not spans:
        spans = [(0.0, duration)]
    return [SubclipPlan(index=i, start=round(s, 6), duration=round(d, 6)) for i, (s, d) in enumerate(spans)]
