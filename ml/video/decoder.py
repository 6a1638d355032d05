"""The exact-seek decoder: one open trailer whose decoder reaches each run of wanted times by seeking to the
keyframe before it, decodes only what those frames depend on, and picks the frame nearest each time."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import av
import av.error
import numpy as np

from .convert import Converter
from .errors import VideoError
from .probe import Geometry, frame_rate, geometry_of, open_container, rotation_of, stream_start, video_stream

#: Within this many frame periods of a wanted time every frame is decoded,
#: so the nearest frame is never one the decoder skipped.
_DECODE_WINDOW_FRAMES = 2.0
#: Seek forward instead of decoding on when the next wanted frame has a
#: keyframe at least this many seconds past the decoder's position.
_SEEK_AHEAD_S = 0.5
#: Rounding allowance when comparing times computed two ways, in seconds.
TIME_SLACK = 1e-6
#: Demuxers whose keyframe index comes from the file (MP4/MOV sample tables,
#: Matroska cues, AVI idx1) and can be trusted to plan seeks.
_INDEXED_FORMATS = frozenset({"mov", "mp4", "matroska", "webm", "avi"})
#: Give up stepping back after an overshooting seek once this far before the start.
_MAX_BACKOFF_S = 60.0
#: A wanted time whose nearest decoded frame is farther than this (and than _DAMAGE_FRAMES frame periods) although
#: the file holds a packet at that time: the packets there do not decode, and the file is damaged there.
_DAMAGE_S = 0.5
_DAMAGE_FRAMES = 3.0


class DamagedStream(Exception):
    """The file holds packets at a wanted time, but no frame decodes near it (``nearest``: the frame that does)."""

    def __init__(self, wanted: float, nearest: float):
        super().__init__(f"no frame decodes near {wanted:.2f} s (the nearest is at {nearest:.2f} s)")
        self.wanted, self.nearest = wanted, nearest


class _PassEnd(Enum):
    """How one pass of exact sampling (a seek, then decoding on) ended."""

    DONE = "every wanted time has its frame"
    LANDED_LATE = "the seek landed after the next wanted frame: seek further back"
    JUMPED = "a keyframe lies well ahead of the decoder: seek forward to it"
    STREAM_ENDED = "the stream ended"


@dataclass
class _ExactRun:
    """Exact sampling's progress over its passes: the frames chosen so far and where to seek next."""

    wanted: list[float]
    seek_to: float
    chosen: list[tuple[float, np.ndarray]] = field(default_factory=list)
    k: int = 0  # the next wanted time without its frame
    previous: tuple[float, av.VideoFrame] | None = None  # the last frame decoded in this pass
    backoff: float = 1.0
    seeks_left: int = 0
    jumped_from: float | None = None  # the decoder's position when the last pass jumped ahead
    tolerance: float = float("inf")  # how far a frame may be from its wanted time where the file has packets there
    with_packets: set[int] = field(default_factory=set)  # wanted times (their indices) the file has a packet at

    def __post_init__(self):
        self.seeks_left = 2 * len(self.wanted) + 16  # a bound, whatever the container's index says

    @property
    def done(self) -> bool:
        return self.k == len(self.wanted)

    @property
    def next_wanted(self) -> float:
        return self.wanted[self.k]

    @property
    def may_step_back(self) -> bool:
        return self.seek_to > -_MAX_BACKOFF_S

    def take(self, t: float, frame: av.VideoFrame, convert) -> None:
        """Frame ``frame`` at ``t`` has been decoded: each wanted time it reaches gets the nearer of it and the
        frame before."""
        while not self.done and t >= self.next_wanted:
            if self.previous is not None and self.next_wanted - self.previous[0] < t - self.next_wanted:
                at, picture = self.previous
            else:
                at, picture = t, frame
            if self.previous is not None and abs(at - self.next_wanted) > self.tolerance and self.k in self.with_packets:
                # A frame held on screen (variable frame rate) has no packets after it until the next one; here
                # the file has them, between two frames that decode, and they gave no picture: what would be taken
                # is another moment's frame. (Before the first frame a pass decodes, packets that give none are
                # those before a stream's first keyframe: a cut MPEG-TS starts so. That is no damage.)
                raise DamagedStream(self.next_wanted, at)
            self.chosen.append((at, convert(picture)))
            self.k += 1
        self.previous = (t, frame)

    def saw_packet(self, t: float, period: float) -> None:
        """A packet presented at ``t``: the wanted times within half a frame period of it have one. (A gap between
        packets proves nothing: a frame held on screen leaves one, and containers give such a frame the duration
        of any other.)"""
        i = bisect.bisect_left(self.wanted, t - period / 2, lo=self.k)
        while i < len(self.wanted) and self.wanted[i] <= t + period / 2:
            self.with_packets.add(i)
            i += 1


