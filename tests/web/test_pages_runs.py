"""Runs: the list with progress, and a run's page with live progress, charts, configuration and its states."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from trailers import selectors
from trailers.models import TrainingRun

pytestmark = pytest.mark.django_db


def test_list_shows_status_and_progress_and_polls_while_a_run_is_going(user_client, make_run, make_version):
    done = make_run(status=TrainingRun.Status.SUCCEEDED)
    make_version(number=1, run=done, val_mae=1.234)
    going = make_run(status=TrainingRun.Status.RUNNING, progress=0.4, epoch=2, epochs=5)
    html = user_client.get("/runs/").content.decode()
    assert f'href="/runs/{done.pk}/"' in html and f'href="/runs/{going.pk}/"' in html
    assert 'value="40"' in html and "40%" in html and "2/5" in html
    assert "1.234" in html and "v1" in html
    assert 'hx-trigger="every 2s"' in html
    partial = user_client.get("/runs/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith("<div") and 'id="runs-table"' in partial and "<html" not in partial
    TrainingRun.objects.filter(pk=going.pk).update(status=TrainingRun.Status.SUCCEEDED, progress=1.0)
    assert "hx-trigger" not in user_client.get("/runs/", HTTP_HX_REQUEST="true").content.decode()


def test_run_page_has_charts_config_split_device_duration(user_client, make_run, make_version):
    run = make_run(status=TrainingRun.Status.SUCCEEDED, epochs=3)
    version = make_version(number=4, run=run)
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-status="succeeded"' in html and "made model version <a href=\"/versions/" in html and ">v4</a>" in html
    charts = re.findall(r'<svg class="chart line-chart".*?</svg>', html, flags=re.S)
    assert len(charts) == 2
    loss, mae = charts
    assert loss.count("<polyline") == 2 and "train loss" in loss and "validation loss" in loss
    assert mae.count("<polyline") == 2 and "mean-rating baseline MAE" in mae and 'class="series series-1 dashed"' in mae
    assert loss.count("<circle") == 6  # a dot per epoch and series
    assert "3 trailers: 2 train, 1 validation" in html
    assert "<dt>Device</dt><dd>cpu</dd>" in html
    assert "1 min 5 s" in html  # started 65 s before it finished
    # Options are labelled as the start-run form labels them, the code name beside.
    assert re.search(r'data-option="lstm_size"><th scope="row">LSTM size <code class="option-name">lstm_size</code></th><td>8</td>', html)
    assert re.search(r'data-option="batch_size"><th scope="row">Batch size <code[^>]*>batch_size</code></th><td>4</td>', html)
    assert "hx-trigger" not in html  # finished: nothing to poll
    assert version.pk


def test_running_run_polls_and_shows_progress(user_client, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING, progress=0.25, epochs=4, metrics=[
        {"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_mae": 1.5, "baseline_mae": 1.6}])
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert f'hx-get="/runs/{run.pk}/" hx-trigger="every 1500ms"' in html
    assert "25% · epoch 1 of 4" in html
    partial = user_client.get(f"/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('{#') is False and 'id="run-live"' in partial and "<html" not in partial


def test_states_are_explained(user_client, make_run, settings):
    failed = make_run(status=TrainingRun.Status.FAILED, error="Not enough labelled trailers: 1 of 3.", metrics=[])
    assert "Failed: Not enough labelled trailers: 1 of 3." in user_client.get(f"/runs/{failed.pk}/").content.decode()
    cancelled = make_run(status=TrainingRun.Status.CANCELLED, epochs=2, cancel_requested=True, epoch=3)
    page = user_client.get(f"/runs/{cancelled.pk}/").content.decode()
    assert "Cancelled after epoch 2." in page  # the last epoch finished; the one it was in when it stopped:
    assert "stopped in epoch 3 of" in page
    stale = make_run(status=TrainingRun.Status.RUNNING,
                     heartbeat_at=timezone.now() - timezone.timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS + 60))
    html = user_client.get(f"/runs/{stale.pk}/").content.decode()
    assert 'data-status="stale"' in html and "its worker has not reported" in html
    queued = make_run(status=TrainingRun.Status.QUEUED, metrics=[], dataset=[], started_at=None)
    html = user_client.get(f"/runs/{queued.pk}/").content.decode()
    assert "Queued: waiting for a worker" in html and "not frozen yet" in html
    assert "No data yet." in html


def test_staff_cancel_a_queued_run(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.QUEUED, metrics=[], started_at=None)
    assert 'id="cancel-run"' in staff_client.get(f"/runs/{run.pk}/").content.decode()
    response = staff_client.post(f"/runs/{run.pk}/cancel/", follow=True)
    assert f"Run #{run.pk} was cancelled." in response.content.decode()
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED


def test_staff_cancel_a_running_run_asks_it_to_stop(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING)
    response = staff_client.post(f"/runs/{run.pk}/cancel/", follow=True)
    assert "it stops after its current step" in response.content.decode()
    run.refresh_from_db()
    assert run.cancel_requested and run.status == TrainingRun.Status.RUNNING


def test_staff_cancel_a_stale_run_ends_it_at_once_and_drops_its_checkpoint(staff_client, make_run, settings,
                                                                           django_capture_on_commit_callbacks):
    silent = timezone.now() - timezone.timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS + 60)
    run = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=silent, checkpoint="runs/77/checkpoint.pt")
    checkpoint = settings.MEDIA_ROOT / "runs" / "77" / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights and optimiser")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/runs/{run.pk}/cancel/", follow=True)
    assert f"Run #{run.pk} was cancelled." in response.content.decode()  # no worker is on it: nothing to wait for
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED and run.finished_at
    assert not checkpoint.exists() and not checkpoint.parent.exists()


def test_cancelling_a_finished_run_says_so(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.SUCCEEDED)
    response = staff_client.post(f"/runs/{run.pk}/cancel/", follow=True)
    assert "has already finished" in response.content.decode()


def test_a_normal_user_cannot_cancel(user_client, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING)
    assert 'id="cancel-run"' not in user_client.get(f"/runs/{run.pk}/").content.decode()
    assert user_client.post(f"/runs/{run.pk}/cancel/").status_code == 403
    run.refresh_from_db()
    assert not run.cancel_requested


def test_unknown_run_is_404(user_client):
    assert user_client.get("/runs/99999/").status_code == 404


def test_the_admin_links_to_the_run_page(staff_client, make_run):
    run = make_run()
    html = staff_client.get(f"/admin/trailers/trainingrun/{run.pk}/change/").content.decode()
    assert f'href="/runs/{run.pk}/"' in html


def test_run_page_names_options_as_the_form_does(user_client, make_run):
    run = make_run(train_config={"epochs": 3, "lr": 0.001, "restore_best": False, "grad_clip": None},
                   model_config={"dense_sizes": [6000, 500], "frame_size": 112})
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert re.search(r'Learning rate <code class="option-name">lr</code></th><td>0.001</td>', html)
    assert re.search(r'Restore best <code[^>]*>restore_best</code></th><td>off</td>', html)
    assert re.search(r'Grad clip <code[^>]*>grad_clip</code></th><td>—</td>', html)
    assert re.search(r'Dense sizes <code[^>]*>dense_sizes</code></th><td>6000, 500</td>', html)


def test_frames_line_says_what_the_trailers_have_not_the_plan(user_client, make_run, make_trailer):
    # Short trailers: the plan allows 3 subclips of 30 s, but each got one of 1.5 s.
    trailers = [make_trailer(subclips=1) for _ in range(3)]
    sampling = {"size": 112, "frames_per_subclip": 16, "n_subclips": 3, "subclip_duration": 30.0,
                "snippet_frames": 2}
    run = make_run(dataset=[{"trailer": t.pk, "label": 5.0, "split": "cv"} for t in trailers], sampling=sampling)
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert re.search(r'<dd id="run-frames">16 per subclip \(each a snippet of 2 frames\) at 112² <span', html)
    # Its worker keeps what it read (trailers/services/training.py); the page says that, not the plan.
    TrainingRun.objects.filter(pk=run.pk).update(frames=selectors.measure_run_frames(run.pk))
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    line = re.search(r'<dd id="run-frames">(.*?)</dd>', html, flags=re.S).group(1)
    assert "16 per subclip (each a snippet of 2 frames) at 112²; 3 subclips from 3 trailers: 1 each, 1.5 s long" in line
    assert "the plan: at most 3 subclips of 30 s per trailer" in line
    assert "3 subclips of 30.0 s" not in html


def test_start_notice_goes_once_the_run_moves_on(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.QUEUED, metrics=[], started_at=None)
    html = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert """hx-vals='{"shown": "queued"}'""" in html
    # Still queued: the live part leaves the page's notices alone.
    partial = staff_client.get(f"/runs/{run.pk}/?shown=queued", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="messages"' not in partial
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now())
    partial = staff_client.get(f"/runs/{run.pk}/?shown=queued", HTTP_HX_REQUEST="true").content.decode()
    assert '<div id="messages" class="messages" role="status" aria-live="polite" hx-swap-oob="innerHTML"></div>' in partial
    assert """hx-vals='{"shown": "running"}'""" in partial
