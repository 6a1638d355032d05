"""Frame sampling: the wanted times of each planned subclip, decoded by readers side by side, gathered
into one :class:`SampledSubclip` per subclip; and :func:`sample_trailer`, the call preprocessing makes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av.error
import numpy as np

from ml.config import Option, SamplingConfig, check_value

from .decoder import TIME_SLACK, DamagedStream
from .errors import VideoError
from .fanout import ReaderPool, Wanted, plan_units, run_units, unit_cost
from .plan import SubclipPlan
from .probe import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, VideoInfo, check_file, cut_at, ffmpeg_words, probe

#: Most decoding threads one call starts.
_MAX_WORKERS = 4


@dataclass
class SampledSubclip:
    """The frames kept from one planned subclip.

    ``frames`` is uint8 T×H×W×3 RGB. ``timestamps`` holds, for every kept
    frame, its time in seconds from the first frame of the file;
    ``frame_indices`` the same time as a frame number at the average frame
    rate (exact for constant-frame-rate video).
    """

    plan: SubclipPlan
    frames: np.ndarray
    timestamps: list[float] = field(default_factory=list)
    frame_indices: list[int] = field(default_factory=list)


def _wanted_times(plan: SubclipPlan, fps: float, frame_step: int | None, frames_per_subclip: int | None,
                  snippet_frames: int = 1) -> list[float]:
    if frames_per_subclip is not None:
        points = [plan.start + k * plan.duration / frames_per_subclip for k in range(frames_per_subclip)]
    else:
        # Frames 0, N, 2N, … of the subclip at the stream's rate, as the seed kept them.
        n_frames = max(1, int(round(plan.duration * fps)))
        count = -(-n_frames // frame_step)
        points = [plan.start + k * frame_step / fps for k in range(count)]
    if snippet_frames == 1:
        return points  # the frame nearest each point, as the seed kept them
    # A snippet: the point's frame and the ones right after it, so that motion between them can be seen. The point
    # is first put on its frame's time: a point halfway between two frames (32.5 s at 25 fps) left the tie to the
    # nearest-frame rule twice, and rounding could give both of a snippet's times the same frame.
    return [(round(t * fps) + j) / fps for t in points for j in range(snippet_frames)]


def _check_sampling(frame_step, frames_per_subclip, size, snippet_frames) -> tuple[int | None, int | None]:
    """sample_frames' arguments, checked as SamplingConfig checks its fields (but ``size`` may be None)."""
    if frame_step is None and frames_per_subclip is None:
        frame_step = 45
    _, errors = SamplingConfig.check({"frame_step": frame_step, "frames_per_subclip": frames_per_subclip,
                                      "snippet_frames": snippet_frames, **({"size": size} if size is not None else {})})
    if errors:
        raise errors[0]
    return frame_step, frames_per_subclip


