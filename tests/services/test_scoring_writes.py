"""What scoring writes, called directly (no model is loaded): predictions inserted or overwriting the version's
earlier ones, a trailer deleted meanwhile left out; the kept figures marked stale by writes and made again; a run's
note."""

from __future__ import annotations

import pytest

from trailers.models import Prediction, PredictionSummary
from trailers.services import rate_trailer
from trailers.services.notes import NOTE_MAX, set_run_note
from trailers.services.scoring import write_predictions
from trailers.services.summaries import keep_prediction_summary, mark_summaries_stale, refresh_prediction_summaries

pytestmark = pytest.mark.django_db


def test_predictions_are_written_new_or_over_the_versions_earlier_ones_and_a_deleted_trailer_is_left_out(
        make_trailer, make_version, make_prediction):
    version, other = make_version(number=1), make_version(number=2)
    scored, new, gone = make_trailer(), make_trailer(), make_trailer()
    make_prediction(version, scored, 3.0)
    make_prediction(other, scored, 9.0)
    gone_pk = gone.pk
    gone.delete()
    written = write_predictions(predictions=[
        Prediction(model_version=version, trailer=scored, score=6.0, spread=0.5, uncertainty=0.25,
                   subclip_scores=[5.5, 6.5]),
        Prediction(model_version=version, trailer=new, score=4.0, spread=0.0, uncertainty=0.0, subclip_scores=[4.0]),
        Prediction(model_version=version, trailer_id=gone_pk, score=5.0, spread=0.0, uncertainty=0.0,
                   subclip_scores=[5.0]),
    ])
    assert written == 2
    assert dict(Prediction.objects.filter(model_version=version).values_list("trailer", "score")) == {
        scored.pk: 6.0, new.pk: 4.0}
    kept = Prediction.objects.get(model_version=version, trailer=scored)
    assert (kept.spread, kept.uncertainty, kept.subclip_scores) == (0.5, 0.25, [5.5, 6.5])
    assert Prediction.objects.get(model_version=other).score == 9.0  # another version's are its own
    assert write_predictions(predictions=[]) == 0


def test_the_kept_figures_go_stale_with_a_rating_and_the_sweeps_refresh_makes_them_again(
        user, make_trailer, make_version, make_prediction):
    version = make_version(number=1)
    trailers = [make_trailer() for _ in range(3)]
    for trailer, (rated, predicted) in zip(trailers, [(4, 5.0), (6, 6.0), (8, 6.0)], strict=True):
        rate_trailer(user=user, trailer=trailer, score=rated)
        make_prediction(version, trailer, predicted)
    make_prediction(version, make_trailer(), 7.0)  # nobody rated it: counted among the predictions, not the figures
    summary = keep_prediction_summary(model_version=version)
    assert (summary.stale, summary.predictions, summary.figures["all"]["n"]) == (False, 4, 3)
    assert summary.figures["all"]["mae"] == pytest.approx(1.0)
    assert len(summary.points) == 3

    rate_trailer(user=user, trailer=trailers[2], score=6)  # now every prediction but the first is right
    assert PredictionSummary.objects.get(model_version=version).stale
    assert refresh_prediction_summaries() == 1
    summary = PredictionSummary.objects.get(model_version=version)
    assert not summary.stale and summary.figures["all"]["mae"] == pytest.approx(1 / 3)
    assert refresh_prediction_summaries() == 0  # nothing stale

    other = make_version(number=2)  # no summary yet: the sweep makes its first
    assert refresh_prediction_summaries() == 1
    assert PredictionSummary.objects.get(model_version=other).predictions == 0
    mark_summaries_stale(model_version_id=other.pk)
    assert list(PredictionSummary.objects.filter(stale=True).values_list("model_version", flat=True)) == [other.pk]


def test_a_runs_note_drops_surrounding_spaces_and_is_cut_at_its_length(make_run):
    run = make_run()
    assert set_run_note(run=run, note="  frozen encoder, 5 folds  ").note == "frozen encoder, 5 folds"
    set_run_note(run=run, note="x" * (NOTE_MAX + 10))
    run.refresh_from_db()
    assert len(run.note) == NOTE_MAX
    assert set_run_note(run=run, note="   ").note == ""
