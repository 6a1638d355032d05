"""The admin's start-a-run form and its read-only run view, as staff see them (no worker: runs stay queued)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders

from ml.config import LRCNConfig, TrainConfig, options
from tests.support.run_options import TINY_RUN, run_form_data
from trailers.models import TrainingRun

pytestmark = pytest.mark.django_db

ADD = "/admin/trailers/trainingrun/add/"
CONFIG_FIELDS = [f.name for cls in (LRCNConfig, TrainConfig) for f in dataclasses.fields(cls)]
# Each option's help, as ml/config.py declares it.
HELP_TEXT = {name: o.help for cls in (LRCNConfig, TrainConfig) for name, o in options(cls).items() if o.help}


def post(client, preset: str = "default", **fields):
    url = ADD if preset == "default" else f"{ADD}?preset={preset}"
    return client.post(url, run_form_data(preset, **{**TINY_RUN, **fields}))


def field_row(html: str, name: str) -> str:
    """The form row of one field: its errors, label, input and help."""
    match = re.search(rf'<div class="form-row field-{name}[ "].*?(?=<div class="form-row |</fieldset>)', html, re.S)
    assert match, f"no row for {name}"
    return match[0]


# --- starting a run --------------------------------------------------------------------------------------


def test_trailers_that_are_not_there_are_refused_above_the_form_and_start_nothing(staff_client, labelled):
    ids = f"{labelled[0].pk},{labelled[1].pk},999999"
    response = post(staff_client, trailer_ids=ids)  # "Train on these", one of them deleted since
    assert response.status_code == 200 and not TrainingRun.objects.exists()
    html = response.content.decode()
    assert "No trailer has the id 999999 (deleted since?). The form now holds the other 2: start it again to train " \
           "on them." in html
    kept = f"{labelled[0].pk},{labelled[1].pk}"
    assert f'name="trailer_ids" value="{kept}"' in html  # the form keeps the rest of what was asked
    assert post(staff_client, trailer_ids=kept).status_code == 302  # a run is made with them (failed: 2 are too few)
    assert TrainingRun.objects.get().requested_trailer_ids == sorted([labelled[0].pk, labelled[1].pk])
    TrainingRun.objects.all().delete()
    garbled = post(staff_client, trailer_ids="1,two").content.decode()  # a hidden field edited by hand
    assert "Trailer ids must be a comma-separated list of numbers." in garbled and not TrainingRun.objects.exists()


def test_a_started_run_opens_its_page_with_a_notice(staff_client, labelled):
    response = post(staff_client)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    page = staff_client.get(response["Location"]).content.decode()
    assert f"{run} is queued: this page shows its progress" in page
    assert run.status == TrainingRun.Status.QUEUED and run.model_config["frame_size"] == 32


def test_a_run_that_cannot_start_still_opens_its_page_and_says_why(staff_client):
    response = post(staff_client)
    run = TrainingRun.objects.get()
    assert response["Location"] == f"/runs/{run.pk}/"
    page = staff_client.get(response["Location"]).content.decode()
    assert "could not start: Not enough labelled trailers" in page


def test_normal_users_cannot_open_the_form(user_client):
    assert user_client.get(ADD).status_code == 302  # to the admin's login
    assert user_client.post(ADD, run_form_data(**TINY_RUN)).status_code == 302
    assert not TrainingRun.objects.exists()


# --- errors: all at once, on their fields, in plain words -----------------------------------------------


def test_every_bad_field_gets_its_own_plain_error_at_once(staff_client):
    response = post(staff_client, train__epochs=-1, train__lr=-5, model__dropout=1, train__grad_clip=0)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors == {
        "train__epochs": ["Epochs must be a whole number of at least 1."],
        "train__lr": ["Learning rate must be a number greater than 0."],
        "model__dropout": ["Dropout must be a number of at least 0 and less than 1."],
        "train__grad_clip": ["Grad clip must be a number greater than 0, or left empty."],
    }
    html = response.content.decode()
    assert "Please correct the 4 errors below." in html
    assert "Epochs must be a whole number of at least 1." in field_row(html, "train__epochs")
    assert "Learning rate must be a number greater than 0." in field_row(html, "train__lr")
    assert "TrainConfig" not in html and "got -1" not in html
    assert not TrainingRun.objects.exists()


def test_rules_between_fields_and_unreadable_values_do_not_hide_other_errors(staff_client):
    response = post(staff_client, model__encoder="scratch", model__temporal="mean", model__frame_size=16,
                    model__pool_size=8, train__epochs="many", model__dense_sizes="big", train__momentum=2)
    errors = response.context["form"].errors
    assert errors["model__deltas"] == ["Deltas must be off unless temporal is lstm."]
    assert errors["model__pool_size"] == ["Pool size must be at most 4 (frame size divided by 4)."]
    assert errors["train__epochs"] == ["Epochs must be a whole number from 1 to 10000."]
    assert errors["model__dense_sizes"] == ["Dense sizes must be whole numbers from 1 to 100000, separated by commas, "
                                            "at most 8 of them."]
    assert errors["train__momentum"] == ["Momentum must be a number of at least 0 and less than 1."]
    assert "__all__" not in errors


def test_an_emptied_or_unknown_option_is_said_on_its_field_and_keeps_the_rest(staff_client):
    """An option the form could not read was left out of the config, which then took the dataclass's default in its
    place and refused it where no form could say why: a server error that lost everything typed."""
    for fields in ({"model__frame_size": "", "model__pool_size": 20}, {"model__frame_size": 16, "model__pool_size": ""},
                   {"model__encoder": "bogus"}):
        response = post(staff_client, preset="scratch", train__epochs=2, **fields)
        assert response.status_code == 200, fields
        errors = response.context["form"].errors
        emptied = next(name for name, value in fields.items() if value in ("", "bogus"))
        assert list(errors) == [emptied], errors
        assert 'name="train__epochs" value="2"' in response.content.decode()  # what was typed stays
    assert not TrainingRun.objects.exists()


def test_options_that_only_go_together_are_all_refused_at_once(staff_client):
    """The default preset with the scratch encoder: every pixel feature it cannot read, in one answer, not one per
    submit (four round trips); the mean head likewise refuses deltas and drift together."""
    errors = post(staff_client, model__encoder="scratch", model__frame_size=64).context["form"].errors
    assert set(errors) == {"model__pixel_grid", "model__foreground", "model__background", "model__drift"}, errors
    assert errors["model__drift"] == ["Drift must be off with the scratch encoder (its CNN reads the pixels itself)."]
    errors = post(staff_client, model__temporal="mean").context["form"].errors
    assert set(errors) == {"model__deltas", "model__drift"}, errors


def test_min_ratings_is_refused_in_the_form_s_words_and_not_asked_of_reference_labels(staff_client, labelled):
    words = ["Min ratings must be a whole number from 1 to 1000000."]
    for value in ("0", "1000001", "many", ""):
        assert post(staff_client, min_ratings=value).context["form"].errors == {"min_ratings": words}, value
    assert not TrainingRun.objects.exists()
    response = post(staff_client, label_source="reference", min_ratings="")
    assert response.status_code == 302 and TrainingRun.objects.get().label_source == "reference"


def test_a_dense_head_of_more_layers_than_any_run_needs_is_refused_everywhere(staff_client, staff_api):
    """Fifty hidden layers of 100,000 were accepted, for a worker to run out of memory on."""
    from ml.cli import UsageError, _train_configs, build_parser

    words = "Dense sizes must be whole numbers from 1 to 100000, separated by commas, at most 8 of them."
    errors = post(staff_client, preset="seed", model__dense_sizes=",".join(["100"] * 9)).context["form"].errors
    assert errors == {"model__dense_sizes": [words]}
    refused = staff_api.post("/api/runs/", {"preset": "seed", "model": {"dense_sizes": [100] * 9}}, format="json")
    assert refused.status_code == 400 and refused.json() == {"model": {"dense_sizes": [words]}}
    args = build_parser().parse_args(["train", "d", "--markup", "m.csv", "--out", "m.pt", "--preset", "seed",
                                      "--dense-sizes", ",".join(["100"] * 9)])
    with pytest.raises(UsageError, match="^--dense-sizes must be whole numbers from 1 to 100000, separated by commas, "
                                         "at most 8 of them, got"):
        _train_configs(args)
    assert not TrainingRun.objects.exists()


def test_a_rule_of_the_dense_head_lands_on_frame_size(staff_client):
    response = post(staff_client, preset="seed", model__frame_size=66)
    assert response.context["form"].errors == {
        "model__frame_size": ["Frame size must be a multiple of 4 with the dense head "
                              "(two 2× poolings before flattening)."]}
    # The same size with the pool head is fine.
    response = post(staff_client, preset="seed", model__frame_size=66, model__head="pool", model__pool_size=4)
    assert response.status_code == 302


def test_number_inputs_carry_the_dataclass_bounds(staff_client):
    html = staff_client.get(ADD).content.decode()

    def attrs(name):
        tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', html)[0]
        return dict(re.findall(r'(\w+)="([^"]*)"', tag))

    assert attrs("train__epochs").items() >= {"type": "number", "min": "1", "step": "1"}.items()
    assert attrs("train__lr").items() >= {"type": "number", "min": "0", "step": "any"}.items()
    assert attrs("model__dropout").items() >= {"min": "0", "max": "1", "step": "any"}.items()
    assert attrs("model__frame_size").items() >= {"min": "4", "max": "1024"}.items()
    assert attrs("train__random_seed").items() >= {"min": "0", "max": "4294967295"}.items()
    assert attrs("train__grad_clip")["min"] == "0" and "required" not in attrs("train__grad_clip")


# --- help, presets -------------------------------------------------------------------------------------


def test_every_option_has_help_text_from_one_place(staff_client):
    assert set(HELP_TEXT) == set(CONFIG_FIELDS)  # a new option in ml/config.py needs its help here
    html = staff_client.get(ADD).content.decode()
    for name, prefix in [(n, "model__") for n in (f.name for f in dataclasses.fields(LRCNConfig))] + \
                        [(n, "train__") for n in (f.name for f in dataclasses.fields(TrainConfig))]:
        row = field_row(html, prefix + name)
        assert f'id="id_{prefix}{name}_helptext"' in row, name
        assert f'aria-describedby="id_{prefix}{name}_helptext"' in row, name
    for name in ("label_source", "min_ratings", "auto_activate"):
        assert 'class="help"' in field_row(html, name), name


def test_presets_say_what_they_cost_and_ask_before_replacing_edits(staff_client):
    html = staff_client.get(f"{ADD}?trailers=4,5").content.decode()
    seed_link = re.search(r'<a class="preset-link" data-preset="seed" href="([^"]+)">', html)
    assert seed_link and seed_link[1] == "?preset=seed&amp;trailers=4%2C5"  # a plain link: works without JS
    assert "379,357,456 parameters" in html and "about 9 GB of memory on CPU" in html
    assert "js/start-run.js" in html and 'id="preset-warning"' not in html  # the script that asks, no inline one
    assert "window.confirm(" in Path(finders.find("js/start-run.js")).read_text()
    seed = staff_client.get(f"{ADD}?preset=seed").content.decode()
    assert 'id="preset-warning"' in seed and "Measured size: 379,357,456 parameters" in seed
    assert re.search(r'name="model__frame_size" value="224"', seed)
    # After a refused submit the form holds the user's edits: the page starts as "changed".
    refused = post(staff_client, train__epochs=0).content.decode()
    assert 'id="trainingrun_form" novalidate data-changed="true"' in refused


# --- the run in the admin: read-only, cancel works -----------------------------------------------------


def test_the_run_change_view_is_read_only(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING, resumed_from_epoch=2)
    html = staff_client.get(f"/admin/trailers/trainingrun/{run.pk}/change/").content.decode()
    content = html.split('id="content-main"')[1]
    assert set(re.findall(r'<(?:input|select|textarea)[^>]*name="([^"]+)"', content)) <= {"csrfmiddlewaretoken"}
    assert 'name="_save"' not in html and "/delete/" not in html
    assert "Resumed from epoch" in html and f'href="/runs/{run.pk}/"' in html
    assert 'id="cancel-run"' in html
    response = staff_client.post(f"/admin/trailers/trainingrun/{run.pk}/change/", {"resumed_from_epoch": 7})
    assert response.status_code == 403
    failed = make_run(status=TrainingRun.Status.FAILED)  # finished, no version: it may be deleted
    assert f"/admin/trailers/trainingrun/{failed.pk}/delete/" in staff_client.get(
        f"/admin/trailers/trainingrun/{failed.pk}/change/").content.decode()
    run.refresh_from_db()
    assert run.resumed_from_epoch == 2
    refused = staff_client.post(f"/admin/trailers/trainingrun/{run.pk}/delete/", follow=True)
    assert "is running: cancel it first, then delete it" in refused.content.decode()
    assert TrainingRun.objects.filter(pk=run.pk).exists()


def test_cancel_button_and_action(staff_client, make_run):
    running = make_run(status=TrainingRun.Status.RUNNING)
    response = staff_client.post(f"/admin/trailers/trainingrun/{running.pk}/cancel/", follow=True)
    assert f"Cancel requested for {running}" in response.content.decode()
    running.refresh_from_db()
    assert running.cancel_requested and running.status == TrainingRun.Status.RUNNING
    queued = make_run(status=TrainingRun.Status.QUEUED, metrics=[], started_at=None)
    finished = make_run()
    response = staff_client.post("/admin/trailers/trainingrun/", {
        "action": "cancel_runs", "_selected_action": [queued.pk, running.pk, finished.pk]}, follow=True)
    html = response.content.decode()
    assert "1 run(s) cancelled." in html
    assert "Cancel requested for 1 running run(s): each stops after its current step." in html
    assert "1 run(s) had already finished: nothing to cancel." in html
    queued.refresh_from_db()
    assert queued.status == TrainingRun.Status.CANCELLED
    response = staff_client.post("/admin/trailers/trainingrun/", {
        "action": "cancel_runs", "_selected_action": [finished.pk]}, follow=True)
    html = response.content.decode()
    assert '<li class="warning">1 run(s) had already finished: nothing to cancel.</li>' in html
    assert "cancelled." not in html and "Cancel requested" not in html


def test_staff_who_may_only_view_runs_cannot_cancel(client, django_user_model, make_run):
    viewer = django_user_model.objects.create_user(username="viewer", password="viewer-pass-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_trainingrun"))
    client.force_login(viewer)
    run = make_run(status=TrainingRun.Status.RUNNING)
    html = client.get(f"/admin/trailers/trainingrun/{run.pk}/change/").content.decode()
    assert f'href="/runs/{run.pk}/"' in html and 'id="cancel-run"' not in html
    assert client.post(f"/admin/trailers/trainingrun/{run.pk}/cancel/").status_code == 403
    run.refresh_from_db()
    assert not run.cancel_requested
    assert 'value="cancel_runs"' not in client.get("/admin/trailers/trainingrun/").content.decode()
