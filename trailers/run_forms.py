"""The "start a training run" form: every model and training option, built from ml's config dataclasses.

The fields follow LRCNConfig and TrainConfig, so a new option in ml/ appears here by itself (and
tests/web/test_admin_run_form.py asks for its help text). Validation is the dataclasses' own: the
form reads each field's rule from the message its dataclass gives for a bad value, words it
plainly, puts it on the field, and takes the browser's min/max from it. Every field is checked in
one submit: a field that fails is set back to the preset's value and the config is built again,
so each bad field gets its own error.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import typing
from functools import cache

from django import forms
from django.utils.text import capfirst

from ml.config import (
    ACTIVATION_NAMES,
    ENCODERS,
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
from trailers.presets import DEFAULT_MIN_RATINGS

CHOICES = {
    "encoder": ENCODERS, "activation": ACTIVATION_NAMES, "head": HEADS, "readout": READOUTS, "temporal": TEMPORALS,
    "loss": LOSSES, "optimizer": OPTIMIZERS, "device": ("auto", "cpu", "cuda"),
}  # fmt: skip
MODEL_PREFIX, TRAIN_PREFIX = "model__", "train__"
PRESET_NAMES = list(PRESETS)

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

# Labels where the field's name is an abbreviation; every other label is the name in words.
LABELS = {"lr": "learning rate", "finetune_blocks": "fine-tune blocks", "lstm_size": "LSTM size", "lstm_layers": "LSTM layers",
          "channels1": "channels 1", "channels2": "channels 2"}

# Help for every option of LRCNConfig and TrainConfig, in plain words (ml/config.py keeps only code comments).
HELP_TEXT = {
    # LRCNConfig: the network.
    "encoder": "What turns each frame into numbers. efficientnet_lite0: an image network pretrained on ImageNet "
               "(its embeddings are made once, when a trailer is preprocessed). scratch: a small CNN learnt from "
               "this dataset alone (the seed's way); the CNN options below apply only to it.",
    "pixel_grid": "Pretrained encoder only: also read, on a grid of this many cells square, how things move "
                  "between the consecutive frames of each snippet and the frame's colour, which the encoder's "
                  "summary leaves out (0 turns it off).",
    "snippet_frames": "How many consecutive frames the subclips were sampled with at each point "
                      "(SAMPLING_SNIPPET_FRAMES); motion is read within these snippets.",
    "finetune_blocks": "Pretrained encoder only: let its last this many blocks (of 16) learn too. 0 keeps it "
                       "frozen, which trains in seconds on the cached embeddings; more needs a GPU worker.",
    "frame_size": "Frames are scaled to this many pixels square. Larger sees more detail and costs more time "
                  "and memory (the seed used 224).",
    "channels1": "Filters in the first convolution block: how many simple patterns (edges, colours) it looks for.",
    "channels2": "Filters in the second convolution block: combinations of the first block's patterns.",
    "embedding_size": "Length of the summary the network makes of each frame before the sequence model reads it.",
    "head": "How a frame's feature map becomes its summary. pool: average over a grid, then one small layer. "
            "dense: flatten into large fully connected layers (the seed's; hundreds of millions of weights).",
    "pool_size": "Pool head only: the feature map is averaged down to a grid this many cells square "
                 "(1 averages the whole frame). At most a quarter of the frame size.",
    "dense_sizes": "Dense head only: sizes of its hidden layers, separated by commas.",
    "activation": "The non-linearity after each layer (relu, leaky_relu or selu).",
    "dropout": "Share of feature channels switched off at random while training, to curb overfitting "
               "(0 turns it off; must be below 1).",
    "temporal": "How a subclip's frames are combined. lstm: read in order, so it can learn motion. "
                "mean: averaged, a single-frame baseline.",
    "deltas": "Give the LSTM each frame's summary together with its change since the previous frame, which "
              "helps it notice motion. Only with the lstm temporal model.",
    "lstm_size": "How many numbers the LSTM carries from one frame to the next.",
    "lstm_layers": "How many LSTM layers are stacked.",
    "readout": "Which LSTM output becomes the score. last: the last frame's (the seed's). "
               "mean: the average over all frames.",
    "masking": "Short subclips are padded with blank frames. On: the blanks are skipped instead of being read "
               "as real frames.",
    # TrainConfig: the training.
    "epochs": "How many full passes over the training trailers.",
    "batch_size": "Subclips per training step. Larger uses more memory.",
    "lr": "How big a step the optimizer takes. Too high and training diverges; too low and it learns slowly.",
    "optimizer": "The update rule: adam, rmsprop or sgd.",
    "weight_decay": "Pulls the weights towards zero to curb overfitting (0 turns it off).",
    "momentum": "sgd and rmsprop only: how much of the previous step carries into the next (below 1).",
    "loss": "What training minimises. mse: squared error. mae: absolute error. "
            "smooth_mae: squared for small errors, absolute for large ones.",
    "grad_clip": "Largest gradient size allowed in one step. Leave empty for no limit.",
    "early_stopping_patience": "Stop after this many epochs without a better validation loss. "
                               "Leave empty to run every epoch.",
    "restore_best": "Keep the weights of the epoch with the best validation loss, not the last epoch's.",
    "val_fraction": "Share of the trailers held out to measure the model (below 1).",
    "seed": "Random seed for the split and the starting weights: the same seed, data and options repeat a run.",
    "device": "Where the worker trains: auto uses its GPU if it has one, otherwise its CPU.",
    "num_workers": "Extra processes that load frames while the model trains (0: load them in the training "
                   "process).",
    "frames_per_sample": "Frames the model reads from each subclip; shorter subclips are padded with blank frames.",
    "mixed_precision": "On a GPU, compute in 16-bit numbers where it is safe: faster and smaller. "
                       "No effect on a CPU.",
    "folds": "Cross-validation: the trailers are cut into this many folds, and each fold is scored by a model "
             "that never saw it. The run's figures are those held-out scores, and the fold models together are "
             "the version (their spread is its uncertainty). 1: one model and a validation split, no estimate.",
    "duplicate_threshold": "Two trailers are taken to share footage, and kept in one fold so that a copy never "
                           "grades its original, when most frames of one have a frame this similar (cosine, up "
                           "to 1) in the other. 0.9 catches re-encodes and teasers of the same footage.",
    "single_frame_baseline": "Also fit the single-frame head (mean over frames) on the same folds, to show what "
                             "the sequence model adds.",
}


def label_for(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


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


# --- The dataclasses' rules, read from their own messages ---------------------------------------------------

_MESSAGE = re.compile(r"^(?P<cls>\w+)\.(?P<name>\w+) must be (?P<expected>.*), got .*$", re.S)
_BOUND = re.compile(r"(>=|<=|>|<) (-?\d+(?:\.\d+)?(?:e-?\d+)?)")
_BOUND_WORDS = {">=": "of at least", ">": "greater than", "<=": "at most", "<": "less than"}


class _NotAValue:
    """A value no field accepts: building a config with it makes the field state its rule."""

    def __repr__(self) -> str:
        return "?"


def parse_config_error(error: ValueError) -> tuple[str | None, str]:
    """(field name, plain message) for a config dataclass's ValueError; (None, the message) if it names no field."""
    match = _MESSAGE.match(str(error))
    if not match:
        return None, str(error)
    name = match["name"]
    return name, f"{capfirst(label_for(name))} must be {plain_rule(match['expected'])}."


