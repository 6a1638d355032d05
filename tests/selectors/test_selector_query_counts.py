"""The selectors behind every list page ask the database the same number of questions at 10 trailers and at 1,000
(trailers/selectors.py: "each returns rows ready to show, in a fixed number of queries").

This is the layer below tests/web/test_query_counts.py, which counts each page's and API list's queries at 4 and
130 trailers: here each selector is called directly, with a page of its rows read as the page reads them (every
column and related row it shows), so a query that grows with the rows is caught where it is made. The versions and
raters pages, which that test does not count, are counted here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from tests.support.rows import create_cv_run, create_run, create_version, cv_version_metrics
from tests.support.scale import grow, predict
from trailers import selectors, selectors_labelling, selectors_runs
from trailers.filters import PredictionFilterSet, RunFilterSet, TrailerFilterSet
from trailers.models import ModelVersion, Trailer, TrainingRun
from trailers.paging import IdsFirstPaginator
from trailers.services.raters import set_rater_excluded
from trailers.services.summaries import keep_prediction_summary

pytestmark = pytest.mark.django_db

SIZES = (10, 1000)
PAGE = 50  # the pages' size (the runs list: 25)


def first_page(rows, size: int = PAGE) -> list:
    """Page 1 of ``rows`` as the pages read it (trailers/paging.py): the count, the page's ids, those rows."""
    paginator = IdsFirstPaginator(rows, size)
    return list(paginator.page(1).object_list)


def read_trailers(rows) -> list[tuple]:
    """Every column the dataset page and the trailer API show of each row of page 1 (an uploader read per row
    would add a query per row)."""
    return [(t.title, t.uploaded_by and t.uploaded_by.username, t.my_score, t.predicted_score, t.predicted_spread,
             t.predicted_uncertainty, t.mean_rating, t.rating_count) for t in first_page(rows)]


def read_predictions(rows) -> list[tuple]:
    return [(p.trailer.title, p.trailer.mean_rating, p.trailer.rating_count, p.model_version.number, p.score,
             p.uncertainty, p.subclip_scores) for p in first_page(rows)]


def read_runs(rows) -> list[tuple]:
    return [(run.created_by and run.created_by.username, getattr(run, "model_version", None), run.mae,
             run.dataset_trailers, run.train_config, run.preset, run.is_finished) for run in first_page(rows, 25)]


def read_versions(rows) -> list[tuple]:
    return [(v.number, v.run_id, v.metrics.get("val_mae"), v.prediction_count, v.activated_at) for v in rows]


def chosen(choice: selectors_labelling.NextToRate, order: str) -> Trailer | None:
    """The trailer rate-next chose, if it went by the order asked (not a fallback)."""
    return choice.trailer if choice.order == order else None


def read_trailer_page(page) -> list[tuple]:
    return [(page.trailer.title, page.my_rating, page.mean_rating, [s.contact_sheet.name for s in page.subclips]),
            *((p.model_version.number, p.per_subclip, p.ensemble) for p in page.predictions)]


