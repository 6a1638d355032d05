"""Benchmark: what the presets learn about trailers they have never seen, and whether their estimates hold.

Run by hand, not by the tests (about 15–25 minutes on 2 CPU cores, most of it the ``scratch`` CNN)::

    .venv/bin/python -m bench.learn
    .venv/bin/python -m bench.learn --presets default single_frame      # the pretrained heads only
    .venv/bin/python -m bench.learn --keep bench/out/learn              # reuse the generated sets
    .venv/bin/python -m bench.learn --presets default --seeds 5         # 5 fold seeds and their mean
    .venv/bin/python -m bench.learn --presets scratch --scratch-epochs 0  # scratch at its preset's 20 epochs

Two sets of synthetic trailers, each a training set and a held-out set that share no source footage:

* **content**: the rating is what real photographs show (``ml.synth.PHOTO_KINDS``: four kinds of
  subject, photographs that ship inside registry wheels); the held-out trailers are made from 8 *other
  photographs* of the same kinds (62 photographs train since stop 40, 17 before).
* **motion**: the rating is how far and which way an object crosses the picture, plus the
  background hue (``ml.synth.generate_trailer``); the held-out trailers are made with another
  random seed and other object shapes (disc, ring, cross against eight training shapes since stop 40; bar and
  square before).

``--side fresh4`` scores another side of each set in place of the held-out one: new sources kept back from every
measurement until one clean test of the ``default`` preset (content: 8 photographs from five wheels no other side
reads; motion: chevrons and hourglasses, another seed). The held-out sides had been scored after each change since
stop 19 and so had become a development set. Stop 38's, stop 39's and stop 40's first fresh sides were each such a
test, scored once, and have joined the training side since.

Every trailer is preprocessed once, as Reelscore does it (``ml.video.sample_trailer``, 3 subclips ×
16 snippets of 2 consecutive frames at 112² (the web default), and the frozen encoder's embeddings), and kept under
``--keep``. Each preset is then cross-validated on the training set (``ml.crossval``, 5 folds, the
settings of the preset, nothing tuned here) and its fold ensemble scores the held-out set. Printed
per set and preset: the cross-validated MAE (mean over folds) against the mean-rating baseline on the
same folds, the held-out MAE against the training mean with its 90% interval (a bootstrap that
resamples the held-out *sources*, since 20 trailers from 8 photographs or 3 shapes are few
observations), the ratio of the two MAEs ("honesty": 1.00 means the estimate foretold the held-out
figure; under each row, each held-out source's trailers: the model's MAE and the training mean's on them, how unlike
they look, and the held-out ratio without them), the same cross-validation with folds that never share a source (``src CV``: what a run
cannot know, since it is not told the sources; the gap between it and ``CV`` is the part of the
estimate's optimism that comes from sources seen on both sides), the single-frame head's and the
nearest-neighbours baseline's (``ml.neighbours``) figures on the same folds, the head alone (before the
neighbours are mixed in: its CV and held-out ratios, shown, never used to choose) and the neighbours' share
in the version (``share``), how many held-out ratings fell in the 80% interval each prediction carries
(``in 80%``, ``ml.intervals``, and its mean ``width`` in rating points; ``CV+ in 80%`` and ``CV+ width`` are plain
CV+'s, not widened for trailers unlike the training ones; ``unlike`` the held-out trailers' median ``novelty``, how
unlike the training trailers they look, 1 being as unlike as a typical trailer in cross-validation) and how many
the members' spread
would have held, read as an error bar (``±sd in 80%``: within 1.28 of their standard deviations), a refit on every training trailer with the same epochs (mixed with every training trailer's neighbours in the
same share; since stop 39 the ``default`` preset's predictions, so ``held ×`` is the refit's there: ``refit ×``)
and the fold ensemble's mean (``ens ×``, the version's predictions before stop 39), and the time each took. With
``--seeds N`` each set and preset is measured with fold seeds 0 to N-1 (the folds,
and the heads' initial weights, change with it), and the mean and range of each ratio follow: on sets
this small, which sources share a fold decides much of one seed's figures. Then the costs: the head's
training on cached embeddings for 100 trailers × 5 folds, and the embedding of one trailer's subclips.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml.config import PRESETS, TRAIN_PRESETS, SamplingConfig  # noqa: E402
from ml.crossval import (  # noqa: E402
    Member,
    cross_validate,
    member_predictions,
    predict_samples,
    refit_member,
    trailer_distances,
    trailer_interval,
    trailer_novelty,
)
from ml.data import TrailerSample  # noqa: E402
from ml.embeddings import embed_subclip, installed_spec, trailer_frames  # noqa: E402
from ml.frames import save_frames  # noqa: E402
from ml.intervals import COVERAGE, COVERAGE_WORDS, cv_plus  # noqa: E402
from ml.metrics import mae  # noqa: E402
from ml.neighbours import trailer_vectors  # noqa: E402
from ml.synth import PHOTO_KINDS, generate_content_dataset, generate_dataset  # noqa: E402
from ml.video import sample_trailer  # noqa: E402

SAMPLING = SamplingConfig(n_subclips=3, subclip_duration=4.0, offset=1.0, frames_per_subclip=16, size=112,
                          snippet_frames=2)
# The interval's columns, named by its coverage; the members' spread read as an error bar of the same coverage
# (± 1.28 sd holds 80% of a normal error).
COVERED = f"in {COVERAGE_WORDS['percent']}"
PLAIN_COVERED = f"CV+ {COVERED}"  # plain CV+, not widened for unlike trailers
SPREAD_COVERED = f"±sd {COVERED}"
SPREAD_Z = NormalDist().inv_cdf(0.5 + COVERAGE / 2)
SCRATCH_EPOCHS = 10  # the scratch CNN's preset trains 20; half keeps this bench under half an hour


@dataclass
class Split:
    name: str
    train: list[TrailerSample]
    heldout: list[TrailerSample]
    source: dict[str, str]  # trailer ("side:title") → the photograph or shape it was made from


def by_source(samples: list[TrailerSample], source: dict[str, str]) -> list[list[str]]:
    """The trailers of each source, as groups."""
    groups: dict[str, list[str]] = {}
    for sample in samples:
        groups.setdefault(source[sample.trailer], []).append(sample.trailer)
    return list(groups.values())


def source_bootstrap(samples: list[TrailerSample], predicted: dict, train_mean: float, source: dict[str, str],
                     *, reps: int = 2000, seed: int = 0) -> np.ndarray:
    """The held-out MAE over the training mean's MAE, resampled by source (a cluster bootstrap: the held-out
    trailers are few sources, each many trailers): ``reps`` values."""
    groups = by_source(samples, source)
    rating = {s.trailer: s.rating for s in samples}
    errors = [(np.array([abs(predicted[k] - rating[k]) for k in g]), np.array([abs(train_mean - rating[k]) for k in g]))
              for g in groups]
    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    for r in range(reps):
        pick = rng.integers(len(groups), size=len(groups))
        model = np.concatenate([errors[i][0] for i in pick])
        base = np.concatenate([errors[i][1] for i in pick])
        out[r] = model.mean() / max(base.mean(), 1e-9)
    return out


def by_source_errors(samples: list[TrailerSample], predicted: dict, train_mean: float, source: dict[str, str],
                     novelty: dict) -> list[dict]:
    """Each held-out source's share of the held-out figure: its trailers' mean rating and prediction, the model's MAE and the
    training mean's on them, their median novelty, and the held-out ratio over every *other* source (how much this
    one source decides the set's figure). Shown, never used to choose anything."""
    rows = []
    rating = {s.trailer: s.rating for s in samples}
    groups = {source[g[0]]: g for g in by_source(samples, source)}
    for name, group in sorted(groups.items(), key=lambda item: np.mean([rating[k] for k in item[1]])):
        rest = [k for k in rating if source[k] != name]
        rows.append({
            "source": name, "n": len(group), "rating": float(np.mean([rating[k] for k in group])),
            "predicted": float(np.mean([predicted[k] for k in group])),
            "mae": mae([rating[k] for k in group], [predicted[k] for k in group]),
            "baseline": mae([rating[k] for k in group], [train_mean] * len(group)),
            "novelty": float(np.median([novelty[k] for k in group])) if all(novelty[k] is not None for k in group)
            else None,
            "without": mae([rating[k] for k in rest], [predicted[k] for k in rest])
            / max(mae([rating[k] for k in rest], [train_mean] * len(rest)), 1e-9),
        })
    return rows


