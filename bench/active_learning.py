"""Benchmark: does asking for ratings where the model is least sure (rate next's default order) need fewer
ratings for the same held-out error than asking for the trailers with the fewest ratings?

Run by hand, not by the tests (about 15 minutes on 2 shared CPU cores, the trailers made once and kept)::

    .venv/bin/python -m bench.active_learning
    .venv/bin/python -m bench.active_learning --repeats 3 --budget 60 --keep bench/out/active

Synthetic trailers (``ml.synth.generate_dataset``: the rating is how an object crosses the picture and the
background's hue; ``--set content``: what real photographs show), tiny so that it runs in minutes: 3 s, one
subclip of 8 snippets of 2 frames at 112², embedded by the frozen encoder. A pool of trailers to rate and a
held-out set made with another seed. Simulated people rate as the demo's
do: the hidden rating, shifted by each person's bias, plus noise, rounded to 1–10.

Both orders start from the same first ratings (one each on a few random trailers). Each round, the model is
cross-validated (3 folds, the ``default`` preset's head, fewer epochs) on every trailer with a rating
(its label the mean rating), its fold ensemble scores the held-out set (MAE against the hidden ratings), and
``--batch`` more ratings are asked for:

* **uncertainty-first** (rate next's ``uncertain`` order): the pool's trailers in falling ensemble spread (the
  standard deviation of the fold models' predictions, as a version stores it), fewest ratings first among equals;
* **fewest-first** (rate next's ``fewest`` order): the fewest ratings first, at random among equals;
* **balanced-first**: the fewest ratings first, the largest ensemble spread first among equals.

Each rating goes to a person who has not rated that trailer yet. Printed: held-out MAE against ratings
collected for both (mean over ``--repeats``), and the ratings uncertainty-first saved to reach the MAE
fewest-first reached. An SVG of the curves goes beside the data (``--keep``, or a temporary folder).
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
from ml.crossval import cross_validate, subclip_scores  # noqa: E402
from ml.data import TrailerSample  # noqa: E402
from ml.embeddings import embed_subclip, installed_spec  # noqa: E402
from ml.frames import save_frames  # noqa: E402
from ml.metrics import mae  # noqa: E402
from ml.pixels import pixel_options, sample_head_inputs  # noqa: E402
from ml.synth import generate_content_dataset, generate_dataset  # noqa: E402
from ml.video import sample_trailer  # noqa: E402

SAMPLING = SamplingConfig(n_subclips=1, subclip_duration=2.5, offset=0.25, frames_per_subclip=8, size=112,
                          snippet_frames=2)
MODEL = PRESETS["default"].replace(frame_size=SAMPLING.size)
def SPEC():  # noqa: N802 - the one spec every embedding here was made with
    return installed_spec("efficientnet_lite0", SAMPLING.size)


RATERS = [0.0, -0.8, 0.6, 0.3, -0.4]  # each simulated person's bias, as the demo's
NOISE = 0.9


def _make(kind: str, out: Path, n: int, seed: int, side: str):
    if kind == "content":
        return generate_content_dataset(out, n, seed=seed, side=side, duration=3.0, fps=12, width=160, height=120)
    return generate_dataset(out, n, seed=seed, duration=3.0, fps=12, width=160, height=120, suffixes=(".mp4",),
                            shape=("bar", "square"))


def build(folder: Path, *, kind: str, pool: int, heldout: int) -> tuple[list[TrailerSample], list[TrailerSample]]:
    """The pool and held-out trailers, generated, sampled and embedded once (kept in ``folder``)."""
    spec = SPEC()
    sides = []
    for side, n, seed in (("train", pool, 31), ("heldout", heldout, 32)):
        index = folder / kind / side / "index.json"
        if not index.exists():
            started = time.perf_counter()
            rows = []
            for trailer in _make(kind, folder / kind / side / "videos", n, seed, side):
                (subclip,) = sample_trailer(trailer.path, SAMPLING)[1]
                stem = folder / kind / side / "frames" / trailer.title
                save_frames(subclip.frames, f"{stem}.npy")
                np.save(f"{stem}.emb.npy", embed_subclip(subclip.frames, spec))
                rows.append({"title": trailer.title, "rating": trailer.rating, "frames": f"{stem}.npy",
                             "embeddings": f"{stem}.emb.npy"})
            index.write_text(json.dumps(rows))
            print(f"  made {len(rows)} {side} trailers in {time.perf_counter() - started:.0f} s", flush=True)
        rows = json.loads(index.read_text())
        sides.append([TrailerSample(r["title"], (r["frames"],), r["rating"], (np.load(r["embeddings"]),))
                      for r in rows])
    return sides[0], sides[1]


def ensemble(members, samples: list[TrailerSample], frames: int) -> np.ndarray:
    """(members, trailers): each fold model's prediction of each trailer (the mean over its subclips)."""
    sources, owners = [], []
    for i, sample in enumerate(samples):
        items = sample_head_inputs(sample, **pixel_options(MODEL))
        sources.extend(items)
        owners.extend([i] * len(items))
    scores = subclip_scores(members, sources, MODEL, frames)
    owners = np.asarray(owners)
    return np.stack([scores[:, owners == i].mean(axis=1) for i in range(len(samples))], axis=1)


