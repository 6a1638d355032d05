"""Runs you can compare and versions you can trust: the runs list's filters and sorts, compare runs, notes, "new run
like this", activation that warns and asks again, one-click rollback, two versions compared trailer by trailer."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support.rows import create_cv_run, create_prediction, create_version, cv_version_metrics
from trailers.models import ModelVersion, TrainingRun
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def listed(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-run="(\d+)">', html)]


def test_runs_list_filters_by_status_and_preset_and_sorts_by_metric(user_client, make_run, make_version):
    good = make_run(preset="default")
    make_version(number=1, run=good, val_mae=0.8)
    bad = make_run(preset="scratch")
    make_version(number=2, run=bad, val_mae=1.9)
    failed = make_run(status=TrainingRun.Status.FAILED, preset="default", metrics=[])
    assert listed(user_client.get("/runs/").content.decode()) == [failed.pk, bad.pk, good.pk]
    assert listed(user_client.get("/runs/?sort=mae").content.decode()) == [good.pk, bad.pk, failed.pk]
    assert listed(user_client.get("/runs/?sort=-mae").content.decode()) == [bad.pk, good.pk, failed.pk]
    # A version that measured nothing (one model, no validation split) has no MAE: last either way, never best.
    unmeasured = make_run(preset="default")
    make_version(number=3, run=unmeasured, val_mae=None)
    assert listed(user_client.get("/runs/?sort=mae").content.decode()) == [good.pk, bad.pk, unmeasured.pk, failed.pk]
    assert listed(user_client.get("/runs/?sort=-mae").content.decode()) == [bad.pk, good.pk, unmeasured.pk, failed.pk]
    ModelVersion.objects.filter(run=unmeasured).delete()
    unmeasured.delete()
    assert listed(user_client.get("/runs/?preset=default").content.decode()) == [failed.pk, good.pk]
    assert listed(user_client.get("/runs/?status=succeeded&preset=default").content.decode()) == [good.pk]
    html = user_client.get("/runs/").content.decode()
    assert f'<input type="checkbox" name="runs" value="{good.pk}" form="compare-form"' in html


def test_a_new_run_gets_its_preset_from_its_options(staff_user, labelled):
    from ml.config import PRESETS, TRAIN_PRESETS
    from trailers.services import start_training_run

    run = start_training_run(user=staff_user, model_config=PRESETS["default"].replace(frame_size=64),
                             train_config=TRAIN_PRESETS["default"])
    assert run.preset == "default"
    run = start_training_run(user=staff_user, model_config=PRESETS["default"].replace(lstm_size=8),
                             train_config=TRAIN_PRESETS["default"])
    assert run.preset == "custom"


def test_compare_runs_shows_figures_differing_options_and_overlaid_curves(user_client, make_trailer):
    trailers = [make_trailer() for _ in range(6)]
    labels = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    first = create_cv_run(trailers, labels, preset="default", note="the baseline we ship")
    create_version(number=1, run=first, **cv_version_metrics(val_mae=0.9))
    second = create_cv_run(trailers, labels, preset="default", epochs=3,
                           train_config={"epochs": 3, "batch_size": 4, "device": "cpu", "folds": 3, "lr": 0.01,
                                         "restore_best": False})
    create_version(number=2, run=second, **cv_version_metrics(val_mae=0.7, head_mae=0.8, neighbours_mae=0.95,
                                                              neighbour_weight=0.25))
    response = user_client.get(f"/runs/compare/?runs={first.pk}&runs={second.pk}")
    html = unescape(response.content.decode())
    assert response.status_code == 200
    figure = re.search(r'<tr data-figure="val_mae">(.*?)</tr>', html, flags=re.S).group(1)
    assert '<td class="num">0.900</td>' in figure and '<td class="num better">0.700<span class="visually-hidden"> (the best)</span></td>' in figure
    # The second run's model mixes its head with the neighbours: the head alone is a figure of its own.
    head = re.search(r'<tr data-figure="head_mae">(.*?)</tr>', html, flags=re.S).group(1)
    assert "Head alone MAE" in head and re.findall(r'<td class="num[^"]*">(.*?)</td>', head) == ["—", "0.800"]
    assert re.findall(r'<tr data-option="(\w+)">', html) == ["epochs", "lr"]  # every other option is the same
    assert re.search(r'Learning rate <code>training.lr</code></th><td>—</td><td>0.01</td>', html)
    assert "the baseline we ship" in html
    loss = re.search(r'<svg class="chart line-chart" data-series=.*?</svg>', html, flags=re.S).group(0)
    assert loss.count("<polyline") == 4 and f"#{first.pk} held-out" in loss and f"#{second.pk} train" in loss
    assert 'class="series series-1 dashed"' in loss  # the second run's training loss, in its own colour
    # The curves' numbers as a table too (a chart gives them to the eye and the pointer only): a row per epoch,
    # a column per curve, the epochs one run lacks marked.
    numbers = re.search(r'<details class="chart-numbers">.*?</details>', html, flags=re.S).group(0)
    assert f'<th scope="col" class="num">#{first.pk} held-out</th>' in numbers
    assert re.findall(r'<th scope="row">(\d+)</th>', numbers) == ["1", "2", "3"]
    assert numbers.count("—") == 2  # the first run has 2 epochs, the second 3: its held-out and train at epoch 3
    # One run is no comparison.
    response = user_client.get(f"/runs/compare/?runs={first.pk}", follow=True)
    assert "Tick two runs or more in the list to compare them." in unescape(response.content.decode())
    response = user_client.get(f"/runs/compare/?runs={first.pk},99998,99999", follow=True)  # deleted since
    assert "No run has the ids 99998, 99999. Tick two runs or more" in unescape(response.content.decode())


def test_staff_note_a_run_and_everyone_sees_it(staff_client, user, make_run):
    run = make_run()
    response = staff_client.post(f"/runs/{run.pk}/note/", {"note": "  lr too high: diverged at epoch 3  "},
                                 follow=True)
    assert f"The note on Run #{run.pk} was saved." in response.content.decode()
    assert TrainingRun.objects.get(pk=run.pk).note == "lr too high: diverged at epoch 3"
    user_client = staff_client
    user_client.force_login(user)
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert "lr too high: diverged at epoch 3" in html and 'id="save-note"' not in html
    assert "lr too high" in user_client.get("/runs/").content.decode()
    assert user_client.post(f"/runs/{run.pk}/note/", {"note": "mine"}).status_code == 403


def test_new_run_like_this_fills_the_start_form_with_its_options(staff_client, make_run):
    run = make_run(preset="default", label_source=TrainingRun.LabelSource.REFERENCE, min_ratings=3,
                   model_config={"encoder": "efficientnet_lite0", "lstm_size": 24, "frame_size": 112},
                   train_config={"epochs": 7, "lr": 0.0005, "folds": 4, "no_longer_an_option": 1})
    html = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert f'href="/admin/trailers/trainingrun/add/?like={run.pk}"' in html
    form = unescape(staff_client.get(f"/admin/trailers/trainingrun/add/?like={run.pk}").content.decode())
    assert f'Filled with every option of <a href="/runs/{run.pk}/">run #{run.pk}</a>' in form
    for name, value in (("model__lstm_size", "24"), ("train__epochs", "7"), ("train__lr", "0.0005"),
                        ("train__folds", "4"), ("min_ratings", "3")):
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"|value="{re.escape(value)}"[^>]*name="{name}"',
                         form), name
    assert re.search(r'<option value="reference" selected>', form)
    # An option the run predates takes the value the run trained with, not the preset's ("object" in default).
    track = re.search(r'<select name="model__foreground_track".*?</select>', form, flags=re.S).group(0)
    assert re.search(r'<option value="pixels" selected>', track) and 'value="object" selected' not in track
    assert f"<h2>Model (run #{run.pk}'s options: the default preset)</h2>" in form
    custom = make_run(preset="", model_config={"encoder": "scratch", "lstm_size": 24})
    form = unescape(staff_client.get(f"/admin/trailers/trainingrun/add/?like={custom.pk}").content.decode())
    assert f"<h2>Model (run #{custom.pk}'s options: custom)</h2>" in form  # not "default preset"
    form = unescape(staff_client.get("/admin/trailers/trainingrun/add/?like=999999").content.decode())
    assert "There is no run #999999 to start like: the form holds the default preset's options." in form
    assert "<h2>Model (default preset)</h2>" in form


@pytest.fixture
def two_versions(make_trailer, user):
    """v1 (active) and v2 from cross-validated runs on the same six rated trailers; v2 predicts them worse."""
    trailers = [make_trailer(title=f"T{i}") for i in range(6)]
    labels = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    for trailer, label in zip(trailers, labels, strict=True):
        rate_trailer(user=user, trailer=trailer, score=int(label))
    from tests.support.rows import cross_validation_estimate

    good = create_cv_run(trailers, labels, cross_validation=cross_validation_estimate(
        trailers, predictions={t.pk: label + 0.2 for t, label in zip(trailers, labels, strict=True)}))
    bad = create_cv_run(trailers, labels, cross_validation=cross_validation_estimate(
        trailers, predictions={t.pk: label + 1.5 for t, label in zip(trailers, labels, strict=True)}))
    v1 = create_version(number=1, run=good, active=True, **cv_version_metrics())
    v2 = create_version(number=2, run=bad, **cv_version_metrics())
    for trailer, label in zip(trailers, labels, strict=True):
        create_prediction(v1, trailer, label + 0.2)
        create_prediction(v2, trailer, label + (3.0 if trailer.title == "T2" else 1.5))
    return v1, v2, trailers


def test_activating_a_worse_version_warns_and_asks_again(staff_client, two_versions):
    v1, v2, _ = two_versions
    response = staff_client.post(f"/versions/{v2.pk}/activate/")
    html = unescape(response.content.decode())
    assert response.status_code == 409
    assert "Activate v2 all the same?" in html
    assert "v2 is not better on the same 6 held-out trailers, MAE 1.500 against v1's 0.200" in html
    assert ModelVersion.objects.get(is_active=True) == v1
    response = staff_client.post(f"/versions/{v2.pk}/activate/", {"confirm": "1"}, follow=True)
    html = unescape(response.content.decode())
    assert "Model version v2 is now active (not better on the same 6 held-out trailers" in html
    notices = re.search(r'<div id="messages".*?</div>', html, flags=re.S).group(0)
    assert "Model version v2" in notices and "V2" not in notices  # named as everywhere else
    assert ModelVersion.objects.get(is_active=True) == v2


def test_a_better_version_activates_at_once_from_the_run_page(staff_client, two_versions):
    v1, v2, _ = two_versions
    ModelVersion.objects.update(is_active=False)
    v2.is_active = True
    v2.save()
    html = staff_client.get(f"/runs/{v1.run_id}/").content.decode()
    assert 'id="activate-version"' in html and "Activate v1" in html
    response = staff_client.post(f"/versions/{v1.pk}/activate/", {"next": f"/runs/{v1.run_id}/"})
    assert response.status_code == 302 and response["Location"] == f"/runs/{v1.run_id}/"
    assert ModelVersion.objects.get(is_active=True) == v1


def test_rollback_in_one_click(staff_client, two_versions):
    v1, v2, _ = two_versions
    staff_client.post(f"/versions/{v2.pk}/activate/", {"confirm": "1"})
    html = staff_client.get("/versions/").content.decode()
    assert "Roll back to v1" in html
    response = staff_client.post("/versions/rollback/", follow=True)
    assert "Rolled back: model version v1 is active again in place of v2" in unescape(response.content.decode())
    assert ModelVersion.objects.get(is_active=True) == v1
    ModelVersion.objects.filter(pk=v2.pk).update(activated_at=None)
    response = staff_client.post("/versions/rollback/", follow=True)
    assert "nothing to roll back to" in response.content.decode()


def test_only_staff_with_the_permission_activate_or_roll_back(client, user, two_versions):
    user_client = client
    user_client.force_login(user)
    v1, v2, _ = two_versions
    assert user_client.post(f"/versions/{v2.pk}/activate/", {"confirm": "1"}).status_code == 403
    assert user_client.post("/versions/rollback/").status_code == 403
    assert 'id="activate-version"' not in user_client.get(f"/versions/{v2.pk}/").content.decode()


def test_the_versions_page_offers_a_comparison_only_with_two_versions_or_more(user_client, make_version):
    make_version(number=1, active=True)
    assert 'id="compare-versions-form"' not in user_client.get("/versions/").content.decode()  # v1 with v1 only
    make_version(number=2)
    assert 'id="compare-versions-form"' in user_client.get("/versions/").content.decode()


def test_two_versions_compared_trailer_by_trailer(user_client, two_versions):
    v1, v2, trailers = two_versions
    html = unescape(user_client.get(f"/versions/compare/?a={v1.pk}&b={v2.pk}").content.decode())
    assert "6 trailers scored by both; 6 of them rated." in html
    assert 'id="mae-a">v1 0.200<' in html and 'id="mae-b">v2 1.750<' in html
    changes = re.findall(r'<tr data-trailer="(\d+)">', re.search(r'id="biggest-changes".*?</table>', html,
                                                                 flags=re.S).group(0))
    assert int(changes[0]) == trailers[2].pk  # T2 moved the most
    worst_b = re.findall(r'<tr data-trailer="(\d+)">', re.search(r'id="worst-b".*?</table>', html, flags=re.S).group(0))
    assert int(worst_b[0]) == trailers[2].pk
    assert "the fair comparison, against that run's mean user ratings): v2 1.500, v1 0.200" in html
    version_page = unescape(user_client.get(f"/versions/{v2.pk}/").content.decode())
    assert ("Against v1, the active version: not better on the same 6 held-out trailers, MAE 1.500 against v1's "
            "0.200 (against this run's mean user ratings).") in version_page
    api = user_client.get(f"/api/model-versions/compare/?a={v1.pk}&b={v2.pk}").json()
    assert api["held_out"]["label_source"] == "user_mean"


def test_comparing_more_runs_than_fit_says_which_were_left_out(user_client, make_run):
    runs = [make_run() for _ in range(10)]
    ids = ",".join(str(run.pk) for run in runs)
    html = unescape(user_client.get(f"/runs/compare/?runs={ids}").content.decode())
    assert listed_compared(html) == [run.pk for run in runs[:8]]
    assert (f"At most 8 runs are compared at once: the first 8 ticked are here, and #{runs[8].pk}, #{runs[9].pk} "
            "left out.") in html
    # Thousands of ids asked for: the message names eight of those left out and counts the rest.
    many = ids + "," + ",".join(str(n) for n in range(10**6, 10**6 + 5000))
    html = unescape(user_client.get(f"/runs/compare/?runs={many}").content.decode())
    assert f"and #{runs[8].pk}, #{runs[9].pk}, #1000000, " in html and "#1000005 and 4994 more left out." in html
    assert len(html) < 100_000


def listed_compared(html: str) -> list[int]:
    return sorted({int(pk) for pk in re.findall(r'href="/runs/(\d+)/"', html)})