# Each set's sides: (its seed, its shapes for motion). A fresh side is new sources kept back from every measurement
# until one clean test of the `default` preset: new photographs (ml.synth.PHOTO_KINDS' fresh4), new shapes, new seeds.
# Stop 38's and stop 39's (seeds 13 and 23, 14 and 24) and stop 40's first (fresh3: seeds 15 and 25, arrows and
# hearts) have been spent, and their shapes and photographs have joined the training side; fresh4 is the next,
# written down before anything was measured on it.
SIDES = ("heldout", "fresh4")  # the sides a run can be measured on; "train" is what it learns from
SEEDS = {"content": {"train": 11, "heldout": 12, "fresh4": 16},
         "motion": {"train": 21, "heldout": 22, "fresh4": 26}}
MOTION_SHAPES = {"train": ("bar", "square", "triangle", "diamond", "star", "crescent", "arrow", "heart"),
                 "heldout": ("disc", "ring", "cross"), "fresh4": ("chevron", "hourglass")}


def build_sets(folder: Path, *, n_train: int, n_heldout: int, duration: float, side: str = "heldout") -> list[Split]:
    """The content and motion sets, generated, preprocessed and embedded once (kept in ``folder``), each measured on
    its ``side`` (one of ``SIDES``); a set with no sources on that side is left out, and said so."""
    spec = installed_spec("efficientnet_lite0", SAMPLING.size)
    makers = {
        "content": (lambda out, n, side: generate_content_dataset(out, n, seed=SEEDS["content"][side],
                                                                  side=side, duration=duration)),
        "motion": (lambda out, n, side: generate_dataset(
            out, n, seed=SEEDS["motion"][side], duration=duration, suffixes=(".mp4",), shape=MOTION_SHAPES[side])),
    }
    if side not in SIDES:
        raise ValueError(f"side must be one of {', '.join(SIDES)}; got {side!r}")
    sets = []
    for name, make in makers.items():
        if name == "content" and not any(kind.side(side) for kind in PHOTO_KINDS.values()):
            print(f"  content has no photographs on the {side} side: left out", flush=True)
            continue
        sides, source = {}, {}
        for made, n in (("train", n_train), (side, n_heldout)):
            where = folder / name / made
            index, recipe_file = where / "index.json", where / "recipe.json"
            recipe = {"trailers": n, "seed": SEEDS[name][made], "duration": duration, "sampling": SAMPLING.to_dict(),
                      "sources": ({kind: list(entry.side(made)) for kind, entry in PHOTO_KINDS.items()}
                                  if name == "content" else list(MOTION_SHAPES[made]))}
            if index.exists() and (not recipe_file.exists() or json.loads(recipe_file.read_text()) != recipe):
                # A set kept from other sources or settings (an older catalogue, another --train): never reused.
                print(f"  the kept {name}/{made} was made from other sources or settings: made again", flush=True)
                shutil.rmtree(where)
            if not index.exists():
                started = time.perf_counter()
                trailers = make(where / "videos", n, made)
                rows = []
                for trailer in trailers:
                    _, subclips = sample_trailer(trailer.path, SAMPLING)
                    frames, embeddings = [], []
                    for subclip in subclips:
                        stem = where / "frames" / f"{trailer.title}-{subclip.plan.index}"
                        save_frames(subclip.frames, f"{stem}.npy")
                        np.save(f"{stem}.emb.npy", embed_subclip(subclip.frames, spec))
                        frames.append(f"{stem}.npy")
                        embeddings.append(f"{stem}.emb.npy")
                    rows.append({"title": trailer.title, "rating": trailer.rating, "frames": frames,
                                 "embeddings": embeddings, "source": trailer.photo or trailer.shape})
                index.write_text(json.dumps(rows))
                recipe_file.write_text(json.dumps(recipe))
                print(f"  made {name}/{made}: {len(rows)} trailers in {time.perf_counter() - started:.0f} s",
                      flush=True)
            rows = json.loads(index.read_text())
            # Keyed by side too: both sides number their trailers from 0, so a bare title names two trailers.
            source.update({f"{made}:{r['title']}": r["source"] for r in rows})
            sides[made] = [TrailerSample(f"{made}:{r['title']}", tuple(r["frames"]), r["rating"],
                                         tuple(np.load(e) for e in r["embeddings"])) for r in rows]
        sets.append(Split(name, sides["train"], sides[side], source))
    return sets


