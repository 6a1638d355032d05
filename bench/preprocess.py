"""Benchmark: the seed's trailer preprocessing (a faithful replica) against Reelscore's sampling.

Run by hand, not by the tests::

    .venv/bin/python -m bench.preprocess            # 2-minute 1080p and 720p trailers
    .venv/bin/python -m bench.preprocess --sizes 1080p --keep /tmp/bench

It generates test trailers with FFmpeg (testsrc2 with temporal noise, x264
with its default GOP and frame-type decisions, AAC audio), then runs each
pipeline in its own process and prints wall time, CPU time (process and its
children), peak memory and the ratios, and checks that both keep the same
frames: every kept picture is matched against a plain decode of the frames
around the planned one.

The seed replica does what the seed's ``preprocess`` did, with the tools it
used: ``ffmpeg -ss START -i trailer -t 30 -map 0 -vcodec copy -acodec copy``
to a subclip file (moviepy 1.x's ``ffmpeg_extract_subclip``), moviepy's
``VideoFileClip`` to check the subclip's duration, OpenCV decoding every frame
of the subclip and writing every 45th to JPEG (the well-known
``video_to_frames`` helper, with its process pool), then the training loader's
image-folder read: PIL open, ``Resize(255)``, ``CenterCrop(224)``. The replica
lives only here.

Peak memory is reported two ways: the pipeline's process tree, as the sum of
its processes' proportional set sizes (PSS: a page shared by a forked worker
and its parent counts once), sampled from /proc every 20 ms; and the largest
single process's peak resident size (the pipeline process's own ``VmHWM``
or, if larger, ``ru_maxrss`` of the subprocesses it waited for: ffmpeg,
moviepy's reader, the pool worker).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SIZES = {"1080p": (1920, 1080), "720p": (1280, 720)}
SUBCLIPS, SUBCLIP_DURATION, OFFSET, EVERY, CROP, SHORT = 3, 30, 10, 45, 224, 255


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# --------------------------------------------------------------------------- test trailers


def make_trailer(path: Path, width: int, height: int, duration: float, fps: int, preset: str,
                 gop: int | None) -> Path:
    """A trailer-like h264+AAC file: moving test pattern with film-grain-like noise.

    ``gop=None`` keeps x264's default (a keyframe every 250 frames at most,
    more at scene changes, of which this picture has none): the hard case for
    seeking. A streaming-style encode has a keyframe every 2 s or so (``gop=48``).
    """
    bitrate = {1080: "6M", 720: "3M"}.get(height, "4M")
    video = f"testsrc2=size={width}x{height}:rate={fps}:duration={duration},noise=alls=12:allf=t"
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", video,
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
        "-c:v", "libx264", "-preset", preset, "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
        "-pix_fmt", "yuv420p", *(["-g", str(gop)] if gop else []),
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return path


def seed_crop(rgb: np.ndarray) -> np.ndarray:
    """The seed loader's Resize(255) + CenterCrop(224), on an RGB array."""
    from PIL import Image

    img = Image.fromarray(rgb)
    w, h = img.size
    ow, oh = (SHORT, int(SHORT * h / w)) if w <= h else (int(SHORT * w / h), SHORT)
    img = img.resize((ow, oh), Image.BILINEAR)
    top, left = int(round((oh - CROP) / 2.0)), int(round((ow - CROP) / 2.0))
    return np.asarray(img.crop((left, top, left + CROP, top + CROP)))