def simulate(pool, heldout, *, strategy: str, seed: int, start: int, batch: int, budget: int,
             epochs: int) -> list[tuple[int, float]]:
    """(ratings collected, held-out MAE) after each round of one strategy."""
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(seed + 1000)  # the same person gives the same trailer the same rating
    draws = {(p, t): noise.normal(0, NOISE) for p in range(len(RATERS)) for t in range(len(pool))}
    ratings: dict[int, dict[int, int]] = {}  # trailer index -> {person: score}

    def rate(t: int) -> bool:
        free = [p for p in range(len(RATERS)) if p not in ratings.get(t, {})]
        if not free:
            return False
        p = free[int(rng.integers(len(free)))]
        score = int(np.clip(round(pool[t].rating + RATERS[p] + draws[p, t]), 1, 10))
        ratings.setdefault(t, {})[p] = score
        return True

    for t in np.random.default_rng(seed).choice(len(pool), start, replace=False):  # the same start for both
        rate(int(t))
    # The fold models' mean, as this benchmark was measured (before the refit): their spread picks what to ask.
    config = TRAIN_PRESETS["default"].replace(epochs=epochs, folds=3, single_frame_baseline=False, random_seed=seed,
                                              device="cpu", num_workers=0, frames_per_sample=16, refit=False)
    truth = [s.rating for s in heldout]
    curve = []
    while True:
        rated = sorted(ratings)
        labelled = [TrailerSample(pool[t].trailer, pool[t].subclips, float(np.mean(list(ratings[t].values()))),
                                  pool[t].embeddings) for t in rated]
        result = cross_validate(labelled, config, MODEL, embedding_spec=SPEC())
        held = ensemble(result.members, heldout, config.frames_per_sample).mean(axis=0)
        collected = sum(len(r) for r in ratings.values())
        curve.append((collected, mae(truth, held.tolist())))
        if collected >= budget:
            return curve
        counts = np.array([len(ratings.get(t, {})) for t in range(len(pool))])
        if strategy in ("uncertainty", "balanced"):
            spread = ensemble(result.members, pool, config.frames_per_sample).std(axis=0)
            if strategy == "uncertainty":
                order = sorted(range(len(pool)), key=lambda t: (-spread[t], counts[t], t))
            else:
                order = sorted(range(len(pool)), key=lambda t: (counts[t], -spread[t], t))
        else:
            ties = rng.random(len(pool))
            order = sorted(range(len(pool)), key=lambda t: (counts[t], ties[t]))
        asked = 0
        for t in order:
            if asked == batch:
                break
            asked += rate(t)


def ratings_for(curve: list[tuple[int, float]], target: float) -> float | None:
    """Ratings at which ``curve`` first reaches ``target`` MAE (linear between rounds); None if it never does."""
    for (n0, m0), (n1, m1) in zip(curve, curve[1:], strict=False):
        if m0 <= target:
            return float(n0)
        if m1 <= target:
            return n0 + (n1 - n0) * (m0 - target) / (m0 - m1)
    return float(curve[-1][0]) if curve and curve[-1][1] <= target else None


