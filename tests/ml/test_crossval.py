"""Cross-validation: folds by trailer that keep near-duplicates together, held-out figures only, the ensemble."""

import numpy as np
import pytest
import torch

from ml.config import PRESETS, LRCNConfig, TrainConfig
from ml.crossval import (
    FoldResult,
    Member,
    cross_validate,
    duplicate_score,
    frame_fingerprints,
    make_folds,
    member_predictions,
    merge_groups,
    mix_neighbours,
    near_duplicate_groups,
    predict_samples,
    record_residuals,
    trailer_distances,
    trailer_interval,
    trailer_novelty,
    trailer_vector,
)
from ml.data import TrailerSample
from ml.embeddings import trailer_frames
from ml.frames import save_frames
from ml.intervals import cv_plus
from ml.neighbours import choose_weight, predict_neighbours, trailer_vectors
from ml.predict import load_model, save_model_file, score_frame_files
from ml.train import fit

TINY_SCRATCH = LRCNConfig(frame_size=16, channels1=4, channels2=6, embedding_size=6, lstm_size=8, pool_size=2)
HEAD = PRESETS["default"].replace(frame_size=32, embedding_size=4, lstm_size=8, pixel_grid=2, snippet_frames=2)
FAST = TrainConfig(epochs=3, batch_size=4, lr=1e-2, num_workers=0, frames_per_sample=4, folds=3,
                   restore_best=False)


def test_folds_never_split_a_trailer_or_a_group_and_are_deterministic():
    keys = list(range(23))
    groups = [[0, 1, 2, 3], [10, 11], [20, 21, 22]]
    folds = make_folds(keys, 5, seed=1, groups=groups)
    assert sorted(k for f in folds for k in f) == keys  # every trailer once
    for group in groups:
        assert sum(bool(set(group) & set(f)) for f in folds) == 1, group
    assert max(map(len, folds)) - min(map(len, folds)) <= 3  # near-equal sizes
    assert make_folds(reversed(keys), 5, seed=1, groups=groups) == folds
    assert make_folds(keys, 5, seed=2, groups=groups) != folds
    assert len(make_folds([1, 2, 3], 5, seed=0)) == 3  # no more folds than trailers
    with pytest.raises(ValueError, match="at least 2 trailers that are not copies"):
        make_folds([1, 2], 5, seed=0, groups=[[1, 2]])


def test_folds_with_ratings_give_every_fold_its_share_of_each_rating():
    # Five kinds of footage, two sources of each, each source cut into three trailers; the kinds' ratings
    # are 2, 4, 6, 8 and 10. Every fold must leave at least one source of every kind in training, and the
    # folds' mean ratings must sit near the overall mean.
    groups = [[f"k{kind}s{source}t{t}" for t in range(3)] for kind in range(5) for source in range(2)]
    ratings = {key: 2.0 * (int(key[1]) + 1) for group in groups for key in group}
    keys = sorted(ratings)
    split_both_ways = False
    for seed in range(20):
        folds = make_folds(keys, 5, seed=seed, groups=groups, ratings=ratings)
        assert sorted(k for f in folds for k in f) == keys
        for group in groups:
            assert sum(bool(set(group) & set(f)) for f in folds) == 1, group
        for fold in folds:
            assert len(fold) == 6
            assert len({key[1] for key in fold}) == 2  # two kinds held out, never both sources of one kind
            assert abs(np.mean([ratings[k] for k in fold]) - 6.0) <= 2.0
        assert make_folds(keys, 5, seed=seed, groups=groups, ratings=ratings) == folds
        # Without ratings, folds follow size alone: some seed holds out both sources of one kind.
        plain = make_folds(keys, 5, seed=seed, groups=groups)
        split_both_ways |= any(len({key[1] for key in fold}) == 1 for fold in plain)
    assert split_both_ways
    assert make_folds(keys, 5, seed=1, groups=groups, ratings=ratings) != make_folds(
        keys, 5, seed=2, groups=groups, ratings=ratings)


def unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_near_duplicates_are_trailers_sharing_footage_joined_transitively():
    rng = np.random.default_rng(0)
    common = rng.normal(size=64) * 2  # what every trailer of one look shares: their means are all alike
    footage = common + rng.normal(size=(20, 64))
    prints = {
        "a": unit(footage),
        "a-reencode": unit(footage + rng.normal(0, 0.1, footage.shape)),
        "a-teaser": unit(footage[5:12] + rng.normal(0, 0.1, (7, 64))),  # a few of its shots
        "b": unit(common + rng.normal(size=(20, 64))),
        "c": unit(common + rng.normal(size=(20, 64))),
    }
    means = {k: v.mean(axis=0) / np.linalg.norm(v.mean(axis=0)) for k, v in prints.items()}
    assert means["b"] @ means["c"] > 0.85  # the mean embedding would take b and c for copies
    assert duplicate_score(prints["a-teaser"], prints["a"]) > 0.95 > duplicate_score(prints["b"], prints["c"])
    groups = sorted(sorted(g) for g in near_duplicate_groups(prints, 0.9))
    assert groups == [["a", "a-reencode", "a-teaser"], ["b"], ["c"]]
    sample = TrailerSample("x", ("f",), 1.0, (np.ones((30, 4), np.float16), np.ones((10, 4), np.float16)))
    assert frame_fingerprints(trailer_frames([sample]))["x"].shape == (24, 4)


def test_look_alike_trailers_do_not_chain_into_one_group():
    # A row of trailers each a little like the next (cosine 0.94 between neighbours, 0.77 two apart):
    # single linkage would join all six; average linkage keeps to pairs of neighbours.
    angles = np.radians(np.arange(6) * 20.0)
    prints = {f"t{i}": np.array([[np.cos(a), np.sin(a)]]) for i, a in enumerate(angles)}
    groups = near_duplicate_groups(prints, 0.9)
    assert max(len(g) for g in groups) == 2 and sum(len(g) for g in groups) == 6
    pairs = [sorted(int(k[1:]) for k in g) for g in groups if len(g) == 2]
    assert pairs and all(b - a == 1 for a, b in pairs)


def test_on_varied_trailers_those_cut_from_one_source_are_grouped_though_below_the_threshold():
    rng = np.random.default_rng(1)
    sources = rng.normal(size=(6, 64))
    prints, source_of = {}, {}
    for s, base in enumerate(sources):
        for copy in range(3):  # three trailers per source, each its own pans of it: cosine about 0.8
            key = f"s{s}-{copy}"
            prints[key], source_of[key] = unit((base + rng.normal(0, 0.5, (8, 64)))[None].mean(axis=0)), s
    scores = [duplicate_score(prints[a], prints[b]) for a in prints for b in prints
              if a < b and source_of[a] == source_of[b]]
    assert max(scores) < 0.9  # the absolute threshold alone would find nothing
    groups = near_duplicate_groups(prints, 0.9)
    assert sorted(sorted(source_of[k] for k in g) for g in groups) == [[s] * 3 for s in range(6)]


@pytest.fixture
def noise_trailers(tmp_path):
    """16 trailers of pure noise with random ratings: nothing to learn, everything to memorise."""
    rng = np.random.default_rng(3)
    samples = []
    for i in range(16):
        paths = [str(save_frames(rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8), tmp_path / f"{i}-{j}.npy"))
                 for j in range(2)]
        samples.append((i, paths, float(rng.uniform(1, 10))))
    return samples


def test_the_estimate_comes_only_from_held_out_folds(noise_trailers):
    # Long training on noise: the training loss goes to almost nothing, and held-out scores stay bad.
    config = FAST.replace(epochs=60, lr=3e-2, single_frame_baseline=False)
    result = cross_validate(noise_trailers, config, TINY_SCRATCH)
    estimate = result.estimate()
    assert result.history[-1]["train_loss"] < 0.2
    model, baseline = estimate["summary"]["model"]["mae"]["mean"], estimate["summary"]["mean_baseline"]["mae"]["mean"]
    assert model > 0.8 * baseline, (model, baseline)
    tested = [k for row in estimate["per_fold"] for k in row["test"]]
    assert sorted(tested) == list(range(16))  # each trailer scored once, by the fold that left it out
    assert set(estimate["predictions"]) == {str(k) for k in range(16)}
    assert estimate["duplicates_checked"] is False  # no embeddings to compare trailers with
    assert "neighbours" not in estimate["summary"]  # nor to find the trailers that look alike


