"""Benchmark: one default run for the admin and the demo, chosen by measurement on the demo's own trailers.

Run by hand, not by the tests (about 10 minutes on 2 shared CPU cores)::

    .venv/bin/python -m bench.demo_default
    .venv/bin/python -m bench.demo_default --keep bench/out/demo-default --epochs 10 15 20 30

The demo's dataset, made as ``trailers/demo.py`` makes it, without the web app: its 80 synthetic trailers (seed 7,
6 s at 160×120, ``ml.synth.generate_trailer``), sampled as the web app samples them (its default settings: the
seed's plan, 16 snippets of 2 frames per subclip at 112²) and embedded by the frozen encoder; its five people's
ratings (the same draws as ``trailers/demo.py``: each trailer's hidden rating, the person's bias, noise, 80% of
pairs rated); labels the mean user rating of trailers with at least ``--min-ratings`` ratings. Each candidate
(epochs × minimum ratings) is cross-validated as a run is (the ``default`` preset, 5 folds, the single-frame
baseline off: it does not change the model), and printed with its held-out MAE against the mean-rating baseline on
the same folds, the share of epochs whose MAE was worse than the baseline (what made the admin's old default look
broken), and its time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml.config import PRESETS, TRAIN_PRESETS, SamplingConfig  # noqa: E402
from ml.crossval import cross_validate  # noqa: E402
from ml.data import TrailerSample  # noqa: E402
from ml.embeddings import embed_subclip, installed_spec  # noqa: E402
from ml.frames import save_frames  # noqa: E402
from ml.synth import generate_trailer  # noqa: E402
from ml.video import sample_trailer  # noqa: E402

# The web app's default sampling (config/settings.py: REELSCORE_SAMPLING) and the demo's trailers and people.
SAMPLING = SamplingConfig(n_subclips=3, subclip_duration=30.0, offset=10.0, frame_step=None, frames_per_subclip=16,
                          size=112, snippet_frames=2)
RATERS = [("ana", 0.0), ("ben", -0.8), ("chloe", 0.6), ("dev", 0.3), ("eli", -0.4)]
CONTAINERS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".ts")


def build(folder: Path, *, trailers: int, seed: int) -> list[dict]:
    """The demo's trailers, generated, sampled and embedded once (kept in ``folder``)."""
    index = folder / "index.json"
    if index.exists():
        return json.loads(index.read_text())
    spec = installed_spec("efficientnet_lite0", SAMPLING.size)
    rows, started = [], time.perf_counter()
    for i in range(trailers):
        title = f"demo-{i:03d}"
        made = generate_trailer(folder / "videos" / f"{title}{CONTAINERS[i % len(CONTAINERS)]}",
                                seed=seed * 1000 + i, duration=6.0, width=160, height=120, fps=24)
        frames, embeddings = [], []
        for subclip in sample_trailer(made.path, SAMPLING)[1]:
            stem = folder / "frames" / f"{title}-{subclip.plan.index}"
            save_frames(subclip.frames, f"{stem}.npy")
            np.save(f"{stem}.emb.npy", embed_subclip(subclip.frames, spec))
            frames.append(f"{stem}.npy")
            embeddings.append(f"{stem}.emb.npy")
        rows.append({"title": title, "rating": made.rating, "frames": frames, "embeddings": embeddings})
    index.write_text(json.dumps(rows))
    print(f"  made the demo's {trailers} trailers in {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def demo_ratings(rows: list[dict], seed: int) -> dict[str, list[int]]:
    """Each trailer's ratings by the demo's five people, drawn as trailers/demo.py draws them."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {}
    for row in sorted(rows, key=lambda r: r["title"]):
        for _, bias in RATERS:
            seen, noise = rng.random(), rng.normal(0, 0.9)
            if seen > 0.8:
                continue
            out.setdefault(row["title"], []).append(int(np.clip(round(row["rating"] + bias + noise), 1, 10)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated trailers here")
    parser.add_argument("--trailers", type=int, default=80)
    parser.add_argument("--random-seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 15, 20, 30])
    parser.add_argument("--min-ratings", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="reelscore-demo-default-"))
    print(f"{os.cpu_count()} CPUs; trailers in {folder}", flush=True)
    rows = build(folder, trailers=args.trailers, seed=args.random_seed)
    ratings = demo_ratings(rows, args.random_seed)
    spec = installed_spec("efficientnet_lite0", SAMPLING.size)
    print(f"{'min':>3} {'trailers':>8} {'epochs':>6} {'CV MAE':>13} {'baseline':>8} {'× base':>6} "
          f"{'head ×':>6} {'share':>5} {'epochs worse':>12} {'time':>6}")
    for minimum in args.min_ratings:
        samples = [TrailerSample(r["title"], tuple(r["frames"]), float(np.mean(ratings[r["title"]])),
                                 tuple(np.load(e) for e in r["embeddings"]))
                   for r in rows if len(ratings.get(r["title"], [])) >= minimum]
        for epochs in args.epochs:
            config = TRAIN_PRESETS["default"].replace(epochs=epochs, random_seed=args.random_seed, single_frame_baseline=False,
                                                      device="cpu")
            started = time.perf_counter()
            result = cross_validate(samples, config, PRESETS["default"], embedding_spec=spec)
            seconds = time.perf_counter() - started
            summary = result.estimate()["summary"]
            model, base = summary["model"]["mae"], summary["mean_baseline"]["mae"]["mean"]
            head = (summary.get("head") or summary["model"])["mae"]["mean"]  # before the neighbours are mixed in
            history = result.history
            worse = sum(1 for m in history if m.get("val_mae") is not None and m["val_mae"] > m["baseline_mae"])
            print(f"{minimum:3d} {len(samples):8d} {epochs:6d} {model['mean']:6.3f}±{model['sd']:5.3f} {base:8.3f} "
                  f"{model['mean'] / base:6.2f} {head / base:6.2f} {result.neighbour_weight or 0:5.2f} "
                  f"{worse:5d} of {len(history):3d} {seconds:5.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
