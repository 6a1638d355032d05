"""The "start a training run" form: every model and training option, built from ml's config dataclasses.

The fields, their labels, help, bounds and choices are the declarations in ml/config.py (``Option`` in each
dataclass field's metadata), so a new option in ml/ appears here by itself. Validation is the dataclasses'
own: ``build`` checks every field and every rule between fields in one go, and each refusal lands on its
field, in plain words. The browser's min/max come from the same bounds.
"""

from __future__ import annotations

from django import forms
from django.utils.text import capfirst

from ml.config import PRESETS, TRAIN_PRESETS, LRCNConfig, Option, TrainConfig, options
from trailers import selectors
from trailers.models import TrainingRun
from trailers.presets import DEFAULT_MIN_RATINGS, MAX_MIN_RATINGS

MODEL_PREFIX, TRAIN_PREFIX = "model__", "train__"
CONFIGS = ((MODEL_PREFIX, LRCNConfig), (TRAIN_PREFIX, TrainConfig))
STARTABLE_PRESETS = list(PRESETS)  # what the start form offers (presets.PRESET_NAMES adds "custom", for the lists)
MIN_RATINGS_WORDS = f"Min ratings must be a whole number from 1 to {MAX_MIN_RATINGS}."

# What each preset is for, shown beside its link.
PRESET_DESCRIPTIONS = {
    "default": "a pretrained image encoder, kept frozen, with an LSTM over its frame embeddings: learns from a few "
               "hundred trailers, trains in seconds on cached embeddings",
    "single_frame": "the default without the LSTM: a baseline that cannot see motion",
    "scratch": "a small CNN learnt from nothing (the previous default); needs far more trailers than it gets",
    "seed": "the seed project's network, layer for layer",
}
# ml/config.py has no torch-free parameter count, so the seed's size is stated as measured.
PRESET_WARNINGS = {
    "seed": "Measured size: 379,357,456 parameters; training it takes about 9 GB of memory on CPU.",
}


def label_for(name: str) -> str:
    """A run option's label as ml/config.py declares it ("lr" → "learning rate"); an option a stored run has
    and the configs no longer do: its name in words."""
    for _, cls in CONFIGS:
        declared = options(cls).get(name)
        if declared is not None:
            return declared.label
    return name.replace("_", " ")


def shown_value(value) -> str:
    """An option's value as the start-run form shows it: on/off, a list with commas, an em dash for none."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_rows(config: dict) -> list[tuple[str, str, str]]:
    """(label, code name, value) of every option in a stored config, labelled as the start-run form labels it."""
    return [(capfirst(label_for(name)), name, shown_value(value)) for name, value in config.items()]


def _field_for(declared: Option, default) -> forms.Field:
    """The form field of one declared option; the browser's bounds are a hint, the dataclass decides."""
    common = {"label": capfirst(declared.label), "help_text": declared.help, "initial": default}
    refusal = {"invalid": declared.sentence(), "required": declared.sentence()}
    choices = declared.choices or declared.menu
    if choices:
        return forms.ChoiceField(choices=[(c, c) for c in sorted(choices)], **common)
    if declared.kind is bool:
        return forms.BooleanField(required=False, **common)
    if declared.kind is tuple:
        return forms.CharField(error_messages=refusal, **{**common, "initial": ", ".join(map(str, default))})
    if declared.kind is str:
        return forms.CharField(error_messages=refusal, **common)
    integer = declared.kind is int
    number = (forms.IntegerField if integer else forms.FloatField)(
        required=not declared.optional, error_messages=refusal, **common)
    attrs = {"step": "1" if integer else "any"}
    if declared.low is not None:
        attrs["min"] = str(declared.low) if integer else f"{declared.low:g}"
    if declared.high is not None:  # a whole number's in full: "%g" would round 4294967295 to 4.29497e+09
        attrs["max"] = str(declared.high) if integer else f"{declared.high:g}"
    number.widget.attrs.update(attrs)
    return number


def _whole_numbers(text: str) -> tuple[int, ...] | None:
    """"6000, 500" → (6000, 500); None when it is not whole numbers separated by commas."""
    try:
        return tuple(int(x) for x in str(text).replace(" ", "").split(",") if x)
    except ValueError:
        return None