def write_svg(path: Path, curves: dict[str, list[tuple[int, float]]]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from trailers.charts import Series, line_chart  # SVG only: no database, no settings read

    svg = line_chart([Series(name, points, dashed=name != "uncertainty-first") for name, points in curves.items()],
                     x_label="ratings collected", y_label="held-out MAE (rating points)",
                     label="Held-out MAE against ratings collected")
    path.write_text(str(svg).replace("<svg ", '<svg xmlns:xlink="http://www.w3.org/1999/xlink" ', 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated trailers and the SVG here")
    parser.add_argument("--set", dest="kind", choices=["motion", "content"], default="motion",
                        help="motion: the rating is how an object crosses the picture and its hue (default); content: "
                             "what real photographs show")
    parser.add_argument("--strategies", nargs="+", choices=["uncertainty", "fewest", "balanced"],
                        default=["uncertainty", "fewest", "balanced"])
    parser.add_argument("--pool", type=int, default=48, help="trailers to rate (default 48)")
    parser.add_argument("--heldout", type=int, default=24, help="held-out trailers (default 24)")
    parser.add_argument("--start", type=int, default=6, help="first ratings, one each on random trailers (default 6)")
    parser.add_argument("--batch", type=int, default=6, help="ratings asked for each round (default 6)")
    parser.add_argument("--budget", type=int, default=48, help="ratings to collect in all (default 48)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each round's fit (default 20)")
    parser.add_argument("--repeats", type=int, default=2, help="runs with other seeds, averaged (default 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="reelscore-active-"))
    print(f"{os.cpu_count()} CPUs; trailers in {folder}; sampling {SAMPLING.to_dict()}", flush=True)
    started = time.perf_counter()
    pool, heldout = build(folder, kind=args.kind, pool=args.pool, heldout=args.heldout)
    baseline = mae([s.rating for s in heldout], [float(np.mean([s.rating for s in pool]))] * len(heldout))
    print(f"held-out MAE of predicting the pool's mean hidden rating: {baseline:.3f}", flush=True)
    curves: dict[str, list[list[tuple[int, float]]]] = {name: [] for name in args.strategies}
    for repeat in range(args.repeats):
        for strategy in curves:
            curve = simulate(pool, heldout, strategy=strategy, seed=100 + repeat, start=args.start,
                             batch=args.batch, budget=args.budget, epochs=args.epochs)
            curves[strategy].append(curve)
            print(f"  repeat {repeat + 1}, {strategy}-first: " + ", ".join(f"{n}: {m:.3f}" for n, m in curve)
                  + f" ({time.perf_counter() - started:.0f} s so far)", flush=True)
    mean = {name: [(runs[0][i][0], float(np.mean([run[i][1] for run in runs]))) for i in range(len(runs[0]))]
            for name, runs in curves.items()}
    print(f"\nheld-out MAE (mean of {args.repeats} runs; predicting the pool's mean rating: {baseline:.3f})")
    names = list(mean)
    print(f"{'ratings':>8} " + " ".join(f"{name + '-first':>18}" for name in names))
    for i, (n, _) in enumerate(mean[names[0]]):
        print(f"{n:8d} " + " ".join(f"{mean[name][i][1]:18.3f}" for name in names))
    if "fewest" in mean:
        for name in (n for n in names if n != "fewest"):
            for (n, target) in mean["fewest"][len(mean["fewest"]) // 2:]:
                needed = ratings_for(mean[name], target)
                if needed is None:
                    print(f"fewest-first's MAE {target:.3f} at {n} ratings: {name}-first never reached it "
                          f"in {args.budget} (ratings saved: fewer than {n - args.budget})")
                else:
                    print(f"fewest-first's MAE {target:.3f} at {n} ratings: {name}-first reached it with "
                          f"{needed:.0f} ({n - needed:+.0f} ratings saved, {100 * (n - needed) / n:+.0f}%)")
    svg = folder / "active-learning.svg"
    write_svg(svg, {f"{name}-first": points for name, points in mean.items()})
    print(f"curves: {svg}; {time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