def test_groups_the_caller_knows_are_kept_in_one_fold_and_joined_with_found_ones(noise_trailers):
    assert merge_groups([[1, 2], [2, 3], [7, 99]], range(8)) == [[0], [1, 2, 3], [4], [5], [6], [7]]
    known = [[0, 1, 2, 3, 4], [10, 11]]  # say, the trailers of one film: no embeddings here to find them
    result = cross_validate(noise_trailers, FAST.replace(epochs=1, single_frame_baseline=False), TINY_SCRATCH,
                            known_groups=known)
    tests = [set(row["test"]) for row in result.estimate()["per_fold"]]
    for group in known:
        assert sum(bool(set(group) & t) for t in tests) == 1, (group, tests)
    assert sorted(map(sorted, result.groups)) == [[0, 1, 2, 3, 4], [10, 11]]


def test_resuming_a_cross_validation_skips_finished_folds(noise_trailers, tmp_path):
    folder = tmp_path / "cv"
    calls = []
    first = cross_validate(noise_trailers, FAST, TINY_SCRATCH, checkpoint_dir=folder,
                           callback=lambda p: calls.append(p.fit) or (p.fold == 2 and p.kind == "epoch"))
    assert first.stop_reason == "cancelled" and len(first.folds) == 1
    calls.clear()
    second = cross_validate(noise_trailers, FAST, TINY_SCRATCH, checkpoint_dir=folder,
                            callback=lambda p: calls.append(p.fit))
    assert second.stop_reason == "completed" and len(second.folds) == 3
    assert min(calls) > 2  # fold 1's two fits (model and single-frame baseline) were not run again
    assert second.folds[0].predictions == first.folds[0].predictions
    # Other settings: the kept fold is not theirs, so it is trained again.
    calls.clear()
    cross_validate(noise_trailers, FAST.replace(lr=2e-2), TINY_SCRATCH, checkpoint_dir=folder,
                   callback=lambda p: calls.append(p.fit))
    assert min(calls) == 1


@pytest.fixture
def embedded_trailers(tmp_path):
    """12 trailers, each its own pattern of coloured blocks, whose brightness follows the rating, with
    embeddings from the real encoder at 32²."""
    from ml.embeddings import installed_spec, save_embeddings
    from ml.encoder import embed_frames

    rng = np.random.default_rng(1)
    samples = []
    for i in range(12):
        rating = float(1 + i * 0.75)
        frames_paths, cached = [], []
        pattern = np.kron(rng.integers(0, 120, (4, 4, 3)), np.ones((8, 8, 1)))
        for j in range(2):
            frames = np.clip(pattern + rng.integers(0, 30, (4, 32, 32, 3)) + rating * 12, 0, 255).astype(np.uint8)
            frames_paths.append(str(save_frames(frames, tmp_path / f"{i}-{j}.npy")))
            cached.append(str(save_embeddings(embed_frames(frames, size=32), tmp_path / f"{i}-{j}.emb.npy")))
        samples.append((f"t{i}", frames_paths, rating, cached))
    return samples, installed_spec("efficientnet_lite0", 32)


