"""A run option is declared once, in ml/config.py: change one bound there and the validation, the admin's
start-a-run form, the API (its input and its OpenAPI schema) and the command line all follow."""

from __future__ import annotations

import dataclasses
import re
from types import MappingProxyType

import pytest
import yaml

from ml.cli import UsageError, _train_configs, build_parser
from ml.config import TrainConfig
from tests.support.run_options import TINY_RUN, run_form_data
from trailers.models import TrainingRun

pytestmark = pytest.mark.django_db

ADD = "/admin/trailers/trainingrun/add/"


@pytest.fixture
def epochs_at_most_7(monkeypatch):
    """The one place: TrainConfig.epochs' declaration, its upper bound lowered to 7."""
    field = TrainConfig.__dataclass_fields__["epochs"]
    declared = field.metadata["option"]
    assert declared.high == 10_000  # the test's premise: today's bound, far above 8
    monkeypatch.setattr(field, "metadata", MappingProxyType({"option": dataclasses.replace(declared, high=7)}))


def test_a_bound_changed_in_ml_config_reaches_the_form_the_api_its_schema_and_the_cli(
        epochs_at_most_7, staff_client, staff_api, client):
    # The validation.
    assert TrainConfig(epochs=7).epochs == 7
    with pytest.raises(ValueError, match=r"^TrainConfig\.epochs must be at most 7, got 8$"):
        TrainConfig(epochs=8)

    # The admin's form: the browser's bound, and the refusal on the field.
    html = staff_client.get(ADD).content.decode()
    tag = re.search(r'<input [^>]*name="train__epochs"[^>]*>', html)[0]
    assert 'max="7"' in tag and 'min="1"' in tag
    response = staff_client.post(ADD, run_form_data(**{**TINY_RUN, "train__epochs": 8}))
    assert response.context["form"].errors == {"train__epochs": ["Epochs must be at most 7."]}

    # The API's schema and its input.
    schema = yaml.safe_load(client.get("/api/schema/").content)
    epochs = schema["components"]["schemas"]["TrainOptions"]["properties"]["epochs"]
    assert (epochs["minimum"], epochs["maximum"]) == (1, 7)
    refused = staff_api.post("/api/runs/", {"train": {"epochs": 8}}, format="json")
    assert refused.status_code == 400 and refused.json() == {"train": {"epochs": ["Epochs must be a whole number "
                                                                                  "from 1 to 7."]}}
    assert not TrainingRun.objects.exists()

    # The command line: its help says the range, and the value is refused in one line.
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    assert "a whole number from 1 to 7" in " ".join(train.format_help().split())
    args = build_parser().parse_args(["train", "data", "--markup", "m.csv", "--out", "m.pt", "--epochs", "8"])
    with pytest.raises(UsageError, match=r"^--epochs must be a whole number from 1 to 7, got 8$"):
        _train_configs(args)


def test_without_the_change_the_same_values_are_taken(staff_client, staff_api):
    """The counterpart: 8 epochs pass everywhere under today's bound (10,000)."""
    assert TrainConfig(epochs=8).epochs == 8
    html = staff_client.get(ADD).content.decode()
    assert 'max="10000"' in re.search(r'<input [^>]*name="train__epochs"[^>]*>', html)[0]
    args = build_parser().parse_args(["train", "data", "--markup", "m.csv", "--out", "m.pt", "--epochs", "8"])
    assert _train_configs(args)[0].epochs == 8
    assert staff_api.post("/api/runs/", {"train": {"epochs": 8}}, format="json").status_code == 201