def _step_back(seek_to: float, backoff: float) -> tuple[float, float]:
    """Where to seek after landing too late, and the next step: further back each time, at last before the
    start."""
    return (seek_to - backoff if seek_to > 0 else -2 * _MAX_BACKOFF_S), backoff * 4


class Reader:
    """One open trailer and its decoder; samples runs of wanted times, one run after another.

    Not thread-safe: each thread that samples gets its own reader.
    """

    def __init__(self, path: Path, *, frame_threads: bool = True):
        self.path = path
        self.frame_threads = frame_threads
        self.container = open_container(path)
        try:
            self._setup_stream()
            self.time_base = self.stream.time_base
            self.origin = stream_start(self.stream)
            fps = frame_rate(self.stream)
            if fps is None:
                raise VideoError(f"{path.name}: the video's frame rate is unknown", reason="no_duration", path=path)
            self.fps = fps
            self.period = 1.0 / fps
            self.geometry: Geometry | None = None
            self._keyframes = self._read_keyframes()
            self._converters: dict[int | None, Converter] = {}
        except BaseException:
            self.container.close()
            raise

    def _setup_stream(self) -> None:
        self.stream = video_stream(self.container, self.path)
        # Frame threading when this is the only decoder; with several
        # decoders side by side each keeps to one thread.
        if self.frame_threads:
            self.stream.thread_type = "AUTO"
        else:
            self.stream.thread_type = "NONE"
            self.stream.codec_context.thread_count = 1
        self.codec = self.stream.codec_context
        self.skip = "DEFAULT"

    def close(self) -> None:
        self.container.close()

    # -- time in seconds from the first frame
    def seconds(self, ts: int) -> float:
        return float((ts - self.origin) * self.time_base)

    def timestamp(self, seconds: float) -> int:
        return self.origin + int(round(seconds / self.time_base))

    def _set_skip(self, mode: str) -> None:
        if mode != self.skip:
            self.codec.skip_frame = mode
            self.skip = mode

    def _seek(self, seconds: float) -> None:
        """Seek to the keyframe at or before ``seconds`` (before the first frame: the start)."""
        self._set_skip("DEFAULT")
        try:
            self.container.seek(self.timestamp(seconds), stream=self.stream, backward=True)
        except av.error.FFmpegError:
            # Some demuxers refuse a time before their first frame: start from the first one,
            # and where even that fails (a stream that cannot seek), open the file afresh.
            try:
                self.container.seek(self.origin, stream=self.stream, backward=True)
            except av.error.FFmpegError:
                self.container.close()
                self.container = open_container(self.path)
                self._setup_stream()

    def keyframes(self) -> list[float]:
        """Keyframe (presentation) times from the container's index; empty where there is none."""
        return self._keyframes

    def _read_keyframes(self) -> list[float]:
        # Some containers (MP4) index decoding times, which run a few frames
        # ahead of presentation times when there are B-frames: add the first
        # packet's gap between the two. An error here only costs speed, as
        # seeks go by presentation time and their landing is checked.
        # Only containers that carry a real index: FLV and MPEG-TS demuxers
        # build theirs while reading, and mark packets that are not keyframes.
        if not any(name in _INDEXED_FORMATS for name in self.container.format.name.split(",")):
            return []
        try:
            entries = self.stream.index_entries
            times = sorted(self.seconds(e.timestamp) for e in entries if e.is_keyframe and not e.is_discard)
        except Exception:  # pragma: no cover - index unreadable
            return []
        delay = 0.0
        if times:
            for packet in self.container.demux(self.stream):
                if packet.pts is not None and packet.dts is not None:
                    delay = max(0.0, float((packet.pts - packet.dts) * self.time_base))
                    break
        return [t + delay for t in times]

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        try:
            return packet.decode()
        except av.error.InvalidDataError:
            return []  # a damaged packet: the frames it carried are lost, the rest decode

    def _frame_time(self, frame: av.VideoFrame, previous: float | None) -> float:
        ts = frame.pts if frame.pts is not None else frame.dts
        if ts is None:
            return 0.0 if previous is None else previous + self.period
        return self.seconds(ts)

    def _ensure_geometry(self, frame: av.VideoFrame) -> None:
        if self.geometry is None:
            self.geometry = geometry_of(frame, self.stream, rotation_of(frame))

    def convert_for(self, size: int | None):
        """A function turning this stream's frames into upright ``size`` crops."""

        def convert(frame: av.VideoFrame) -> np.ndarray:
            converter = self._converters.get(size)
            if converter is None:
                self._ensure_geometry(frame)
                converter = self._converters[size] = Converter(self.geometry, size)
            return converter(frame)

        return convert

    # -- exact sampling
    def sample_exact(self, wanted: list[float], convert) -> list[tuple[float, np.ndarray]]:
        """The frame nearest in time to each wanted time (``wanted`` is sorted).

        Each pass seeks and decodes forward (:meth:`_exact_pass`). A pass ends when every wanted time has its
        frame; or when the seek landed after the next wanted frame, and the next pass seeks further back; or
        when a keyframe lies well ahead, and the next pass seeks forward to it instead of decoding on; or at
        the end of the stream, where the last frame stands for wanted times just after it.
        """
        run = _ExactRun(wanted=wanted, seek_to=wanted[0], tolerance=max(_DAMAGE_S, _DAMAGE_FRAMES * self.period))
        while True:
            run.seeks_left -= 1
            ended = self._exact_pass(run, convert)
            if ended is _PassEnd.DONE:
                return run.chosen
            if ended is _PassEnd.LANDED_LATE and run.seeks_left > 0:
                run.seek_to, run.backoff = _step_back(run.seek_to, run.backoff)
            elif ended is not _PassEnd.JUMPED:
                break
        while run.previous is not None and not run.done and run.next_wanted - run.previous[0] <= 1.5 * self.period:
            run.chosen.append((run.previous[0], convert(run.previous[1])))
            run.k += 1
        return run.chosen

    def _exact_pass(self, run: _ExactRun, convert) -> _PassEnd:
        """Seek to ``run.seek_to`` and decode on, choosing for each wanted time the nearer of the frames
        either side of it."""
        self._seek(run.seek_to)
        run.previous = None
        position = None  # the latest packet time handed to the decoder since the seek
        decoded = False
        for packet in self.container.demux(self.stream):
            t_packet = self._packet_time(packet)
            if t_packet is not None:
                if position is None and run.jumped_from is not None and t_packet <= run.jumped_from:
                    run.seeks_left = 0  # the jump did not move forward: stop jumping, decode on
                position = t_packet if position is None else max(position, t_packet)
            if packet.size:
                self._set_skip(self._skip_for(packet, t_packet, run))
                if packet.pts is not None:  # its presentation time, then (t_packet)
                    run.saw_packet(t_packet, self.period)
            for frame in self._decode(packet):
                t = self._frame_time(frame, run.previous[0] if run.previous else None)
                if not decoded:
                    decoded = True
                    if t > run.next_wanted + self.period / 2 and run.may_step_back:
                        # The seek landed after the wanted frame (demuxers that seek by decoding
                        # time, such as MPEG-TS, do).
                        return _PassEnd.LANDED_LATE
                    self._ensure_geometry(frame)
                run.take(t, frame, convert)
                if run.done:
                    return _PassEnd.DONE
            if position is not None and decoded and run.seeks_left > 0:
                jump = self._keyframe_ahead(run.next_wanted, position)
                if jump is not None:
                    run.seek_to, run.jumped_from = jump, position
                    return _PassEnd.JUMPED
        if not decoded and run.may_step_back:
            # Nothing decoded between the landing and the end: the seek landed on a frame
            # that is not a keyframe, past the last one.
            return _PassEnd.LANDED_LATE
        return _PassEnd.STREAM_ENDED

    def _packet_time(self, packet: av.Packet) -> float | None:
        """A packet's time (presentation, else decoding); None for an empty packet or one without either."""
        ts = packet.pts if packet.pts is not None else packet.dts
        return self.seconds(ts) if packet.size and ts is not None else None

    def _skip_for(self, packet: av.Packet, t_packet: float | None, run: _ExactRun) -> str:
        """Decode every frame near a wanted time; away from them only the frames later ones are predicted from."""
        if t_packet is None or packet.pts is None:
            return "DEFAULT"
        window = _DECODE_WINDOW_FRAMES * self.period
        i = bisect.bisect_left(run.wanted, t_packet - window, lo=run.k)
        near = i < len(run.wanted) and run.wanted[i] <= t_packet + window
        return "DEFAULT" if near else "NONREF"

    def _keyframe_ahead(self, want: float, position: float) -> float | None:
        """Where to seek to skip to a keyframe well past the decoder's position, no later than ``want``."""
        keyframes = self.keyframes()
        if not keyframes:
            return None
        # Seeking to ``want`` lands on the last keyframe at or before it.
        i = bisect.bisect_right(keyframes, want + TIME_SLACK) - 1
        if i >= 0 and keyframes[i] > position + _SEEK_AHEAD_S:
            return want
        return None

    # -- fast sampling
    def sample_fast(self, wanted: list[float], convert) -> list[tuple[float, np.ndarray]]:
        """For each wanted time the nearest keyframe; only keyframes are decoded."""
        cache: dict[float, np.ndarray] = {}
        chosen = []
        for want in wanted:
            before, after = self._keyframes_around(want)
            candidates = [c for c in (before, after) if c is not None]
            if not candidates:
                continue
            t, packet = min(candidates, key=lambda c: (abs(c[0] - want), c[0]))
            if t not in cache:
                frame = self._decode_alone(packet)
                if frame is None:
                    continue
                self._ensure_geometry(frame)
                cache[t] = convert(frame)
            chosen.append((t, cache[t]))
        return chosen

    def _keyframes_around(self, want: float):
        """The keyframe packets just at-or-before and just after ``want`` (either may be None)."""
        seek_to, backoff = want, 1.0
        while True:
            self._seek(seek_to)
            before = after = None
            for packet in self.container.demux(self.stream):
                t_packet = self._packet_time(packet)
                if t_packet is None:
                    continue
                if before is not None and t_packet - want >= want - before[0]:
                    break  # nothing from here on is nearer than the keyframe before
                if packet.is_keyframe:
                    if t_packet <= want:
                        before = (t_packet, packet)
                    else:
                        after = (t_packet, packet)
                        break
            if before is not None or seek_to <= -_MAX_BACKOFF_S:
                return before, after
            # The seek landed after ``want``: step back, as in exact sampling.
            seek_to, backoff = _step_back(seek_to, backoff)

    def _decode_alone(self, packet: av.Packet) -> av.VideoFrame | None:
        """Decode one keyframe packet on its own (the decoder is drained; the next seek resets it)."""
        self._set_skip("DEFAULT")
        self.codec.flush_buffers()
        try:
            frames = self.codec.decode(packet) + self.codec.decode(None)
        except av.error.FFmpegError:
            return None
        return frames[0] if frames else None