def test_a_pretrained_head_cross_validates_on_cached_embeddings_and_its_ensemble_is_unsure(embedded_trailers,
                                                                                         tmp_path, monkeypatch):
    import ml.crossval

    samples, spec = embedded_trailers
    monkeypatch.setattr(ml.crossval, "MIX_MIN_TRAILERS", 12)  # these 12 trailers are enough to mix here
    # At 32² the encoder finds these made-up pictures all alike; duplicates are not what this test is about.
    result = cross_validate(samples, FAST.replace(epochs=20, duplicate_threshold=0.9999), HEAD, embedding_spec=spec)
    estimate = result.estimate()
    assert set(estimate["summary"]) == {"model", "head", "mean_baseline", "single_frame", "neighbours"}
    # Each fold's neighbours are found among that fold's training trailers only, by their embeddings pooled: the
    # mean of log(1 + e) over the frames (ml.neighbours.POOLING).
    looks = {key: np.log1p(np.concatenate([np.load(p) for p in cached]).astype(np.float64)).mean(axis=0)
             for key, _, _, cached in samples}
    ratings = {key: rating for key, _, rating, _ in samples}
    for fold in estimate["per_fold"]:
        train = {k: v for k, v in looks.items() if k not in fold["test"]}
        near = predict_neighbours(train, ratings, {k: looks[k] for k in fold["test"]})
        expected = np.mean([abs(near[k] - ratings[k]) for k in fold["test"]])
        assert fold["neighbours"]["mae"] == pytest.approx(expected, rel=1e-6)
    # The model's figures are the head's predictions mixed with the neighbours' in the fold's share, chosen on
    # the other folds' held-out predictions; the version's share on all of them.
    for fold, row in zip(result.folds, estimate["per_fold"], strict=True):
        others = [f for f in result.folds if f is not fold]
        keys = [k for f in others for k in f.test]
        head = {k: v for f in others for k, v in f.head_predictions.items()}
        near = {k: v for f in others for k, v in f.near_predictions.items()}
        share = choose_weight([ratings[k] for k in keys], [head[k] for k in keys], [near[k] for k in keys])
        assert row["neighbour_weight"] == share
        mix = [(1 - share) * fold.head_predictions[k] + share * fold.near_predictions[k] for k in fold.test]
        assert row["model"]["mae"] == pytest.approx(np.mean([abs(m - ratings[k]) for m, k in zip(mix, fold.test, strict=True)]))
        assert row["head"]["mae"] == pytest.approx(np.mean([abs(fold.head_predictions[k] - ratings[k])
                                                            for k in fold.test]))
    assert estimate["neighbour_weight"] == result.neighbour_weight
    assert estimate["duplicates_checked"] is True and estimate["embedded_on_demand"] == 0
    assert len(result.members) == 3
    # Each member keeps its errors on its fold's trailers as the version delivers it (in the version's share),
    # for the prediction intervals.
    version_share = result.neighbour_weight
    for fold in result.folds:
        delivered = [(1 - version_share) * fold.head_predictions[k] + version_share * fold.near_predictions[k]
                     for k in fold.test]
        assert fold.member.residuals == pytest.approx([abs(d - ratings[k]) for d, k in zip(delivered, fold.test,
                                                                                          strict=True)])
        # And how far each was from its fold model's training trailers: the mean distance to the 5 nearest.
        train = np.stack([looks[k] for k in ratings if k not in fold.test])
        assert fold.member.scales == pytest.approx([_reach(train, looks[k]) for k in fold.test])

    path = save_model_file(tmp_path / "model.pt", result)
    loaded = load_model(path)
    assert len(loaded.members) == 3 and loaded.embedding == spec.to_dict()
    # Each member keeps the neighbours it was trained with, in the version's share: the file scores a trailer
    # as the run's ensemble does.
    for member, fold in zip(loaded.members, result.folds, strict=True):
        assert member.near.weight == result.neighbour_weight
        assert sorted(member.near.ratings) == sorted(ratings[k] for k in ratings if k not in fold.test)
    _, frames, _, cached = samples[0]
    from_cache = score_frame_files(loaded, frames, embeddings=cached, embedding_spec=spec)
    sample = TrailerSample("t0", tuple(frames), 1.0, tuple(np.load(c) for c in cached))
    ensemble = predict_samples(result.members, [sample], HEAD, FAST.frames_per_sample)
    assert from_cache.mean == pytest.approx(ensemble["t0"], abs=1e-4)
    from_frames = score_frame_files(loaded, frames)  # embedded again on the spot: the same scores
    assert from_cache.mean == pytest.approx(from_frames.mean, abs=0.05)
    assert from_cache.uncertainty > 0  # three members trained on different folds disagree a little
    # The file keeps the members' errors and distances, and the 80% interval is CV+ over them and the members'
    # predictions, each error read relative to how far the trailer is from that member's training trailers.
    for member, fold in zip(loaded.members, result.folds, strict=True):
        assert member.residuals == pytest.approx(fold.member.residuals)
        assert member.scales == pytest.approx(fold.member.scales)
    each = member_predictions(result.members, [sample], HEAD, FAST.frames_per_sample)["t0"]
    reach = [_reach(np.stack([looks[k] for k in ratings if k not in f.test]), looks["t0"]) for f in result.folds]
    expected = cv_plus(each, [f.member.residuals for f in result.folds], scales=[f.member.scales for f in result.folds],
                       distances=reach)
    assert (from_cache.low, from_cache.high) == pytest.approx(expected, abs=1e-4)
    # How unlike the training trailers it looks: each member's distance over its fold trailers' median, averaged.
    assert from_cache.novelty == pytest.approx(np.mean([d / np.median(f.member.scales)
                                                        for d, f in zip(reach, result.folds, strict=True)]), rel=1e-4)
    assert from_cache.low < from_cache.mean < from_cache.high
    assert len(from_cache.per_subclip) == 2
    # A file from before the distances were kept gives plain CV+.
    for member in loaded.members:
        member.scales = None
    plain = score_frame_files(loaded, frames, embeddings=cached, embedding_spec=spec)
    assert (plain.low, plain.high) == pytest.approx(cv_plus(each, [f.member.residuals for f in result.folds]), abs=1e-4)
    assert plain.novelty is None
    # The file says how its neighbours' vectors were pooled; one from before that was kept pooled by the plain mean,
    # and a trailer is compared with them so.
    assert {member.near.pooling for member in loaded.members} == {"log1p-mean"}
    data = torch.load(path, weights_only=True)
    del data["neighbours"]["pooling"]
    torch.save(data, tmp_path / "before.pt")
    before = load_model(tmp_path / "before.pt")
    assert {member.near.pooling for member in before.members} == {"mean"}
    sources = [np.load(c) for c in cached]
    assert trailer_vector(before.members, sources) == pytest.approx(
        np.concatenate(sources).astype(np.float64).mean(axis=0))