@pytest.fixture(params=SIZES, ids=lambda n: f"{n}-trailers")
def dataset(request, staff_user, user, other_user):
    """``n`` ready trailers rated by three people (the first of them has every other one still to rate, one of
    them left out of the labels), scored by an old single-model version and by the active cross-validated one
    (an ensemble of three, so rate-next can go by its uncertainty), both with kept figures; a run per ten
    trailers (the runs list has more than a page at 1,000)."""
    n = request.param
    people = [staff_user, user, other_user]
    old = create_version(number=1)
    trailers = grow(n, people, [old])
    cv_run = create_cv_run(trailers[:3], [4.0, 6.0, 8.0])
    active = create_version(number=2, run=cv_run, active=True, **cv_version_metrics(trailers=3))
    predict(trailers, [active])
    for _ in range(n // 10):
        create_run(user=staff_user)
    create_run(status=TrainingRun.Status.RUNNING)
    set_rater_excluded(user=other_user, excluded=True)
    ModelVersion.objects.filter(pk=old.pk).update(activated_at=timezone.now() - timedelta(days=1))  # rollback's
    for version in (old, active):
        keep_prediction_summary(model_version=version)
    assert Trailer.objects.count() == n
    return {"n": n, "runs": TrainingRun.objects.count(), "me": staff_user, "trailer": trailers[0], "old": old, "active": active, "cv_run": cv_run}


def calls(d: dict) -> dict:
    """Each selector a list page reads, called as its page calls it (a list through its FilterSet where the page
    filters it: trailers/filters.py); each returns what it read (to check it is not empty)."""
    me, active, old = d["me"], d["active"], d["old"]
    request = RequestFactory().get("/")
    request.user = me
    return {
        # The dataset page and the trailer API: every sort, and the filters together.
        **{f"trailer_list sort={sort}": (lambda sort=sort: read_trailers(selectors.trailer_list(user=me, sort=sort)))
           for sort in ("-uploaded", "title", "-mean", "count", "mine", "-predicted", "reference", "duration")},
        "trailer_list filtered": lambda: read_trailers(TrailerFilterSet(
            {"status": "ready", "rated": "no", "predicted": "yes", "q": "Bulk", "sort": "-mean"},
            queryset=selectors.trailer_list(user=me), request=request).qs),
        "active_model_version": lambda: selectors.active_model_version(),
        # Rate next: the trailer each order picks, how many are left, and the trailer's page under it.
        **{f"next_to_rate order={order}": (lambda order=order: chosen(selectors_labelling.next_to_rate(
            user=me, order=order), order)) for order in selectors_labelling.RATE_ORDERS},
        "unrated_count": lambda: selectors_labelling.unrated_count(user=me),
        # The trailer page.
        "trailer_page": lambda: read_trailer_page(selectors.trailer_page(pk=d["trailer"].pk, user=me)),
        # The predictions page: its rows, its report (the kept figures, or figures computed afresh for a filter,
        # and the scoring it follows), the version picker, the CSV.
        **{f"predictions sort={sort}": (lambda sort=sort: read_predictions(selectors.sort_predictions(
            selectors.predictions(model_version=active), sort))) for sort in selectors.PREDICTION_SORTS},
        "predictions filtered": lambda: read_predictions(PredictionFilterSet(
            {"q": "Bulk", "rated": "yes", "min_score": "2", "max_score": "9"},
            queryset=selectors.predictions(model_version=active)).qs),
        "predictions_report": lambda: selectors.predictions_report(
            model_version=active, rows=selectors.predictions(model_version=active), narrowed=False).kept,
        "predictions_report narrowed": lambda: selectors.predictions_report(
            model_version=selectors.active_model_version(), rows=selectors.predictions(
                model_version=active).filter(trailer__title__icontains="Bulk"), narrowed=True).summary["n"],
        "kept_prediction_summary": lambda: selectors.kept_prediction_summary(model_version=active),
        "scoring_progress": lambda: selectors.scoring_progress(model_version=active),
        "scoring_counts": lambda: selectors.scoring_counts(model_version=active).ready,
        "prediction_figures": lambda: selectors.prediction_figures(
            selectors.active_model_version(), selectors.predictions(
                model_version=active).filter(trailer__title__icontains="Bulk"))["all"]["n"],
        "prediction_csv_rows": lambda: len(list(selectors.prediction_csv_rows(
            selectors.predictions(model_version=active)))),
        "get_model_version": lambda: selectors.get_model_version(pk=old.pk),
        # The runs list (every sort, a filter), a run's page, its dataset as the API pages it.
        **{f"runs sort={sort}": (lambda sort=sort: read_runs(selectors_runs.runs(sort=sort)))
           for sort in selectors_runs.RUN_SORTS},
        "runs filtered": lambda: read_runs(RunFilterSet({"status": "succeeded"}, queryset=selectors_runs.runs()).qs),
        "run_page": lambda: selectors.run_page(pk=d["cv_run"].pk)[1],
        "run_dataset": lambda: selectors.run_dataset(run=selectors.get_run_sizes(pk=d["cv_run"].pk))[0:PAGE],
        # The versions page: the list, the active and the previous version; two versions compared.
        "model_versions": lambda: read_versions(selectors.model_versions()),
        "previous_version": lambda: selectors_runs.previous_version(),
        "compare_versions_by_trailer": lambda: selectors_runs.compare_versions_by_trailer(
            selectors_runs.get_version(pk=old.pk), selectors_runs.get_version(pk=active.pk)).trailers,
        # The raters page.
        "rater_stats": lambda: selectors_labelling.rater_stats().rows,
    }


# What each asks: a list its count, its page's ids and those rows (trailers/paging.py); one row or one aggregate
# one query. The same at 10 trailers and at 1,000.
EXPECTED: dict[str, int] = {
    **{f"trailer_list sort={sort}": 3 for sort in ("-uploaded", "title", "-mean", "count", "mine", "-predicted",
                                                    "reference", "duration")},
    "trailer_list filtered": 3,
    "active_model_version": 1,
    "next_to_rate order=uncertain": 2,  # the active version (is it an ensemble?), then the trailer
    "next_to_rate order=fewest": 1,
    "next_to_rate order=random": 1,
    "unrated_count": 1,
    "trailer_page": 5,  # the trailer, its predictions with their versions, subclips, my rating, the distribution
    **{f"predictions sort={sort}": 3 for sort in selectors.PREDICTION_SORTS},
    "predictions filtered": 3,
    # how far the active version has scored (it has not finished), the kept figures, how many look unlike
    "predictions_report": 3,
    # the version; the scoring; every rated row kept (with what it knew of each); how many look unlike
    "predictions_report narrowed": 4,
    "kept_prediction_summary": 1,
    "scoring_progress": 1,  # the active version has not finished scoring: scored and ready, one aggregate
    "scoring_counts": 1,
    "prediction_figures": 2,  # the active version, every rated row (with what the version knew of each)
    "prediction_csv_rows": 1,  # one more per 2,000 rows: read in chunks
    "get_model_version": 1,
    **{f"runs sort={sort}": 3 for sort in selectors_runs.RUN_SORTS},
    "runs filtered": 3,
    "run_page": 2,  # the run without its dataset and estimate, then its estimate without the predictions
    "run_dataset": 3,  # the run's sizes, a page of its dataset cut out by the database, its folds and held-out predictions
    "model_versions": 1,  # with each one's prediction count
    "previous_version": 1,
    "compare_versions_by_trailer": 5,  # both versions, their predictions (with the trailers' rating counters), each one's held-out ones
    "rater_stats": 3,  # every rating, the raters, who is left out
}

# The lists that read a page of rows: a full page at 1,000 trailers.
PAGED = {name for name in EXPECTED if name.split()[0] in ("trailer_list", "predictions", "runs")
         and not name.endswith("filtered")}


def test_every_list_selector_asks_the_same_number_of_queries_at_10_and_at_1000_trailers(dataset,
                                                                                      django_assert_num_queries):
    called = calls(dataset)
    assert set(called) == set(EXPECTED)
    for name, call in called.items():
        with django_assert_num_queries(EXPECTED[name]):
            result = call()
        assert result, f"{name} read nothing at {dataset['n']} trailers"
        if name in PAGED:
            total = dataset["runs"] if name.startswith("runs") else dataset["n"]
            assert len(result) == min(total, 25 if name.startswith("runs") else PAGE), name
