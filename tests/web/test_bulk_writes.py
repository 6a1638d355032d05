"""Writes in bulk: the sweep hands many waiting trailers to the broker in batches, scoring writes its predictions a
chunk at a time (new ones and replacements alike), and the predictions page's figures are kept per version, made
when it scores and again by the sweep once ratings change."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from ml.metrics import mae
from tests.support.broker import broker_messages
from tests.support.rows import create_cv_run, cross_validation_estimate, cv_version_metrics
from trailers.models import Prediction, PredictionSummary, Trailer
from trailers.services import queue, rate_trailer, scoring, sweep
from trailers.services.summaries import keep_prediction_summary

pytestmark = pytest.mark.django_db


def waiting(make_trailer, n: int) -> list[Trailer]:
    """Trailers uploaded while the broker was down: queued, never handed over."""
    return [make_trailer(status=Trailer.Status.QUEUED, subclips=0, enqueued=False) for _ in range(n)]


def test_the_sweep_hands_every_waiting_trailer_over_in_batches(make_trailer, monkeypatch):
    broker_messages()  # whatever earlier tests left
    trailers = waiting(make_trailer, 7)
    monkeypatch.setattr(queue, "SEND_BATCH", 3)  # 3 batches: 3, 3 and 1
    assert sweep()["trailers"] == 7
    # Messages a worker takes as its own: the preprocessing task, one trailer each, on the video queue.
    assert sorted(broker_messages()) == sorted(("trailers.tasks.preprocess_trailer_task", [t.pk]) for t in trailers)
    assert not Trailer.objects.filter(enqueued_at__isnull=True).exists()  # every one marked as handed over
    assert sweep()["trailers"] == 0  # and not sent again on the next sweep


def test_a_broker_that_goes_down_mid_sweep_leaves_the_rest_waiting(make_trailer, monkeypatch):
    trailers = waiting(make_trailer, 6)
    monkeypatch.setattr(queue, "SEND_BATCH", 4)
    tried = []

    def flaky(task, arg_lists, producer, time_limits):
        """The broker takes two messages, then is gone."""
        tried.append(len(arg_lists))
        return max(0, min(len(arg_lists), 2 - sum(tried[:-1])))

    monkeypatch.setattr(queue, "_send_many", flaky)
    assert sweep()["trailers"] == 2
    assert tried == [4]  # it stopped at the first refusal instead of trying (and timing out on) every batch
    handed = set(Trailer.objects.filter(enqueued_at__isnull=False).values_list("pk", flat=True))
    assert handed == {t.pk for t in trailers[:2]}
    monkeypatch.setattr(queue, "_send_many", lambda task, arg_lists, *rest: len(arg_lists))  # the broker is back
    assert sweep()["trailers"] == 4


class _Scores:
    def __init__(self, n: int, value: float):
        self.per_subclip = [value - 0.5, value + 0.5][:n]
        self.mean, self.spread, self.uncertainty = value, 0.5, 0.25
        self.low, self.high = value - 1.5, value + 2.0
        self.novelty = 1.25


@pytest.fixture
def stub_model(monkeypatch):
    """Scoring with the model stubbed out (what is tested is how predictions are written): trailer k scores k."""
    import ml.predict

    class Model:
        embedding = None
        sampling = None  # a model file that does not say how its frames were sampled: its options do

        class model_config:  # noqa: N801 - stands in for LRCNConfig
            uses_embeddings = False
            snippet_frames = 1  # as the trailers' frames were sampled (tests/support/rows.py)

    monkeypatch.setattr(scoring, "_loaded_model", lambda path: Model())
    monkeypatch.setattr(ml.predict, "score_frame_files", lambda model, paths, embeddings=None, embedding_spec=None:
                        _Scores(len(paths), 1.0 + int(re.search(r"subclips/(\d+)/", paths[0]).group(1)) % 9))


def test_scoring_writes_new_predictions_and_replaces_old_ones_a_chunk_at_a_time(make_trailer, make_version,
                                                                                make_prediction, stub_model,
                                                                                monkeypatch, user):
    version = make_version(number=1, active=True)
    trailers = [make_trailer() for _ in range(5)]
    stale = make_prediction(version, trailers[0], 9.9)  # scored before: its prediction is replaced
    make_trailer(status=Trailer.Status.QUEUED, subclips=0)  # not ready: not scored
    monkeypatch.setattr(scoring, "SCORING_CHUNK", 2)
    assert scoring.score_trailers(model_version_id=version.pk, trailer_ids=[t.pk for t in trailers]) == 5
    rows = {p.trailer_id: p for p in Prediction.objects.filter(model_version=version)}
    assert set(rows) == {t.pk for t in trailers}
    for trailer in trailers:
        assert rows[trailer.pk].score == 1.0 + trailer.pk % 9 and rows[trailer.pk].subclip_scores
        # The interval is kept within the 1-10 scale a rating lies on.
        score = rows[trailer.pk].score
        assert (rows[trailer.pk].low, rows[trailer.pk].high) == (max(score - 1.5, 1.0), min(score + 2.0, 10.0))
        assert rows[trailer.pk].novelty == 1.25  # how unlike the training trailers it looks, kept as scored
    assert rows[trailers[0].pk].pk == stale.pk and rows[trailers[0].pk].score != 9.9  # the same row, updated


def test_scoring_keeps_what_a_cross_validated_version_knew_of_each_trailer_and_a_search_is_scored_by_it(
        user_client, user, make_trailer, make_version, stub_model):
    six = [make_trailer(title=f"{word} {i}") for i, word in enumerate(["Harbour", "Quay"] * 3)]
    labels = [2.0, 4.0, 6.0, 8.0, 5.0, 7.0]
    held_out = {t.pk: label + delta for t, label, delta in zip(six, labels, [1, -1, 0.5, 0, -0.5, 2], strict=True)}
    run = create_cv_run(six, labels, cross_validation=cross_validation_estimate(six, predictions=held_out))
    version = make_version(number=1, run=run, active=True, **cv_version_metrics())
    newer = make_trailer(title="Harbour newer")
    for trailer, score in zip([*six, newer], [2, 4, 6, 8, 5, 7, 9], strict=True):
        rate_trailer(user=user, trailer=trailer, score=score)
    assert scoring.score_trailers(model_version_id=version.pk) == 7
    rows = {p.trailer_id: p for p in Prediction.objects.filter(model_version=version)}
    # Three folds dealt in order: {0, 3}, {1, 4}, {2, 5}; each against the mean label of the other two.
    folds = [[0, 3], [1, 4], [2, 5]]
    fold_mean = {i: sum(labels[j] for j in range(6) if j not in fold) / 4 for fold in folds for i in fold}
    for i, trailer in enumerate(six):
        kept = rows[trailer.pk]
        assert (kept.trained, kept.held_out_score, kept.baseline) == (True, held_out[trailer.pk], fold_mean[i])
    assert (rows[newer.pk].trained, rows[newer.pk].held_out_score, rows[newer.pk].baseline) == (
        False, None, sum(labels) / 6)

    # A search leaves out rated trailers: the figures are computed now, from the rows alone.
    html = user_client.get("/predictions/", {"q": "Harbour"}).content.decode()
    assert 'id="figures-kept"' not in html and 'id="held-out-n">3<' in html and 'id="unseen-n">1<' in html
    truth = [labels[i] for i in (0, 2, 4)]
    assert f'id="held-out-mae">{mae(truth, [held_out[six[i].pk] for i in (0, 2, 4)]):.3f}<' in html
    assert f'id="held-out-baseline">{mae(truth, [fold_mean[i] for i in (0, 2, 4)]):.3f}<' in html
    assert f'id="unseen-baseline">{mae([9], [sum(labels) / 6]):.3f}<' in html


def test_scoring_everything_keeps_the_versions_figures_and_a_rating_marks_them_stale_until_the_sweep(
        user_client, user, make_trailer, make_version, stub_model):
    version = make_version(number=1, active=True)
    trailers = [make_trailer() for _ in range(4)]
    truth = [3, 8, 5, 6]
    for trailer, score in zip(trailers, truth, strict=True):
        rate_trailer(user=user, trailer=trailer, score=score)
    assert scoring.score_trailers(model_version_id=version.pk) == 4
    kept = PredictionSummary.objects.get(model_version=version)
    predicted = [1.0 + t.pk % 9 for t in trailers]
    assert not kept.stale and kept.figures["all"]["n"] == 4
    html = user_client.get("/predictions/").content.decode()
    assert f'id="metric-mae">{mae(truth, predicted):.3f}<' in html and 'id="figures-kept"' in html
    assert "ratings have changed since" not in html

    rate_trailer(user=user, trailer=trailers[0], score=10)  # the figures no longer hold
    html = user_client.get("/predictions/").content.decode()
    assert "ratings have changed since" in html
    assert f'id="metric-mae">{mae(truth, predicted):.3f}<' in html  # the kept ones, until the sweep
    assert sweep()["summaries"] == 1
    html = user_client.get("/predictions/").content.decode()
    assert f'id="metric-mae">{mae([10, 8, 5, 6], predicted):.3f}<' in html
    assert "ratings have changed since" not in html
    assert sweep()["summaries"] == 0  # nothing changed since: not made again


def test_filters_compute_the_figures_for_the_trailers_they_keep(user_client, user, make_trailer, make_version,
                                                                make_prediction):
    version = make_version(number=1, active=True)
    low, high = make_trailer(title="Low one"), make_trailer(title="High one")
    make_prediction(version, low, 2.0)
    make_prediction(version, high, 9.0)
    rate_trailer(user=user, trailer=low, score=4)
    rate_trailer(user=user, trailer=high, score=8)
    keep_prediction_summary(model_version=version)
    everything = user_client.get("/predictions/").content.decode()
    assert 'id="metric-n">2<' in everything and f'id="metric-mae">{mae([4, 8], [2, 9]):.3f}<' in everything
    filtered = user_client.get("/predictions/?q=high").content.decode()
    assert 'id="metric-n">1<' in filtered and f'id="metric-mae">{mae([8], [9]):.3f}<' in filtered
    assert 'id="figures-kept"' not in filtered


def test_a_deleted_trailer_marks_the_kept_figures_stale(make_trailer, make_version, make_prediction, user):
    version = make_version(number=1, active=True)
    trailer = make_trailer()
    make_prediction(version, trailer, 5.0)
    rate_trailer(user=user, trailer=trailer, score=5)
    keep_prediction_summary(model_version=version)
    trailer.delete()
    assert PredictionSummary.objects.get(model_version=version).stale
    sweep()
    assert PredictionSummary.objects.get(model_version=version).figures["all"]["n"] == 0


def test_versions_from_before_kept_figures_get_theirs_from_the_sweep(user_client, make_trailer, make_version,
                                                                     make_prediction):
    version = make_version(number=1)
    make_prediction(version, make_trailer(), 5.0)
    unused = make_version(number=2)  # never activated: no predictions
    assert sweep()["summaries"] == 2
    assert sweep()["summaries"] == 0
    kept = {k.model_version: k for k in PredictionSummary.objects.all()}
    assert kept[version].predictions == 1 and kept[unused].predictions == 0
    assert kept[version].computed_at <= timezone.now()
    html = user_client.get(f"/predictions/?version={version.pk}").content.decode()
    assert "v1 · 1 predictions" in html and "v2 · 0 predictions" in html  # the version picker reads them


def test_the_page_follows_a_versions_scoring_after_activation_until_every_trailer_has_its_prediction(
        user_client, make_trailer, make_version, stub_model):
    from trailers.services import activate_model_version

    trailers = [make_trailer() for _ in range(3)]
    version = make_version(number=1)
    activate_model_version(model_version=version)  # (its scoring task would be sent once this commits)
    assert "Scoring: 0 of 3 ready trailers" in user_client.get("/predictions/").content.decode()
    assert scoring.score_trailers(model_version_id=version.pk, trailer_ids=[trailers[0].pk]) == 1
    assert "Scoring: 1 of 3 ready trailers" in user_client.get("/predictions/").content.decode()
    assert scoring.score_trailers(model_version_id=version.pk) == 2  # the whole pass: every trailer scored
    version.refresh_from_db()
    assert version.scored_at is not None
    html = user_client.get("/predictions/").content.decode()
    assert "Scoring:" not in html and html.count('<tr data-trailer="') == 3
    make_trailer()  # a new trailer is scored as it becomes ready, without the page counting every trailer
    assert "Scoring:" not in user_client.get("/predictions/").content.decode()
    activate_model_version(model_version=version)  # activated again: followed again until its pass ends
    assert "Scoring: 3 of 4 ready trailers" in user_client.get("/predictions/").content.decode()


def test_the_sweep_notes_a_fully_scored_version_from_before(make_trailer, make_version, make_prediction):
    version = make_version(number=1, active=True)  # no scored_at: made before it existed
    trailer = make_trailer()
    sweep()  # a ready trailer without its prediction: not noted as scored
    version.refresh_from_db()
    assert version.scored_at is None
    make_prediction(version, trailer, 5.0)
    sweep()
    version.refresh_from_db()
    assert version.scored_at is not None