def test_novelty_is_only_given_where_every_member_measured_its_fold_trailers_distances():
    def member(scales):
        return Member(None, None, near=None, residuals=np.ones(len(scales)), scales=np.array(scales, dtype=float))

    members = [member([1.0, 2.0, 3.0]), member([4.0, 4.0])]
    assert trailer_novelty(members, [4.0, 2.0]) == pytest.approx((4.0 / 2.0 + 2.0 / 4.0) / 2)
    assert trailer_novelty(members, None) is None
    # A member whose fold trailers all sat on top of training ones (median 0), or a figure that is not a number:
    # no novelty (the interval is plain CV+ then too), never a huge number or NaN stored on a prediction.
    assert trailer_novelty([member([0.0, 0.0, 1.0]), members[1]], [4.0, 2.0]) is None
    assert trailer_novelty(members, [float("nan"), 2.0]) is None
    assert trailer_novelty([member([1.0, float("nan"), float("nan")]), members[1]], [4.0, 2.0]) is None


def _reach(train: np.ndarray, vector: np.ndarray) -> float:
    """The mean Euclidean distance from ``vector`` to its 5 nearest rows of ``train``."""
    return float(np.sort(np.linalg.norm(train - vector, axis=1))[:5].mean())


def test_a_refit_on_every_trailer_makes_the_predictions_and_the_fold_models_the_interval(embedded_trailers, tmp_path,
                                                                                         monkeypatch):
    import ml.crossval

    samples, spec = embedded_trailers
    monkeypatch.setattr(ml.crossval, "MIX_MIN_TRAILERS", 12)
    config = FAST.replace(epochs=20, duplicate_threshold=0.9999, refit=True)
    seen = []
    result = cross_validate(samples, config, HEAD, embedding_spec=spec,
                            callback=lambda p: seen.append((p.fit, p.fits, p.fold, p.role)) and False)
    # The run's last fit is the refit, on every trailer, after the 3 folds' model and single-frame fits.
    assert seen[-1] == (7, 7, None, "refit") and {s[3] for s in seen if s[0] < 7} == {"model", "single_frame"}
    assert result.refit is not None and result.estimate()["refit"] is True and len(result.members) == 3
    ratings = {key: rating for key, _, rating, _ in samples}
    assert sorted(result.refit.near.ratings) == sorted(ratings.values())  # every trailer is its neighbour
    assert result.refit.near.weight == result.neighbour_weight
    trailers = [TrailerSample(key, tuple(frames), rating, tuple(np.load(c) for c in cached))
                for key, frames, rating, cached in samples]
    # It is the model a fit on every trailer with the run's settings makes.
    alone = fit(trailers, config, HEAD, split=(list(ratings), []), embedding_spec=spec)
    again = predict_samples([Member(alone.model, alone.normaliser, result.refit.near)], trailers, HEAD,
                            config.frames_per_sample)
    refit = predict_samples([result.refit], trailers, HEAD, config.frames_per_sample)
    assert refit == pytest.approx(again, abs=1e-6)

    loaded = load_model(save_model_file(tmp_path / "model.pt", result))
    assert loaded.refit is not None and len(loaded.members) == 3
    _, frames, _, cached = samples[0]
    scores = score_frame_files(loaded, frames, embeddings=cached, embedding_spec=spec)
    each = member_predictions(result.members, trailers[:1], HEAD, config.frames_per_sample)["t0"]
    assert scores.mean == pytest.approx(refit["t0"], abs=1e-4)  # the refit's prediction, not the members' mean
    assert abs(scores.mean - each.mean()) > 1e-3
    assert scores.uncertainty == pytest.approx(each.std(), abs=1e-4)  # how much the fold models disagree
    # The fold models' interval, moved to the refit's prediction, its width unchanged.
    looks = trailer_vectors(trailer_frames(trailers))
    distances = trailer_distances(result.members, looks["t0"])
    low, high = trailer_interval(result.members, each, distances)
    shift = refit["t0"] - each.mean()
    assert (scores.low, scores.high) == pytest.approx((low + shift, high + shift), abs=1e-4)
    assert scores.novelty == pytest.approx(trailer_novelty(result.members, distances), rel=1e-4)


