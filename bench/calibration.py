"""Benchmark: how often the 80% interval holds new photographs and new shapes, measured on the training sides only.

Run by hand, not by the tests (about 15 minutes on 2 CPU cores, once bench/learn's sets are built)::

    .venv/bin/python -m bench.calibration --keep /tmp/learn          # bench/learn's sets (built there if missing)
    .venv/bin/python -m bench.calibration --keep /tmp/learn --seeds 1

No held-out trailer is read: each of bench/learn's training sides is scored source-out. Each side's training
photographs or shapes are dealt into at most 5 outer folds (by fold seed): motion's eight shapes since stop 40 (its
two before made two: trained on the bar, scored on the square, and the other way round). A run on the other folds'
trailers (``ml.crossval``, the ``default`` preset, as the web app cross-validates) makes the version that scores
each outer fold's trailers, and each score's interval (``ml.intervals.cv_plus``) is checked against the rating.
Printed per set, over fold seeds 0 to N-1 (``--first-seed`` F: F to F+N-1): how often each form of the interval
held the rating and its mean width, and the scored trailers' median novelty:

* ``γ`` 0 to 1: the widening for trailers unlike the training ones raised to that power (0 is plain CV+, 1 the
  interval Reelscore gives: ``ml.crossval.trailer_interval``);
* ``fit``: the errors' growth with distance fitted per run instead, |error| ≈ a + b·distance by least squares with
  a and b at least 0 on the run's pooled fold errors, the ratio of the fitted errors in place of the distances'.

Each interval is centred as Reelscore centres it: on the refit's prediction since stop 39 (moved, its width unchanged).
Then each set's MAE over the training mean's, of the fold ensemble's mean and of the refit, and their honesty (the
runs' own cross-validated MAE over it).

`bench/LEARNING.md`'s "How much the interval should widen, on the training sides" gives the figures and what was decided.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.optimize import nnls  # noqa: E402

from bench.learn import SAMPLING, build_sets, by_source, refit_of  # noqa: E402
from ml.config import PRESETS, TRAIN_PRESETS  # noqa: E402
from ml.crossval import (  # noqa: E402
    cross_validate,
    member_predictions,
    predict_samples,
    trailer_distances,
    trailer_interval,
    trailer_novelty,
)
from ml.embeddings import installed_spec, trailer_frames  # noqa: E402
from ml.intervals import FLOOR_SHARE, cv_plus  # noqa: E402
from ml.neighbours import trailer_vectors  # noqa: E402

POWERS = (0.0, 0.25, 0.5, 0.75, 1.0)
OUTER_FOLDS = 5


def fitted_scales(members, distances: list[float]) -> tuple[list[np.ndarray], list[float]]:
    """The members' fold errors' fitted sizes and the new trailer's, from |error| ≈ a + b·distance (a, b ≥ 0) on
    every member's fold errors together; floored as ``ml.intervals`` floors distances."""
    scales = np.concatenate([m.scales for m in members])
    errors = np.concatenate([m.residuals for m in members])
    (a, b), _ = nnls(np.stack([np.ones_like(scales), scales], axis=1), errors)
    floor = FLOOR_SHARE * float(np.median(a + b * scales))
    return ([np.maximum(a + b * np.asarray(m.scales), floor) for m in members],
            [max(a + b * d, floor) for d in distances])


def outer_folds(groups: list[list[str]], seed: int) -> list[set[str]]:
    """The sources dealt into at most ``OUTER_FOLDS`` folds, in an order the seed sets."""
    order = np.random.default_rng(seed).permutation(len(groups))
    n = min(OUTER_FOLDS, len(groups))
    return [{key for i in order[k::n] for key in groups[i]} for k in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, required=True, help="bench/learn's sets (built here if missing)")
    parser.add_argument("--seeds", type=int, default=3, help="fold seeds (default 3)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first fold seed (default 0; stop 39 replicated its refit decision on 3 to 7)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    spec = installed_spec("efficientnet_lite0", SAMPLING.size)
    model_config = PRESETS["default"]
    forms = [f"γ={p:g}" for p in POWERS] + ["fit"]
    for split in build_sets(args.keep, n_train=60, n_heldout=20, duration=16.0):
        held = {form: [] for form in forms}
        widths = {form: [] for form in forms}
        novelty = []
        errors = {"ensemble": [], "refit": [], "mean": []}  # each scored trailer's absolute error
        estimates = []  # each outer fold's run's cross-validated MAE, once per trailer it scored
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            train_config = TRAIN_PRESETS["default"].replace(num_workers=0, device="cpu", random_seed=seed,
                                                             single_frame_baseline=False)
            for keys in outer_folds(by_source(split.train, split.source), seed):
                scored = [s for s in split.train if s.trailer in keys]
                trained = [s for s in split.train if s.trailer not in keys]
                result = cross_validate(trained, train_config, model_config, embedding_spec=spec)
                members = result.members
                each = member_predictions(members, scored, model_config, train_config.frames_per_sample)
                looks = trailer_vectors(trailer_frames(scored))
                residuals = [m.residuals for m in members]
                refit = predict_samples([refit_of(trained, result, spec)], scored, model_config,
                                        train_config.frames_per_sample)
                train_mean = float(np.mean([s.rating for s in trained]))
                estimate = result.estimate()["summary"]["model"]["mae"]["mean"]
                for sample in scored:
                    errors["ensemble"].append(abs(float(each[sample.trailer].mean()) - sample.rating))
                    errors["refit"].append(abs(refit[sample.trailer] - sample.rating))
                    errors["mean"].append(abs(train_mean - sample.rating))
                    estimates.append(estimate)
                    distances = trailer_distances(members, looks[sample.trailer])
                    novelty.append(trailer_novelty(members, distances))
                    intervals = {f"γ={p:g}": cv_plus(each[sample.trailer], residuals,
                                                     scales=[np.asarray(m.scales) ** p for m in members],
                                                     distances=[d ** p for d in distances]) for p in POWERS}
                    scales, new = fitted_scales(members, distances)
                    intervals["fit"] = cv_plus(each[sample.trailer], residuals, scales=scales, distances=new)
                    if result.refit is not None:  # each moves with the version's prediction, the refit's
                        shift = refit[sample.trailer] - float(each[sample.trailer].mean())
                        intervals = {form: (low + shift, high + shift) for form, (low, high) in intervals.items()}
                    # γ=1 is the interval Reelscore gives, computed as it computes it.
                    assert np.allclose(intervals["γ=1"], trailer_interval(
                        members, each[sample.trailer], distances,
                        point=refit[sample.trailer] if result.refit is not None else None))
                    for form, (low, high) in intervals.items():
                        held[form].append(low <= sample.rating <= high)
                        widths[form].append(high - low)
            print(f"{split.name}: fold seed {seed} scored", flush=True)
        print(f"{split.name}: {len(novelty)} scores of {len(split.train)} training trailers, median novelty "
              f"{np.median(novelty):.2f}")
        for form in forms:
            print(f"  {form:7} holds {np.mean(held[form]):.3f}  width {np.mean(widths[form]):.2f}", flush=True)
        base = np.mean(errors["mean"])
        for point in ("ensemble", "refit"):
            print(f"  {point:7} MAE {np.mean(errors[point]):.3f} = {np.mean(errors[point]) / base:.3f}× the training "
                  f"mean's ({base:.3f}); honesty (the runs' CV MAE over it) {np.mean(estimates) / np.mean(errors[point]):.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