def evaluate(split: Split, preset: str, spec, seed: int = 0, scratch_epochs: int = SCRATCH_EPOCHS) -> dict:
    """Cross-validate ``preset`` on the training set with fold seed ``seed``; score the held-out set with the
    ensemble and a refit (``scratch`` with ``scratch_epochs``, 0 for its preset's)."""
    model_config = PRESETS[preset]
    train_config = TRAIN_PRESETS[preset].replace(num_workers=0, device="cpu", random_seed=seed)
    if preset == "scratch":
        train_config = train_config.replace(epochs=scratch_epochs or train_config.epochs, single_frame_baseline=False)
    started = time.perf_counter()
    result = cross_validate(split.train, train_config, model_config, embedding_spec=spec)
    cv_seconds = time.perf_counter() - started
    estimate = result.estimate()["summary"]
    truth = [s.rating for s in split.heldout]
    train_mean = float(np.mean([s.rating for s in split.train]))
    each = member_predictions(result.members, split.heldout, model_config, train_config.frames_per_sample)
    ensemble = {key: float(values.mean()) for key, values in each.items()}
    refit = predict_samples([refit_of(split.train, result, spec)], split.heldout, model_config,
                            train_config.frames_per_sample)
    held = refit if result.refit is not None else ensemble  # the version's predictions, as Reelscore makes them
    heldout_mae = mae(truth, [held[s.trailer] for s in split.heldout])
    # The 80% intervals a user sees beside each prediction (ml.intervals): how often they held the rating; and
    # plain CV+'s, not widened for trailers unlike the training ones.
    held_looks = trailer_vectors(trailer_frames(split.heldout))
    distances = {s.trailer: trailer_distances(result.members, held_looks[s.trailer]) for s in split.heldout}
    intervals = [trailer_interval(result.members, each[s.trailer], distances[s.trailer],
                                  point=held[s.trailer] if result.refit is not None else None) for s in split.heldout]
    novelty = [trailer_novelty(result.members, distances[s.trailer]) for s in split.heldout]
    covered, width = held_rate(intervals, split.heldout)
    plain_covered, plain_width = held_rate(
        [cv_plus(each[s.trailer], [m.residuals for m in result.members]) for s in split.heldout], split.heldout)
    # The members' spread read as an error bar: what it would promise.
    spread_covered = float(np.mean([abs(held[s.trailer] - s.rating) <= SPREAD_Z * each[s.trailer].std()
                                    for s in split.heldout])) if len(result.members) > 1 else None
    # The heads alone, without the neighbours mixed in: shown, never used to choose anything.
    heads = [Member(m.model, m.normaliser) for m in result.members]
    head_held = predict_samples(heads, split.heldout, model_config, train_config.frames_per_sample)
    spread = source_bootstrap(split.heldout, held, train_mean, split.source)
    # The same cross-validation with folds that never share a source (what the run cannot know): how much
    # of the gap between its estimate and the held-out figure is the shift to unseen sources.
    by_source_cv = cross_validate(split.train, train_config.replace(single_frame_baseline=False), model_config,
                                  embedding_spec=spec, known_groups=by_source(split.train, split.source))
    source_estimate = by_source_cv.estimate()["summary"]
    return {
        "seed": seed, "cv_mae": estimate["model"]["mae"]["mean"], "cv_sd": estimate["model"]["mae"]["sd"],
        "cv_baseline": estimate["mean_baseline"]["mae"]["mean"],
        "cv_single": (estimate.get("single_frame") or {}).get("mae", {}).get("mean"),
        "cv_neighbours": estimate["neighbours"]["mae"]["mean"],
        "cv_head": (estimate.get("head") or estimate["model"])["mae"]["mean"],
        "head_mae": mae(truth, [head_held[s.trailer] for s in split.heldout]),
        "share": result.neighbour_weight or 0.0,
        "heldout_mae": heldout_mae, "heldout_baseline": mae(truth, [train_mean] * len(truth)),
        "refit_mae": mae(truth, [refit[s.trailer] for s in split.heldout]),
        "ensemble_mae": mae(truth, [ensemble[s.trailer] for s in split.heldout]),
        "groups": len(result.groups), "seconds": cv_seconds,
        "heldout_ratio_90": (float(np.percentile(spread, 5)), float(np.percentile(spread, 95))),
        "source_cv_ratio": source_estimate["model"]["mae"]["mean"] / source_estimate["mean_baseline"]["mae"]["mean"],
        "spearman": estimate["model"]["spearman"]["mean"], "covered": covered, "width": width,
        "plain_covered": plain_covered, "plain_width": plain_width,
        "novelty": float(np.median(novelty)) if all(n is not None for n in novelty) else None,
        "spread_covered": spread_covered,
        "by_source": by_source_errors(split.heldout, held, train_mean, split.source,
                                      {s.trailer: n for s, n in zip(split.heldout, novelty, strict=True)}),
    }