def sample_frames(
    path: str | os.PathLike,
    plan: Sequence[SubclipPlan] | SubclipPlan,
    *,
    frame_step: int | None = None,
    frames_per_subclip: int | None = None,
    size: int | None = 224,
    fast: bool = False,
    workers: int | None = None,
    snippet_frames: int = 1,
) -> list[SampledSubclip]:
    """Sample the frames of every planned subclip; one :class:`SampledSubclip` per plan entry.

    Two modes, one at a time: ``frame_step=N`` keeps the subclip's frames 0, N,
    2N, … at the stream's average frame rate (the seed's method; the default,
    N=45, when neither is given), ``frames_per_subclip=T`` keeps T frames
    evenly spaced in time (``start + k·duration/T``), whatever the frame rate.
    Each kept frame is the one whose timestamp is nearest the wanted time, so
    variable-frame-rate video samples by time too.

    Frames come out upright RGB uint8, the shorter side resized to
    round(size·255/224) and center-cropped to size×size (``size=None`` keeps
    the displayed size). The file is never decoded from its start: each run of
    wanted frames is reached by seeking to the keyframe before it, frames far
    from a wanted one are decoded only if later frames depend on them, and
    only kept frames are converted. Runs that start at different keyframes are
    independent, and ``workers`` threads (default: one per CPU, at most 4)
    decode them side by side, each with its own decoder.

    ``fast=True`` instead takes, for each wanted time, the nearest keyframe:
    much faster, off by up to half a keyframe interval, and neighbouring
    wanted times may repeat a frame. Never the default.

    ``snippet_frames=K`` takes, at each of those points, K consecutive frames
    (the point's and the K-1 after it, at the stream's rate): short snippets
    that show motion. A subclip then holds points × K frames, snippet by snippet.

    An empty plan gives an empty list. Raises :class:`VideoError` if the file
    cannot be read or a subclip yields no decodable frame.
    """
    frame_step, frames_per_subclip = _check_sampling(frame_step, frames_per_subclip, size, snippet_frames)
    plans = [plan] if isinstance(plan, SubclipPlan) else list(plan)
    path = Path(path)
    check_file(path)
    if not plans:
        return []
    if workers is None:
        workers = min(os.cpu_count() or 1, _MAX_WORKERS)
    check_value("workers", workers, Option(int, low=1))

    with ReaderPool(path, workers) as readers:
        fps = readers.first.fps
        per_subclip = [[(t, i, k) for k, t in enumerate(_wanted_times(item, fps, frame_step, frames_per_subclip,
                                                                       snippet_frames))]
                       for i, item in enumerate(plans)]
        units = plan_units(readers.first, per_subclip, fast=fast)

        def run(unit: list[Wanted]) -> list[tuple[float, np.ndarray]]:
            reader = readers.borrow()
            try:
                wanted = [t for t, _, _ in unit]
                convert = reader.convert_for(size)
                return reader.sample_fast(wanted, convert) if fast else reader.sample_exact(wanted, convert)
            except DamagedStream as exc:
                item = plans[next(i for t, i, _ in unit if t >= exc.wanted - TIME_SLACK)]
                raise VideoError(
                    f"{path.name}: subclip {item.index + 1} ({item.start:.1f}–{item.end:.1f} s): no frame decodes "
                    f"near {exc.wanted:.1f} s, though the file has pictures there (the nearest that decodes is at "
                    f"{exc.nearest:.1f} s): it looks damaged",
                    reason="damaged",
                    path=path,
                ) from None
            except av.error.FFmpegError as exc:
                item = plans[unit[0][1]]
                raise VideoError(
                    f"{path.name}: subclip {item.index + 1} ({item.start:.1f}–{item.end:.1f} s) does not decode "
                    f"({ffmpeg_words(exc)})",
                    reason="undecodable",
                    path=path,
                ) from exc
            finally:
                readers.give_back(reader)

        picked_units = run_units(units, run, workers=workers, cost=lambda unit: unit_cost(readers.first, unit))

    picked: list[list[tuple[int, float, np.ndarray]]] = [[] for _ in plans]
    for unit, got in zip(units, picked_units, strict=True):
        # A unit's frames answer its wanted times in order; one cut short by the
        # end of the file answers only the first ones.
        for (_, i, k), (t, frame) in zip(unit, got, strict=False):
            picked[i].append((k, t, frame))
    results = []
    found = [t for got in picked for _, t, _ in got]
    # The latest frame found anywhere; with none, where a file cut short before its first subclip stops (its header
    # gave the whole length, its data ends before the subclip starts).
    last = max(found) if found else cut_at(path)
    for item, got, wanted in zip(plans, picked, per_subclip, strict=True):
        if 2 * len(got) < len(wanted) and last is not None and last < item.end:
            # The picture ends long before the subclip does: a file cut short, whose header still gives the whole
            # length (its index first), would otherwise pass as a trailer sampled from its first seconds alone.
            where = f"the last frame found is at {last:.1f} s" if found else f"its picture stops at {last:.1f} s"
            raise VideoError(
                f"{path.name}: {where}, and subclip {item.index + 1} "
                f"({item.start:.1f}–{item.end:.1f} s) got {len(got)} of its {len(wanted)} frames: the file looks "
                "cut short (a download or copy that did not finish?)",
                reason="cut_short",
                path=path,
            )
        if not got:
            raise VideoError(
                f"{path.name}: subclip {item.index + 1} ({item.start:.1f}–{item.end:.1f} s) has no decodable frames",
                reason="no_frames",
                path=path,
            )
        got.sort(key=lambda entry: entry[0])
        times = [round(t, 6) for _, t, _ in got]
        results.append(
            SampledSubclip(
                plan=item,
                frames=np.stack([frame for _, _, frame in got]),
                timestamps=times,
                frame_indices=[int(round(t * fps)) for t in times],
            )
        )
    return results


def sample_trailer(
    path: str | os.PathLike,
    config: SamplingConfig | None = None,
    *,
    max_side: int | None = DEFAULT_MAX_SIDE,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> tuple[VideoInfo, list[SampledSubclip]]:
    """Probe, plan and sample a trailer with one config: the call preprocessing makes.

    Raises :class:`VideoError` for any file that cannot serve as a trailer,
    including one shorter than ``config.min_duration``.
    """
    config = config or SamplingConfig.seed()
    info = probe(path, max_side=max_side, max_pixels=max_pixels)
    plan = config.plan(info.duration)
    subclips = sample_frames(
        path,
        plan,
        frame_step=config.frame_step,
        frames_per_subclip=config.frames_per_subclip,
        size=config.size,
        fast=config.fast,
        snippet_frames=config.snippet_frames,
    )
    return info, subclips