def test_a_refit_cancelled_leaves_a_cancelled_run_without_it(embedded_trailers):
    samples, spec = embedded_trailers
    config = FAST.replace(epochs=2, duplicate_threshold=0.9999, refit=True, single_frame_baseline=False)
    result = cross_validate(samples, config, HEAD, embedding_spec=spec, callback=lambda p: p.role == "refit")
    assert result.stop_reason == "cancelled" and result.refit is None and len(result.folds) == 3


def test_a_cnn_on_frames_keeps_plain_intervals_though_its_trailers_have_embeddings(embedded_trailers, tmp_path):
    # The scratch CNN scores a trailer from its frames, never its embeddings: its members keep no training
    # trailers to measure distances against, and its file scores trailers with plain CV+ and no novelty.
    samples, spec = embedded_trailers
    result = cross_validate(samples, FAST.replace(epochs=1, single_frame_baseline=False, duplicate_threshold=0.9999),
                            TINY_SCRATCH, embedding_spec=spec)
    assert all(m.near is None and m.scales is None and m.residuals is not None for m in result.members)
    loaded = load_model(save_model_file(tmp_path / "scratch.pt", result))
    _, frames, _, cached = samples[0]
    scores = score_frame_files(loaded, frames, embeddings=cached, embedding_spec=spec)
    each = member_predictions(result.members, [TrailerSample("t0", tuple(frames), 1.0)], TINY_SCRATCH,
                              FAST.frames_per_sample)["t0"]
    assert (scores.low, scores.high) == pytest.approx(cv_plus(each, [m.residuals for m in result.members]), abs=1e-4)
    assert scores.novelty is None


