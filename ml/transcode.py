"""A copy of a trailer that web browsers can play, for trailers whose own format they cannot.

Browsers play H.264 (with AAC or MP3 sound) in MP4/MOV, and VP8/VP9/AV1 (with
Opus or Vorbis) in WebM. Trailers arrive in many more formats (AVI with MPEG-4
part 2, MPEG-TS, Matroska with H.264, FLV, ...): for those, `write_browser_copy`
writes an MP4 (H.264 + AAC, at most `max_side` pixels on its longer side, the
index at the front so playback starts before the download ends). It only ever
shows the trailer to people; the frames the model learns from come from the
original (`ml.video`).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from .files import atomic_path, media_url
from .video import probe
from .video.probe import read_options

__all__ = ["BROWSER_SAFE", "needs_browser_copy", "write_browser_copy"]

#: (container family, video codecs, audio codecs) browsers play as they are.
BROWSER_SAFE = (
    ("mp4", {"h264"}, {"aac", "mp3"}),
    ("webm", {"vp8", "vp9", "av1"}, {"opus", "vorbis"}),
)

_MILLISECOND = Fraction(1, 1000)


def needs_browser_copy(path: str | os.PathLike) -> bool:
    """Whether browsers cannot play ``path`` as it is (by its container and its streams' codecs)."""
    with av.open(media_url(path), container_options=read_options()) as container:
        family = _family(container.format.name, path)
        video = {s.codec_context.name for s in container.streams.video}
        audio = {s.codec_context.name for s in container.streams.audio}
    for safe_family, safe_video, safe_audio in BROWSER_SAFE:
        if family == safe_family and video and video <= safe_video and audio <= safe_audio:
            return False
    return True


def _family(format_name: str, path: str | os.PathLike) -> str:
    names = set(format_name.split(","))
    if names & {"mp4", "mov"}:
        return "mp4"
    if "webm" in names and Path(path).suffix.lower() == ".webm":
        return "webm"  # FFmpeg names Matroska and WebM alike; browsers play only what is WebM
    return format_name


def write_browser_copy(src: str | os.PathLike, dst: str | os.PathLike, *, max_side: int = 854,
                       crf: int = 26) -> Path:
    """Write ``src`` as an MP4 browsers play (H.264 + AAC) to ``dst``, at most ``max_side`` pixels
    on its longer side, keeping its display rotation and timing. Nothing is left at ``dst`` on failure."""
    dst = Path(dst)
    info = probe(src)
    stored_w, stored_h = (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)
    scale = min(1.0, max_side / max(stored_w, stored_h))
    width, height = (max(2, int(round(side * scale / 2)) * 2) for side in (stored_w, stored_h))
    with atomic_path(dst) as tmp, av.open(media_url(src), container_options=read_options()) as inp, \
            av.open(media_url(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        ain = inp.streams.audio[0] if inp.streams.audio else None
        vout = out.add_stream("libx264", rate=Fraction(info.fps).limit_denominator(1001) or 25,
                              options={"preset": "veryfast", "crf": str(crf)})
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.codec_context.time_base = _MILLISECOND
        vout.time_base = _MILLISECOND
        if info.rotation:
            vout.set_display_rotation((-info.rotation) % 360)  # FFmpeg's convention: counter-clockwise
        aout = None
        if ain is not None:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 48000)
            aout.layout = "stereo"
        last_pts = -1
        reformatter = VideoReformatter()  # one conversion context for every frame, not a new one per frame
        for packet in inp.demux(*(s for s in (vin, ain) if s is not None)):
            for frame in packet.decode():
                if packet.stream is vin:
                    last_pts = _encode_video(out, vout, reformatter, frame, width, height, last_pts)
                elif aout is not None:
                    for encoded in aout.encode(frame):
                        out.mux(encoded)
        for stream in (vout, aout):
            if stream is not None:
                for encoded in stream.encode(None):
                    out.mux(encoded)
    return dst


def _encode_video(out, stream, reformatter: VideoReformatter, frame: av.VideoFrame, width: int, height: int,
                  last_pts: int) -> int:
    picture = reformatter.reformat(frame, width=width, height=height, format="yuv420p")
    pts = int(round(frame.time * 1000)) if frame.time is not None else last_pts + 1
    picture.pts = max(pts, last_pts + 1)  # strictly increasing, even where the source repeats a time
    picture.time_base = _MILLISECOND
    for encoded in stream.encode(picture):
        out.mux(encoded)
    return picture.pts
