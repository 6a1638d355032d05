"""The "start a training run" form: every model and training option, built from ml's config dataclasses.

The fields follow LRCNConfig and TrainConfig, so a new option in ml/ appears here
by itself; validation is the dataclasses' own, and its message lands on the field it names.
"""

from __future__ import annotations

import dataclasses
import json
import typing

from django import forms

from ml.config import (
    ACTIVATION_NAMES,
    HEADS,
    LOSSES,
    OPTIMIZERS,
    PRESETS,
    READOUTS,
    TEMPORALS,
    TRAIN_PRESETS,
    LRCNConfig,
    TrainConfig,
)
from trailers import selectors
from trailers.models import TrainingRun

CHOICES = {
    "activation": ACTIVATION_NAMES, "head": HEADS, "readout": READOUTS, "temporal": TEMPORALS,
    "loss": LOSSES, "optimizer": OPTIMIZERS,
}  # fmt: skip
MODEL_PREFIX, TRAIN_PREFIX = "model__", "train__"
PRESET_NAMES = list(PRESETS)


def _field_for(field: dataclasses.Field, default, optional_hint: bool) -> forms.Field:
    kind = typing.get_type_hints(LRCNConfig if field.name in LRCNConfig.__dataclass_fields__ else TrainConfig).get(
        field.name)
    label = field.name.replace("_", " ")
    if field.name in CHOICES:
        return forms.ChoiceField(choices=[(c, c) for c in sorted(CHOICES[field.name])], initial=default, label=label)
    if field.name == "device":
        return forms.ChoiceField(choices=[(c, c) for c in ("auto", "cpu", "cuda")], initial=default, label=label)
    if kind is bool:
        return forms.BooleanField(required=False, initial=default, label=label)
    if field.name == "dense_sizes":
        return forms.CharField(initial=", ".join(map(str, default)), label=label,
                               help_text="comma-separated hidden sizes (dense head only)")
    optional = optional_hint
    if kind in (int, int | None):
        return forms.IntegerField(required=not optional, initial=default, label=label)
    return forms.FloatField(required=not optional, initial=default, label=label)


def _is_optional(cls, name: str) -> bool:
    return type(None) in typing.get_args(typing.get_type_hints(cls)[name])


class TrainingRunForm(forms.Form):
    """Staff's form to start a run. ``preset`` fills the model fields; every field can then be changed."""

    label_source = forms.ChoiceField(choices=TrainingRun.LabelSource.choices,
                                     initial=TrainingRun.LabelSource.USER_MEAN)
    min_ratings = forms.IntegerField(min_value=1, max_value=1_000_000, initial=1, help_text="with the user-mean label source")
    auto_activate = forms.BooleanField(required=False, help_text="activate the new version if it beats the active one")
    trailer_ids = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, preset: str = "default", **kwargs):
        super().__init__(*args, **kwargs)
        preset = preset if preset in PRESETS else "default"
        for cls, prefix, defaults in ((LRCNConfig, MODEL_PREFIX, PRESETS[preset]),
                                      (TrainConfig, TRAIN_PREFIX, TRAIN_PRESETS[preset])):
            for field in dataclasses.fields(cls):
                self.fields[prefix + field.name] = _field_for(field, getattr(defaults, field.name),
                                                              _is_optional(cls, field.name))

    def model_fields(self):
        return [self[name] for name in self.fields if name.startswith(MODEL_PREFIX)]

    def train_fields(self):
        return [self[name] for name in self.fields if name.startswith(TRAIN_PREFIX)]

    def clean_trailer_ids(self) -> list[int]:
        raw = self.cleaned_data.get("trailer_ids") or ""
        if not raw.strip():
            return []
        ids = [selectors.parse_id(x) for x in raw.split(",")]
        if None in ids:
            raise forms.ValidationError("Trailer ids must be a comma-separated list of numbers.")
        return ids

    def clean(self):
        data = super().clean()
        self.model_config = self._build(LRCNConfig, MODEL_PREFIX, data)
        self.train_config = self._build(TrainConfig, TRAIN_PREFIX, data)
        return data

    def _build(self, cls, prefix: str, data: dict):
        values = {}
        for field in dataclasses.fields(cls):
            key = prefix + field.name
            if key not in data:
                return None  # that field already has its error
            value = data[key]
            if field.name == "dense_sizes":
                try:
                    value = tuple(int(x) for x in str(value).replace(" ", "").split(",") if x)
                except ValueError:
                    self.add_error(key, "Give whole numbers separated by commas.")
                    return None
            values[field.name] = value
        try:
            return cls(**values)
        except ValueError as exc:
            message = str(exc)
            name = next((f.name for f in dataclasses.fields(cls) if message.startswith(f"{cls.__name__}.{f.name} ")), None)
            self.add_error(prefix + name if name else None, message)
            return None

    def summary(self) -> str:
        return json.dumps({"model": self.model_config.to_dict(), "train": self.train_config.to_dict()})