class TrainingRunForm(forms.Form):
    """Staff's form to start a run. ``preset`` fills the model fields; every field can then be changed."""

    label_source = forms.ChoiceField(choices=TrainingRun.LabelSource.choices,
                                     initial=TrainingRun.LabelSource.USER_MEAN,
                                     help_text="Where each trailer's target score comes from: the mean of users' "
                                               "ratings, or the reference score imported with the trailers.")
    min_ratings = forms.IntegerField(
        min_value=1, max_value=MAX_MIN_RATINGS, initial=DEFAULT_MIN_RATINGS, required=False,
        help_text="Mean of user ratings only: trailers with fewer ratings are left out.",
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), MIN_RATINGS_WORDS))
    auto_activate = forms.BooleanField(required=False,
                                       help_text="Activate the new model version if its MAE beats the active "
                                                 "one's on the same trailers: those of this run that both versions "
                                                 "scored without having trained on them.")
    trailer_ids = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, preset: str = "default", **kwargs):
        super().__init__(*args, **kwargs)
        self.preset = preset if preset in PRESETS else "default"
        self.defaults = {LRCNConfig: PRESETS[self.preset], TrainConfig: TRAIN_PRESETS[self.preset]}
        self.model_config: LRCNConfig | None = None
        self.train_config: TrainConfig | None = None
        for prefix, cls in CONFIGS:
            for name, declared in options(cls).items():
                self.fields[prefix + name] = _field_for(declared, getattr(self.defaults[cls], name))

    def model_fields(self):
        return [self[name] for name in self.fields if name.startswith(MODEL_PREFIX)]

    def train_fields(self):
        return [self[name] for name in self.fields if name.startswith(TRAIN_PREFIX)]

    def label_fields(self):
        return [self[name] for name in ("label_source", "min_ratings", "auto_activate")]

    def clean_trailer_ids(self) -> list[int]:
        raw = self.cleaned_data.get("trailer_ids") or ""
        if not raw.strip():
            return []
        ids = [selectors.parse_id(x) for x in raw.split(",")]
        if None in ids:
            raise forms.ValidationError("Trailer ids must be a comma-separated list of numbers.")
        return ids

    def clean_min_ratings(self) -> int:
        value = self.cleaned_data.get("min_ratings")
        if value is not None:
            return value
        if self.data.get("label_source") == TrainingRun.LabelSource.REFERENCE:
            return DEFAULT_MIN_RATINGS  # it counts no ratings: left empty is fine
        raise forms.ValidationError(MIN_RATINGS_WORDS)

    def clean(self):
        data = super().clean()
        self.model_config = self._build(LRCNConfig, MODEL_PREFIX, data)
        self.train_config = self._build(TrainConfig, TRAIN_PREFIX, data)
        return data

    def _build(self, cls, prefix: str, data: dict):
        """The config from the form's values, or None with an error on every field the dataclass refuses."""
        declared = options(cls)
        values = {}
        for name, option in declared.items():
            if prefix + name not in data:
                continue  # the form field has its error already; the config checks the rest
            value = data[prefix + name]
            if option.kind is tuple:
                value = _whole_numbers(value)
                if value is None:
                    self.add_error(prefix + name, option.sentence())
                    continue
            values[name] = value
        config, refusals = cls.build(values)
        for refusal in refusals:
            self.add_error(prefix + refusal.field, refusal.sentence)
        return config if len(values) == len(declared) else None

def initial_from_run(run: TrainingRun) -> dict:
    """The start-run form's values for "New run like this": every option ``run`` trained with, its labels and the
    trailers it asked for. An option the run predates gets the value that reproduces it (the one its stored config
    loads with, as the worker trained it), not the preset's; options no longer known are dropped."""
    initial = {"label_source": run.label_source, "min_ratings": run.min_ratings, "auto_activate": run.auto_activate,
               "trailer_ids": ",".join(map(str, run.requested_trailer_ids or []))}
    for (prefix, cls), stored in zip(CONFIGS, (run.model_config, run.train_config), strict=True):
        declared = options(cls)
        known = {cls.RENAMED.get(name, name): value for name, value in (stored or {}).items()}
        known = {name: value for name, value in known.items() if name in declared}
        if known:
            try:
                known = cls.from_dict(known).to_dict()
            except (TypeError, ValueError):  # a stored set the options' rules now refuse: the form says why
                pass
        for name, value in known.items():
            initial[prefix + name] = ", ".join(map(str, value)) if declared[name].kind is tuple else value
    return initial
