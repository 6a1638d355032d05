"""The nearest-neighbours baseline: each trailer's mean embedding, rated as its nearest training trailers."""

import numpy as np
import pytest

from ml import neighbours
from ml.data import TrailerSample
from ml.embeddings import trailer_frames
from ml.neighbours import predict_neighbours, trailer_vectors


def test_a_trailer_is_rated_as_the_training_trailers_that_look_like_it(monkeypatch):
    rng = np.random.default_rng(0)
    looks = {"dark": rng.normal(0, 1, 16), "bright": rng.normal(0, 1, 16)}
    train, ratings = {}, {}
    for look, rating in (("dark", 2.0), ("bright", 8.0)):
        for i in range(6):
            train[f"{look}{i}"] = looks[look] + rng.normal(0, 0.1, 16)
            ratings[f"{look}{i}"] = rating + (i - 2.5) * 0.1
    test = {"new dark": looks["dark"] + rng.normal(0, 0.1, 16), "new bright": looks["bright"] + rng.normal(0, 0.1, 16)}
    predicted = predict_neighbours(train, ratings, test, k=5)
    assert predicted["new dark"] == pytest.approx(2.0, abs=0.15)
    assert predicted["new bright"] == pytest.approx(8.0, abs=0.15)
    # One neighbour: a copy of a training trailer gets exactly its rating.
    assert predict_neighbours(train, ratings, {"copy": train["bright3"]}, k=1) == {"copy": ratings["bright3"]}
    # Test trailers are compared in chunks: any chunk size gives the same predictions.
    monkeypatch.setattr(neighbours, "CHUNK", 1)
    assert predict_neighbours(train, ratings, test, k=5) == predicted
    # More neighbours than training trailers: the mean of them all.
    assert predict_neighbours(train, ratings, test, k=100)["new dark"] == pytest.approx(np.mean(list(ratings.values())))


def test_distances_are_in_units_of_each_dimensions_spread():
    # Dimension 0 tells the ratings apart by a little; dimension 1 is noise a thousand times larger. Unscaled,
    # the noise would choose the neighbours; standardised, both weigh alike and the signal is heard. A dimension
    # that never changes counts for nothing.
    rng = np.random.default_rng(1)
    train, ratings = {}, {}
    for i in range(40):
        side = i % 2
        train[i] = np.array([side * 0.01 + rng.normal(0, 0.001), rng.normal(0, 10.0) * 0.01, 5.0])
        ratings[i] = 9.0 if side else 1.0
    test = {"high": np.array([0.01, 0.0, 5.0]), "low": np.array([0.0, 0.0, 5.0])}
    predicted = predict_neighbours(train, ratings, test, k=3)
    assert predicted["high"] > 6 > 4 > predicted["low"]


def test_how_unlike_the_training_trailers_a_trailer_looks_is_measured_unscaled():
    # Three training trailers on a line; the distance is the mean over the k nearest, as the numbers are.
    near = neighbours.NearestTrailers(np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]), np.array([1.0, 2.0, 3.0]), k=2)
    assert near.distance(np.array([[1.0, 0.0], [0.0, 4.0], [1.0, 0.0]])) == pytest.approx([0.5, (4 + 17**0.5) / 2, 0.5])
    assert near.distance(np.array([5.0, 0.0])) == pytest.approx([3.0])  # one vector alone
    # A dimension the training trailers never vary on is not blown up by their tiny spread: a trailer 1 off on
    # it is 1 away (standardised, it would be a million).
    flat = neighbours.NearestTrailers(np.c_[np.arange(10.0), np.full(10, 2.0) + 1e-6 * np.arange(10)], np.arange(10.0),
                                      k=1)
    assert flat.distance(np.array([4.0, 3.0])) == pytest.approx([1.0], abs=1e-5)
    with pytest.raises(ValueError, match="vectors of width 2, got 3"):
        near.distance(np.zeros(3))


def test_trailer_vectors_pool_every_subclip_and_need_embeddings_everywhere():
    a = TrailerSample("a", ("a0", "a1"), 5.0, (np.ones((4, 3), np.float16), np.full((2, 3), 4.0, np.float16)))
    b = TrailerSample("b", ("b0",), 6.0, (np.zeros((3, 3), np.float32),))
    vectors = trailer_vectors(trailer_frames([a, b]))
    assert vectors["a"] == pytest.approx([(4 * np.log(2) + 2 * np.log(5)) / 6] * 3)  # the mean of log(1 + e)
    assert vectors["b"] == pytest.approx([0.0, 0.0, 0.0])
    assert trailer_vectors(trailer_frames([a]), pooling="mean")["a"] == pytest.approx([2.0] * 3)  # (4 × 1 + 2 × 4) / 6
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        trailer_vectors(trailer_frames([a]), pooling="max")
    assert trailer_vectors(trailer_frames([a, TrailerSample("c", ("c0",), 1.0)])) == {}  # c has no embeddings
    assert trailer_vectors(trailer_frames([a, TrailerSample("c", ("c0",), 1.0, ("c0.emb.npy",))])) == {}  # not read
    d = TrailerSample("d", ("d0",), 1.0, (np.ones((2, 5)),))
    assert trailer_vectors(trailer_frames([a, d])) == {}  # another width
    with pytest.raises(ValueError, match="at least one training trailer"):
        predict_neighbours({}, {}, {"x": np.ones(3)})


def test_the_share_is_the_smallest_within_one_standard_error_of_the_best():
    from ml.neighbours import choose_weight

    rng = np.random.default_rng(3)
    truth = rng.uniform(1, 10, 60)
    # The neighbours clearly better: their share is taken in full.
    assert choose_weight(truth, truth + rng.normal(0, 2.0, 60), truth + rng.normal(0, 0.2, 60)) == 1.0
    # The model clearly better: it is kept alone.
    assert choose_weight(truth, truth + rng.normal(0, 0.2, 60), truth + rng.normal(0, 2.0, 60)) == 0.0
    # Both as noisy and independent: the half-and-half mix averages their errors away, and clearly so.
    assert choose_weight(truth, truth + rng.normal(0, 1.0, 60), truth + rng.normal(0, 1.0, 60)) == 0.5
    # Three trailers where the neighbours look better by a hair: chance, so the model alone.
    assert choose_weight([1.0, 5.0, 9.0], [2.0, 4.0, 8.0], [1.7, 3.8, 8.0]) == 0.0
    # On exactly equal errors, the smaller share.
    assert choose_weight([1.0, 2.0], [2.0, 1.0], [2.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="one truth, model and neighbours value per trailer"):
        choose_weight([1.0], [1.0, 2.0], [1.0])