def reference_frames(src: Path, n_frames: int, fps: float, spread: int = 3) -> dict[int, np.ndarray]:
    """Frame number → seed-cropped picture, for every frame within ``spread`` of a planned one.

    Decoded plainly (every frame, no skipping) as ground truth for telling which
    frame each pipeline kept: every frame of the test pattern differs.
    """
    import av

    from ml.files import media_url

    wanted = set()
    for i in range(SUBCLIPS):
        first = int(round((OFFSET + i * SUBCLIP_DURATION) * fps))
        for k in range(n_frames):
            wanted.update(range(first + k * EVERY - spread, first + k * EVERY + spread + 1))
    out = {}
    with av.open(media_url(src)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            index = int(round(float(frame.pts * stream.time_base) * fps))
            if index in wanted:
                out[index] = seed_crop(frame.to_ndarray(format="rgb24"))
            if index > max(wanted):
                break
    return out


def identify(frame: np.ndarray, reference: dict[int, np.ndarray], expected: int, spread: int = 3) -> int:
    """The reference frame number nearest ``expected`` that ``frame`` looks most like."""
    best, best_mse = expected, float("inf")
    for index in range(expected - spread, expected + spread + 1):
        if index in reference:
            mse = float(np.mean((frame.astype(np.float32) - reference[index].astype(np.float32)) ** 2))
            if mse < best_mse:
                best, best_mse = index, mse
    return best


# --------------------------------------------------------------------------- the two pipelines (child side)


def _extract_frames(video_path, frames_dir, overwrite=False, start=-1, end=-1, every=1):
    """The seed's frame writer (the common ``extract_frames`` helper), unchanged in substance."""
    import cv2

    video_path = os.path.normpath(video_path)
    frames_dir = os.path.normpath(frames_dir)
    video_dir, video_filename = os.path.split(video_path)
    capture = cv2.VideoCapture(video_path)
    if start < 0:
        start = 0
    if end < 0:
        end = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.set(1, start)
    frame = start
    while_safety = 0
    saved_count = 0
    while frame < end:
        _, image = capture.read()
        if while_safety > 500:
            break
        if image is None:
            while_safety += 1
            continue
        if frame % every == 0:
            while_safety = 0
            save_path = os.path.join(frames_dir, video_filename, f"{frame:010d}.jpg")
            if not os.path.exists(save_path) or overwrite:
                cv2.imwrite(save_path, image)
                saved_count += 1
        frame += 1
    capture.release()
    return saved_count


def _video_to_frames(video_path, frames_dir, overwrite=False, every=1, chunk_size=1000):
    """The seed's ``video_to_frames``: chunks of 1000 frames over a process pool."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import cv2

    video_path = os.path.normpath(video_path)
    frames_dir = os.path.normpath(frames_dir)
    video_dir, video_filename = os.path.split(video_path)
    os.makedirs(os.path.join(frames_dir, video_filename), exist_ok=True)
    capture = cv2.VideoCapture(video_path)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    if total < 1:
        return None
    frame_chunks = [[i, i + chunk_size] for i in range(0, total, chunk_size)]
    frame_chunks[-1][-1] = min(frame_chunks[-1][-1], total - 1)
    with ProcessPoolExecutor(max_workers=multiprocessing.cpu_count()) as executor:
        futures = [
            executor.submit(_extract_frames, video_path, frames_dir, overwrite, f[0], f[1], every)
            for f in frame_chunks
        ]
        for future in as_completed(futures):
            future.result()
    return os.path.join(frames_dir, video_filename)


def _load_image_folder(folder: Path) -> np.ndarray:
    """What the seed's loader did with a subclip's JPEGs: RGB, Resize(255), CenterCrop(224)."""
    from PIL import Image

    frames = []
    for jpg in sorted(folder.glob("*.jpg")):
        with Image.open(jpg) as img:
            frames.append(seed_crop(np.asarray(img.convert("RGB"))))
    return np.stack(frames)


def run_seed(src: Path, work: Path) -> dict:
    from moviepy import VideoFileClip

    ffmpeg = ffmpeg_exe()
    fpath, dest = work / "subclips", work / "train"
    fpath.mkdir(parents=True, exist_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    name, fmt = src.stem, src.suffix.lstrip(".")
    base = OFFSET
    subclips, indices = [], []
    for i in range(SUBCLIPS):
        target = fpath / f"{i}.{fmt}"
        # moviepy 1.x ffmpeg_extract_subclip(filename, t1, t2, targetname)
        cmd = [ffmpeg, "-y", "-ss", f"{base:0.2f}", "-i", str(src), "-t", f"{SUBCLIP_DURATION:0.2f}",
               "-map", "0", "-vcodec", "copy", "-acodec", "copy", str(target)]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base += SUBCLIP_DURATION
        clip = VideoFileClip(str(target))
        too_short = int(clip.duration) <= SUBCLIP_DURATION // 2
        clip.close()
        if too_short:
            target.unlink()
            continue
        out = dest / f"{name}_{i}"
        folder = _video_to_frames(str(target), str(out), overwrite=False, every=EVERY)
        subclips.append(_load_image_folder(Path(folder)))
        indices.append([int(p.stem) for p in sorted(Path(folder).glob("*.jpg"))])
    shutil.rmtree(fpath)
    return {"subclips": subclips, "indices": indices}


def run_reelscore(src: Path, work: Path, fast: bool) -> dict:
    from ml.config import SamplingConfig
    from ml.frames import save_frames, write_contact_sheet
    from ml.video import sample_trailer

    config = SamplingConfig(fast=fast)
    info, sampled = sample_trailer(src, config)
    for sub in sampled:  # Reelscore's storage, as the seed wrote JPEGs
        save_frames(sub.frames, work / f"{sub.plan.index}.npy")
        write_contact_sheet(sub.frames, work / f"{sub.plan.index}.jpg")
    return {"subclips": [s.frames for s in sampled], "indices": [s.frame_indices for s in sampled]}


def child_main(args) -> None:
    src, work, out = Path(args.src), Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    # Imports are the same for every run; only the pipeline is timed.
    if args.child == "seed":
        import cv2  # noqa: F401
        import moviepy  # noqa: F401
        import PIL.Image  # noqa: F401
    else:
        import av  # noqa: F401

        import ml.video  # noqa: F401
    r0s, r0c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    if args.child == "seed":
        result = run_seed(src, work)
    else:
        result = run_reelscore(src, work, fast=args.child == "reelscore-fast")
    wall = time.perf_counter() - t0
    r1s, r1c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime) for a, b in ((r0s, r1s), (r0c, r1c))
    )
    # Own peak from /proc (a spawned process's ru_maxrss starts at its parent's).
    own_peak = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own_peak = int(line.split()[1]) * 1024
    largest = max(own_peak, r1c.ru_maxrss * 1024)
    np.savez(out, *result["subclips"])
    out.with_suffix(".json").write_text(
        json.dumps({"wall": wall, "cpu": cpu, "largest": largest, "indices": result["indices"]})
    )


# --------------------------------------------------------------------------- measuring (parent side)


def _pss(pid: int) -> int:
    """Proportional set size: resident bytes, with pages shared by N processes counted 1/N each."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_pss(root: int) -> int:
    """PSS of ``root`` and all its descendants: a forked worker's pages shared with its parent count once."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss(pid)
        stack.extend(children.get(pid, []))
    return total


def measure(kind: str, src: Path, tmp: Path) -> dict:
    work = tmp / f"work-{kind}"
    out = tmp / f"out-{kind}.npz"
    cmd = [sys.executable, "-m", "bench.preprocess", "--child", kind, "--src", str(src),
           "--work", str(work), "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent)
    peak_tree = 0
    done = threading.Event()

    def sample():
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, _tree_pss(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, _ = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{kind} failed with exit status {proc.returncode}")
    meta = json.loads(out.with_suffix(".json").read_text())
    with np.load(out) as data:
        subclips = [data[f"arr_{i}"] for i in range(len(data.files))]
    shutil.rmtree(work, ignore_errors=True)
    return {
        "wall": meta["wall"],
        "cpu": meta["cpu"],
        "rss_max": meta["largest"],
        "rss_tree": peak_tree,
        "indices": meta["indices"],
        "subclips": subclips,
    }


def compare(seed: dict, ours: dict, reference: dict[int, np.ndarray], fps: float) -> dict:
    """Which frames each pipeline kept (identified against a plain decode), and how alike the pictures are."""
    pairs = same = within_one = worst = 0
    off_plan = 0
    mse = []
    for i, (a, b) in enumerate(zip(seed["subclips"], ours["subclips"], strict=False)):
        first = int(round((OFFSET + i * SUBCLIP_DURATION) * fps))
        for k, (fa, fb) in enumerate(zip(a, b, strict=False)):
            expected = first + k * EVERY
            ia, ib = identify(fa, reference, expected), identify(fb, reference, expected)
            pairs += 1
            same += ia == ib
            within_one += abs(ia - ib) <= 1
            worst = max(worst, abs(ia - ib))
            off_plan = max(off_plan, abs(ib - expected))
            mse.append(float(np.mean((fa.astype(np.float32) - fb.astype(np.float32)) ** 2)))
    return {
        "pairs": pairs,
        "same": same,
        "within_one": within_one,
        "worst": worst,
        "off_plan": off_plan,
        "psnr": 10 * np.log10(255**2 / max(1e-9, float(np.mean(mse)))) if mse else float("nan"),
        "counts": ([len(x) for x in seed["subclips"]], [len(x) for x in ours["subclips"]]),
    }


def frame_numbers(subclips: list[np.ndarray], reference: dict[int, np.ndarray], fps: float, i: int) -> list[int]:
    first = int(round((OFFSET + i * SUBCLIP_DURATION) * fps))
    return [identify(f, reference, first + k * EVERY) for k, f in enumerate(subclips[i])]


def fmt_mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1080p", "720p"], choices=sorted(SIZES))
    parser.add_argument("--duration", type=float, default=120.0, help="trailer length in seconds")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--preset", default="veryfast", help="x264 preset for the generated trailers")
    parser.add_argument("--gop", type=int, help="keyframe interval in frames (default: x264's, 250)")
    parser.add_argument("--keep", help="directory to keep (and reuse) generated trailers in")
    parser.add_argument("--no-fast", action="store_true", help="skip the fast (keyframe) mode run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each pipeline; the fastest is reported")
    parser.add_argument("--child", choices=["seed", "reelscore", "reelscore-fast"], help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return

    tmp = Path(tempfile.mkdtemp(prefix="reelscore-bench-"))
    store = Path(args.keep) if args.keep else tmp
    store.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; work in {tmp}")
    try:
        for label in args.sizes:
            width, height = SIZES[label]
            gop = f"gop{args.gop}" if args.gop else "gop250"
            src = store / f"trailer-{label}-{int(args.duration)}s-{gop}.mp4"
            if not src.exists():
                t0 = time.perf_counter()
                make_trailer(src, width, height, args.duration, args.fps, args.preset, args.gop)
                print(f"made {src.name} ({src.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - t0:.0f} s")
            kinds = ["seed", "reelscore"] + ([] if args.no_fast else ["reelscore-fast"])
            load = os.getloadavg()[0]
            # Interleaved repeats, best wall time kept: other work on the machine hurts all alike.
            runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
            for _ in range(args.repeat):
                for kind in kinds:
                    runs[kind].append(measure(kind, src, tmp))
            results = {kind: min(r, key=lambda x: x["wall"]) for kind, r in runs.items()}
            for kind, r in runs.items():
                results[kind]["rss_max"] = max(x["rss_max"] for x in r)
                results[kind]["rss_tree"] = max(x["rss_tree"] for x in r)
            seed = results["seed"]
            print(f"\n{label} {width}x{height}, {args.duration:.0f} s, {gop}, h264 {args.preset} + AAC; best of "
                  f"{args.repeat}; load average before: {load:.2f}, after: {os.getloadavg()[0]:.2f}")  # fmt: skip
            print(f"{'pipeline':<16}{'wall':>9}{'CPU':>9}{'peak PSS (tree)':>17}{'RSS (largest)':>15}"
                  f"{'wall ×':>9}{'CPU ×':>8}{'PSS ×':>8}{'RSS ×':>8}")  # fmt: skip
            for kind, r in results.items():
                print(f"{kind:<16}{r['wall']:8.2f}s{r['cpu']:8.2f}s{fmt_mb(r['rss_tree']):>17}"
                      f"{fmt_mb(r['rss_max']):>15}{seed['wall'] / r['wall']:8.2f}×{seed['cpu'] / r['cpu']:7.2f}×"
                      f"{r['rss_tree'] / seed['rss_tree']:7.2f}×{r['rss_max'] / seed['rss_max']:7.2f}×")  # fmt: skip
            most = max(len(x) for r in results.values() for x in r["subclips"])
            reference = reference_frames(src, most, args.fps)
            for kind in kinds[1:]:
                if kind == "reelscore-fast":
                    offsets = [abs(got - (int(round((OFFSET + i * SUBCLIP_DURATION) * args.fps)) + k * EVERY))
                               for i, sub in enumerate(results[kind]["indices"]) for k, got in enumerate(sub)]
                    print(f"frames {kind}: nearest keyframes, by design not the planned frames: "
                          f"{sum(o == 0 for o in offsets)} of {len(offsets)} exact, mean {np.mean(offsets):.1f} "
                          f"and worst {max(offsets)} frames from the planned frame")  # fmt: skip
                    continue
                c = compare(seed, results[kind], reference, args.fps)
                print(f"frames {kind} vs seed: {c['pairs']} pairs (frames per subclip {c['counts'][1]} vs "
                      f"{c['counts'][0]}): same frame {c['same']}, within one frame {c['within_one']}, "
                      f"worst {c['worst']} apart; worst {c['off_plan']} from the planned frame; "
                      f"PSNR between the pictures {c['psnr']:.1f} dB")  # fmt: skip
            for kind in ("seed", "reelscore"):
                print(f"{kind} frame numbers, subclip 0: {frame_numbers(results[kind]['subclips'], reference, args.fps, 0)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