@cache
def field_rule(cls: type, name: str) -> str:
    """What ``cls`` requires of field ``name``, in its own words, e.g. "an integer >= 1 or null"."""
    try:
        cls(**{name: _NotAValue()})
    except ValueError as error:
        match = _MESSAGE.match(str(error))
        if match and match["name"] == name:
            return match["expected"]
    return ""


def field_bounds(cls: type, name: str) -> tuple[float | None, float | None]:
    """(lowest, highest) a number field may be, from its rule; an open bound is given as the bound itself."""
    low = high = None
    for op, number in _BOUND.findall(field_rule(cls, name)):
        if op.startswith(">"):
            low = float(number)
        else:
            high = float(number)
    return low, high


def _number(text: str) -> str:
    return f"{float(text):g}"


def plain_rule(expected: str) -> str:
    """A dataclass's rule in plain words: "an integer >= 1" → "a whole number of at least 1"."""
    text = expected
    optional = text.endswith(" or null")
    text = text.removesuffix(" or null")
    text = text.replace("an integer", "a whole number").replace("a finite number", "a number")
    text = text.replace("a list of positive integers", "whole numbers of at least 1, separated by commas")
    text = _BOUND.sub(lambda m: f"{_BOUND_WORDS[m[1]]} {_number(m[2])}", text)
    text = re.sub(r"(\w+) // (\d+) = (\d+)", lambda m: f"{m[3]} ({label_for(m[1])} divided by {m[2]})", text)
    text = re.sub(r"\[([^\]]*)\]", lambda m: _listed(m[1]), text)
    text = re.sub(r"^true or false$", "on or off", text)
    text = re.sub(r"^false\b", "off", text)
    text = re.sub(r"^true\b", "on", text)
    text = re.sub(r"'([\w:]+)'", r"\1", text)
    return text + (", or left empty" if optional else "")


