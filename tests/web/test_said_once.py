"""What the run page and the admin both say is said once: cancelling a run, a run's dataset; and the predictions
page's figures come from one selector report (kept figures, or computed for the rows the filters leave)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from tests.support.rows import cross_validation_estimate
from trailers import selectors
from trailers.models import TrainingRun
from trailers.services import rate_trailer
from trailers.services.summaries import keep_prediction_summary

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("status", "words"), [
    (TrainingRun.Status.QUEUED, "RUN was cancelled."),
    (TrainingRun.Status.RUNNING, "Cancel requested for RUN: it stops after its current step."),
    (TrainingRun.Status.SUCCEEDED, "RUN has already finished (succeeded)."),
])
def test_the_run_page_and_the_admin_say_the_same_when_cancelling(staff_client, make_run, status, words):
    said = []
    for url in ("/runs/{}/cancel/", "/admin/trailers/trainingrun/{}/cancel/"):
        run = make_run(status=status, metrics=[] if status == TrainingRun.Status.QUEUED else None)
        response = staff_client.post(url.format(run.pk))
        assert response.status_code == 302
        [message] = get_messages(response.wsgi_request)
        said.append((message.level_tag, message.message.replace(str(run), "RUN")))
        staff_client.cookies.pop("messages", None)  # shown: the next request starts with none
    assert said == [said[0], said[0]] and said[0][1] == words


def test_the_run_page_and_the_admin_describe_a_dataset_alike(user_client, admin_client, make_trailer, make_run):
    trailers = [make_trailer() for _ in range(4)]
    runs = {
        "4 trailers, cross-validated in 2 folds (each held out once)": make_run(
            cross_validation=cross_validation_estimate(trailers, folds=2), train_config={"epochs": 3, "folds": 2},
            dataset=[{"trailer": t.pk, "label": 5.0, "split": "cv"} for t in trailers], dataset_trailers=4,
            dataset_cross_validated=4),
        "3 trailers: 2 train, 1 validation": make_run(dataset_trailers=3, dataset_train=2, dataset_val=1),
        "not frozen yet (frozen when a worker starts the run)": make_run(status=TrainingRun.Status.QUEUED,
                                                                         metrics=[], dataset=[], started_at=None),
    }
    for words, run in runs.items():
        page = user_client.get(f"/runs/{run.pk}/").content.decode()
        assert re.search(r'<dd id="run-dataset">(.*?)</dd>', page).group(1) == words
        admin = admin_client.get(f"/admin/trailers/trainingrun/{run.pk}/change/").content.decode()
        assert re.search(r'field-dataset_summary.*?<div class="readonly">(.*?)</div>', admin, flags=re.S).group(1) \
            == words


def test_the_predictions_report_reads_the_kept_figures_unless_the_filters_narrow_the_rows(user, make_trailer,
                                                                                         make_version,
                                                                                         make_prediction):
    version = make_version(number=1, active=True)
    for title, predicted, rating in (("A", 8.0, 9), ("B", 3.0, 2), ("C", 6.0, None)):
        trailer = make_trailer(title=title)
        make_prediction(version, trailer, predicted)
        if rating:
            rate_trailer(user=user, trailer=trailer, score=rating)
    version = selectors.get_model_version(pk=version.pk)
    rows = selectors.predictions(model_version=version)
    assert selectors.predictions_report(model_version=version, rows=rows, narrowed=False).kept is None  # none kept

    keep_prediction_summary(model_version=version)
    every = selectors.predictions_report(model_version=version, rows=rows, narrowed=False)
    assert every.kept is not None and every.summary["n"] == 2 and every.summary["mae"] == pytest.approx(1.0)
    assert sorted(every.scatter_points) == [(2.0, 3.0, "B"), (9.0, 8.0, "A")] and every.plotted == 2

    narrowed = selectors.predictions_report(model_version=version, rows=rows.filter(trailer__title="A"),
                                            narrowed=True)
    assert narrowed.kept is None and narrowed.summary["n"] == 1 and narrowed.scatter_points == [(9.0, 8.0, "A")]
    assert narrowed.progress is None or not narrowed.progress.scoring  # every ready trailer is scored
    assert not narrowed.cross_validated and narrowed.ensemble == 1


def test_text_inputs_take_as_much_as_their_service_keeps(staff_client, staff_user, make_trailer, make_run):
    """The inputs' maxlength come from the services' limits (NOTE_MAX, TITLE_MAX, REASON_MAX), not from copies."""
    from trailers.services import rate_trailer
    from trailers.services.notes import NOTE_MAX
    from trailers.services.raters import REASON_MAX
    from trailers.services.trailers import TITLE_MAX

    trailer = make_trailer(uploaded_by=staff_user)
    rate_trailer(user=staff_user, trailer=trailer, score=5)
    assert f'maxlength="{TITLE_MAX}" required id="rename-title"' in staff_client.get(
        f"/trailers/{trailer.pk}/").content.decode()
    assert f'id="note-field" rows="3" maxlength="{NOTE_MAX}"' in staff_client.get(
        f"/runs/{make_run().pk}/").content.decode()
    assert f'name="reason" maxlength="{REASON_MAX}"' in staff_client.get("/raters/").content.decode()