def test_a_run_with_too_few_trailers_to_choose_a_share_is_its_head_alone(embedded_trailers):
    samples, spec = embedded_trailers  # 12 trailers, fewer than MIX_MIN_TRAILERS
    result = cross_validate(samples, FAST.replace(epochs=1, single_frame_baseline=False,
                                                  duplicate_threshold=0.9999), HEAD, embedding_spec=spec)
    estimate = result.estimate()
    assert result.neighbour_weight is None and "neighbour_weight" not in estimate
    assert set(estimate["summary"]) == {"model", "mean_baseline", "neighbours"}  # no separate head: it is the model
    # Unmixed, each member's errors for the intervals are its fold's own predictions'; it keeps its training
    # trailers in share 0, only to tell how far a trailer is from them.
    ratings = {key: rating for key, _, rating, _ in samples}
    for fold in result.folds:
        assert fold.member.residuals == pytest.approx([abs(fold.predictions[k] - ratings[k]) for k in fold.test])
        assert fold.member.near.weight == 0 and len(fold.member.scales) == len(fold.test)
        assert sorted(fold.member.near.ratings) == sorted(ratings[k] for k in ratings if k not in fold.test)


def test_each_fold_mixes_in_the_neighbours_in_a_share_chosen_on_the_other_folds_only():
    # Fold "a": the head is right and the neighbours 2 off; folds "b" and "c": the neighbours are right and the
    # head 1 and 3 off. Chosen on its own trailers, fold a would keep its head; chosen on the others, it takes
    # the neighbours, and its figures say so. The version's share is chosen on all three.
    ratings = {f"{f}{i}": float(1 + i) for f in "abc" for i in range(4)}
    off = {"a": 2.0, "b": 1.0, "c": 3.0}
    folds = []
    for index, name in enumerate("abc"):
        test = [f"{name}{i}" for i in range(4)]
        good, bad = {k: ratings[k] for k in test}, {k: ratings[k] + off[name] for k in test}
        head, near = (good, bad) if name == "a" else (bad, good)
        metrics = {"model": {"mae": 0.0 if name == "a" else off[name], "rmse": None, "spearman": None}}
        folds.append(FoldResult(index=index, test=test, train_count=8, metrics=metrics, predictions=dict(head),
                                member=Member(model=None, normaliser=None), near_predictions=dict(near)))
    looks = {k: np.full(3, ratings[k]) for k in ratings}
    version = mix_neighbours(folds, ratings, looks)
    # b: on a and c the neighbours are better by 0.5 on average, but not by one standard error: the head alone.
    assert [f.neighbour_weight for f in folds] == [1.0, 0.0, 0.0]
    assert folds[0].metrics["model"]["mae"] == pytest.approx(2.0)  # its own figures, not flattered
    assert folds[0].metrics["head"]["mae"] == 0.0 and folds[0].head_predictions == {k: ratings[k] for k in folds[0].test}
    assert folds[1].predictions["b0"] == pytest.approx(2.0) and folds[1].metrics["model"]["mae"] == pytest.approx(1.0)
    assert version == 1.0  # over all twelve: 2 × share on a, 1 − share on b, 3 × (1 − share) on c
    # Each member rates by the neighbours among its own training trailers, in the version's share.
    assert all(f.member.near.weight == 1.0 and f.member.near.keys == [k for k in ratings if k not in f.test]
               for f in folds)
    # Its errors for the intervals are the version's (all neighbours: fold a's 2 off, b's and c's right), not
    # those of its own fold's share.
    record_residuals(folds, ratings, version)
    assert [list(f.member.residuals) for f in folds] == [[2.0] * 4, [0.0] * 4, [0.0] * 4]


def test_cached_embeddings_made_another_way_are_refused_naming_both(embedded_trailers):
    samples, spec = embedded_trailers
    other = spec.__class__(spec.encoder, spec.weights_sha256, 64)
    with pytest.raises(ValueError, match=r"made with efficientnet_lite0 at 64×64 .* takes efficientnet_lite0 at 32×32"):
        cross_validate(samples, FAST, HEAD, embedding_spec=other)