def refit_of(train: list[TrailerSample], result, spec) -> Member:
    """``result``'s refit on every ``train`` trailer: the run's own where its preset makes one
    (``TrainConfig.refit``), else one made here as a run would make it, with fixed epochs."""
    if result.refit is not None:
        return result.refit
    looks = trailer_vectors(trailer_frames(train)) if result.model_config.uses_embeddings else None
    return refit_member(train, result.train_config.replace(restore_best=False, early_stopping_patience=None),
                        result.model_config, embedding_spec=spec, looks=looks, weight=result.neighbour_weight)


def held_rate(intervals: list, samples: list[TrailerSample]) -> tuple[float | None, float | None]:
    """How often the intervals held the ratings, and their mean width; None without intervals."""
    if not all(intervals):
        return None, None
    held = [low <= s.rating <= high for (low, high), s in zip(intervals, samples, strict=True)]
    return float(np.mean(held)), float(np.mean([high - low for low, high in intervals]))


def costs(sets: list[Split], spec) -> None:
    """Head training for 100 trailers × 5 folds; embedding one trailer's subclips."""
    pool = [s for split in sets for s in split.train][:100]
    config = TRAIN_PRESETS["default"].replace(single_frame_baseline=False)
    started = time.perf_counter()
    cross_validate(pool, config, PRESETS["default"], embedding_spec=spec)
    print(f"cost: the default head, {len(pool)} trailers × {config.folds} folds × {config.epochs} epochs on "
          f"cached embeddings: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    cross_validate(pool, config.replace(single_frame_baseline=True), PRESETS["default"], embedding_spec=spec)
    print(f"cost: the same with the single-frame baseline on the same folds: {time.perf_counter() - started:.1f} s")
    frames = np.load(sets[0].train[0].subclips[0])
    for count, size in ((48, 112), (48, 224)):
        batch = np.resize(frames, (count, *frames.shape[1:]))
        embed_subclip(batch[:4], installed_spec("efficientnet_lite0", size))
        started = time.perf_counter()
        embed_subclip(batch, installed_spec("efficientnet_lite0", size))
        print(f"cost: embedding {count} frames at {size}² (a trailer's 3 subclips × 16 frames): "
              f"{time.perf_counter() - started:.2f} s")


def ratios(r: dict) -> dict[str, float]:
    """One evaluation's figures that compare across fold seeds: each MAE over its baseline's, and honesty."""
    return {"CV ×": r["cv_mae"] / r["cv_baseline"], "held ×": r["heldout_mae"] / r["heldout_baseline"],
            "honesty": r["cv_mae"] / r["heldout_mae"], "src CV ×": r["source_cv_ratio"],
            "refit ×": r["refit_mae"] / r["heldout_baseline"], "ens ×": r["ensemble_mae"] / r["heldout_baseline"],
            "nbrs CV ×": r["cv_neighbours"] / r["cv_baseline"],
            "head CV ×": r["cv_head"] / r["cv_baseline"], "head held ×": r["head_mae"] / r["heldout_baseline"],
            "share": r["share"], PLAIN_COVERED: r["plain_covered"], "CV+ width": r["plain_width"],
            COVERED: r["covered"], "width": r["width"], "unlike": r["novelty"],
            SPREAD_COVERED: r["spread_covered"]}


def print_row(set_name: str, preset: str, r: dict) -> None:
    single = f"{r['cv_single'] / r['cv_baseline']:.2f}" if r["cv_single"] is not None else "—"
    q = ratios(r)
    print(f"{set_name:8} {preset:13} {r['seed']:4d} {r['cv_mae']:6.3f}±{r['cv_sd']:5.3f} {r['cv_baseline']:8.3f} "
          f"{q['CV ×']:6.2f} {r['heldout_mae']:9.3f} {r['heldout_baseline']:6.3f} {q['held ×']:7.2f} "
          f"{r['heldout_ratio_90'][0]:5.2f}–{r['heldout_ratio_90'][1]:<5.2f} {q['honesty']:8.2f} "
          f"{q['src CV ×']:9.2f} {q['refit ×']:8.2f} {q['ens ×']:6.2f} {single:>11} {q['nbrs CV ×']:9.2f} {q['head CV ×']:9.2f} "
          f"{q['head held ×']:11.2f} {r['share']:5.2f} {_or_dash(r['plain_covered']):>10} "
          f"{_or_dash(r['plain_width']):>9} {_or_dash(r['covered']):>6} {_or_dash(r['width']):>5} {_or_dash(r['novelty']):>6} "
          f"{_or_dash(r['spread_covered']):>10} "
          f"{r['spearman'] or 0:5.2f} {r['groups']:6d} {r['seconds']:5.0f}s", flush=True)


def print_sources(r: dict) -> None:
    """One line per held-out source, lowest rating first (``by_source_errors``)."""
    for row in r["by_source"]:
        print(f"    {row['source']:18} {row['n']:2d} {'trailers,' if row['n'] != 1 else 'trailer, '} rating {row['rating']:4.1f}, predicted {row['predicted']:4.1f}: "
              f"MAE {row['mae']:5.2f} "
              f"(the training mean's {row['baseline']:4.2f}), unlike {_or_dash(row['novelty'])}; "
              f"held × without it {row['without']:.2f}", flush=True)


def _or_dash(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def print_means(set_name: str, preset: str, rows: list[dict]) -> None:
    """The mean (and range) over fold seeds of each ratio: one seed's folds decide much of a small set's figures."""
    table = [ratios(r) for r in rows]
    parts = [f"{name} {np.mean([t[name] for t in table]):.2f} ({min(t[name] for t in table):.2f}–"
             f"{max(t[name] for t in table):.2f})" for name in table[0] if all(t[name] is not None for t in table)]
    print(f"{set_name:8} {preset:13} mean of {len(rows)} fold seeds: " + ", ".join(parts), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated, preprocessed sets here")
    parser.add_argument("--train", type=int, default=60, help="training trailers per set (default 60)")
    parser.add_argument("--heldout", type=int, default=20, help="held-out trailers per set (default 20)")
    parser.add_argument("--duration", type=float, default=16.0, help="seconds per trailer (default 16)")
    parser.add_argument("--presets", nargs="+", default=["default", "single_frame", "scratch"],
                        choices=sorted(PRESETS), help="presets to measure")
    parser.add_argument("--seeds", type=int, default=1,
                        help="fold seeds per set and preset (default 1): more print each seed's row and their mean")
    parser.add_argument("--no-costs", action="store_true", help="skip the cost measurements")
    parser.add_argument("--side", choices=SIDES, default="heldout",
                        help="the side each set is measured on: heldout (default; a development benchmark) or "
                             "fresh4 (new photographs, shapes and seeds: stop 40's second clean test)")
    parser.add_argument("--scratch-epochs", type=int, default=SCRATCH_EPOCHS,
                        help=f"epochs for the scratch CNN (default {SCRATCH_EPOCHS}; 0: its preset's "
                             f"{TRAIN_PRESETS['scratch'].epochs})")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.scratch_epochs < 0:
        parser.error(f"--scratch-epochs must be 0 (the preset's) or more, got {args.scratch_epochs}")
    torch.set_num_threads(2)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="reelscore-learn-"))
    print(f"{os.cpu_count()} CPUs; sets in {folder}; sampling {SAMPLING.to_dict()}", flush=True)
    sets = build_sets(folder, n_train=args.train, n_heldout=args.heldout, duration=args.duration, side=args.side)
    spec = installed_spec("efficientnet_lite0", SAMPLING.size)
    header = (f"{'set':8} {'preset':13} {'seed':>4} {'CV MAE':>13} {'CV base':>8} {'CV ×':>6} {'held-out':>9} "
              f"{'base':>6} {'held ×':>7} {'held × 90%':>12} {'honesty':>8} {'src CV ×':>9} {'refit ×':>8} {'ens ×':>6} "
              f"{'1-frame CV×':>11} {'nbrs CV ×':>9} {'head CV ×':>9} {'head held ×':>11} {'share':>5} {PLAIN_COVERED:>10} {'CV+ width':>9} {COVERED:>6} {'width':>5} {'unlike':>6} {SPREAD_COVERED:>10} {'rho':>5} "
              f"{'groups':>6} {'time':>6}")
    print(header)
    for split in sets:
        for preset in args.presets:
            rows = []
            for seed in range(args.seeds):
                rows.append(evaluate(split, preset, spec, seed, args.scratch_epochs))
                print_row(split.name, preset, rows[-1])
                print_sources(rows[-1])
            if len(rows) > 1:
                print_means(split.name, preset, rows)
    if not args.no_costs:
        costs(sets, spec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