def _listed(items: str) -> str:
    try:
        names = [str(x) for x in ast.literal_eval(f"[{items}]")]
    except (ValueError, SyntaxError):
        return items
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _stand_ins(cls, name: str, default):
    """Values to put in place of a refused one: the preset's, then others of the field's kind."""
    yield default
    if isinstance(default, bool):
        yield not default
    yield from CHOICES.get(name, ())
    low, _ = field_bounds(cls, name)
    if low is not None and isinstance(default, int) and not isinstance(default, bool):
        yield int(low)


# --- The form -----------------------------------------------------------------------------------------------


def _is_optional(cls, name: str) -> bool:
    return type(None) in typing.get_args(typing.get_type_hints(cls)[name])


def _field_for(cls, field: dataclasses.Field, default) -> forms.Field:
    name = field.name
    kind = typing.get_type_hints(cls).get(name)
    common = {"label": capfirst(label_for(name)), "help_text": HELP_TEXT.get(name, ""), "initial": default}
    rule = f"{common['label']} must be {plain_rule(field_rule(cls, name))}."
    if name in CHOICES:
        return forms.ChoiceField(choices=[(c, c) for c in sorted(CHOICES[name])], **common)
    if kind is bool:
        return forms.BooleanField(required=False, **common)
    if name == "dense_sizes":
        common["initial"] = ", ".join(map(str, default))
        return forms.CharField(error_messages={"required": rule}, **common)
    integer = kind in (int, int | None)
    field_class = forms.IntegerField if integer else forms.FloatField
    number = field_class(required=not _is_optional(cls, name), error_messages={"invalid": rule, "required": rule},
                         **common)
    low, high = field_bounds(cls, name)
    attrs = {"step": "1" if integer else "any"}
    if low is not None:
        attrs["min"] = _number(str(low))
    if high is not None:
        attrs["max"] = _number(str(high))
    number.widget.attrs.update(attrs)  # the browser's hint only: the dataclass decides
    return number


class TrainingRunForm(forms.Form):
    """Staff's form to start a run. ``preset`` fills the model fields; every field can then be changed."""

    label_source = forms.ChoiceField(choices=TrainingRun.LabelSource.choices,
                                     initial=TrainingRun.LabelSource.USER_MEAN,
                                     help_text="Where each trailer's target score comes from: the mean of users' "
                                               "ratings, or the reference score imported with the trailers.")
    min_ratings = forms.IntegerField(min_value=1, max_value=1_000_000, initial=DEFAULT_MIN_RATINGS,
                                     help_text="Mean of user ratings only: trailers with fewer ratings are left out.",
                                     error_messages={"invalid": "Min ratings must be a whole number of at least 1."})
    auto_activate = forms.BooleanField(required=False,
                                       help_text="Activate the new model version if it beats the active one on "
                                                 "validation.")
    trailer_ids = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, preset: str = "default", **kwargs):
        super().__init__(*args, **kwargs)
        self.preset = preset if preset in PRESETS else "default"
        self.defaults = {LRCNConfig: PRESETS[self.preset], TrainConfig: TRAIN_PRESETS[self.preset]}
        self.model_config: LRCNConfig | None = None
        self.train_config: TrainConfig | None = None
        for cls, prefix in ((LRCNConfig, MODEL_PREFIX), (TrainConfig, TRAIN_PREFIX)):
            for field in dataclasses.fields(cls):
                self.fields[prefix + field.name] = _field_for(cls, field, getattr(self.defaults[cls], field.name))

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

    def clean(self):
        data = super().clean()
        self.model_config = self._build(LRCNConfig, MODEL_PREFIX, data)
        self.train_config = self._build(TrainConfig, TRAIN_PREFIX, data)
        return data

    def _build(self, cls, prefix: str, data: dict):
        """The config from the form's values, or None with an error on every field the dataclass refuses."""
        defaults = self.defaults[cls]
        values, failed = {}, set()
        for field in dataclasses.fields(cls):
            key = prefix + field.name
            if key not in data:  # the form field has its error already; check the rest with the preset's value
                failed.add(field.name)
                values[field.name] = getattr(defaults, field.name)
                continue
            value = data[key]
            if field.name == "dense_sizes":
                try:
                    value = tuple(int(x) for x in str(value).replace(" ", "").split(",") if x)
                except ValueError:
                    self.add_error(key, f"{capfirst(label_for(field.name))} must be "
                                        f"{plain_rule(field_rule(cls, field.name))}.")
                    failed.add(field.name)
                    value = getattr(defaults, field.name)
            values[field.name] = value
        stand_ins = {name: _stand_ins(cls, name, getattr(defaults, name)) for name in values}
        for name in failed:
            next(stand_ins[name])  # its preset value is in place already
        for _ in range(10 * len(values)):
            try:
                config = cls(**values)
            except ValueError as error:
                name, message = parse_config_error(error)
                if name not in values:
                    self.add_error(None, message)
                    return None
                if name not in failed:
                    self.add_error(prefix + name, message)
                    failed.add(name)
                # Go on with a value this field accepts, to check the others (a rule between two
                # fields may refuse the preset's value too: then try the field's other values).
                values[name] = next(stand_ins[name], _NotAValue)
                if values[name] is _NotAValue:
                    return None
            else:
                return None if failed else config
        return None

    def summary(self) -> str:
        return json.dumps({"model": self.model_config.to_dict(), "train": self.train_config.to_dict()})


def initial_from_run(run: TrainingRun) -> dict:
    """The start-run form's values for "New run like this": every stored option of ``run`` (options it predates
    keep the preset's value), its labels and the trailers it asked for."""
    initial = {"label_source": run.label_source, "min_ratings": run.min_ratings, "auto_activate": run.auto_activate,
               "trailer_ids": ",".join(map(str, run.requested_trailer_ids or []))}
    for prefix, cls, stored in ((MODEL_PREFIX, LRCNConfig, run.model_config), (TRAIN_PREFIX, TrainConfig,
                                                                               run.train_config)):
        names = {f.name for f in dataclasses.fields(cls)}
        for name, value in (stored or {}).items():
            if name in names:
                initial[prefix + name] = ", ".join(map(str, value)) if name == "dense_sizes" else value
    return initial
