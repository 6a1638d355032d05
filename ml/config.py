"""The config objects of ml: what a model is (LRCNConfig), how a run trains it (TrainConfig) and how a
trailer becomes frames (SamplingConfig), with presets.

Every field is declared once, here: its type, bounds or choices, label and help are an :class:`Option` in
the dataclass field's metadata. The validation is made from those declarations (and the few rules
between fields, each stated once below), and so are the admin's start-a-run form
(``trailers/run_forms.py``), the API's run options and their OpenAPI schema
(``trailers/api/serializers.py``) and the command line's options (``ml/cli.py``): change a bound here
and all of them follow.

Frozen, validated dataclasses that round-trip through JSON (runs store them), and that import no torch
(nor PyAV): the web side builds its forms and checks its input with them without loading a
deep-learning library into every web process.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple

from ml.neighbours import MIX_MIN_TRAILERS

ACTIVATION_NAMES = ("relu", "leaky_relu", "selu")
HEADS = ("dense", "pool")
TEMPORALS = ("lstm", "mean")
TRACKS = ("pixels", "object")  # how ml.pixels.foreground_centres follows the foreground
READOUTS = ("last", "mean")
# "scratch": the two-conv-block CNN learnt from nothing (the seed's); the others are pretrained and ship in a wheel.
ENCODERS = ("scratch", "efficientnet_lite0")
ENCODER_BLOCKS = {"efficientnet_lite0": 16}  # MBConv blocks that finetune_blocks may unfreeze
OPTIMIZERS = ("adam", "rmsprop", "sgd")
LOSSES = ("mse", "mae", "smooth_mae")
DEVICE_NAMES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def is_device_name(device: Any) -> bool:
    """Whether ``device`` names a device ml trains and scores on (see :data:`DEVICE_NAMES`)."""
    return isinstance(device, str) and (
        device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
    )


# ---------------------------------------------------------------------------
# One field's declaration, and what is made from it.


class ConfigError(ValueError):
    """A value a config refuses. The message names the class and field, says what the field must be, and
    shows the bad value; ``field``, ``expected`` (the code's words) and ``plain`` (a form's words) say the
    same to programs, and :attr:`sentence` to people."""

    def __init__(self, owner: str, field: str, expected: str, value: Any, *, plain: str = "", label: str = "",
                 message: str = ""):
        self.owner, self.field, self.expected, self.value = owner, field, expected, value
        self.plain = plain or expected
        self.label = label or field.replace("_", " ")
        where = f"{owner}.{field}" if owner else field
        super().__init__(message or f"{where} must be {expected}, got {value!r}")

    @property
    def sentence(self) -> str:
        """The refusal as a form shows it, e.g. "Epochs must be a whole number of at least 1."."""
        return f"{_capital(self.label)} must be {self.plain}."


class _Refused(Exception):
    def __init__(self, expected: str, plain: str = ""):
        super().__init__(expected)
        self.expected, self.plain = expected, plain or expected


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _g(number: float) -> str:
    """A bound as people write it: 0.001, 1e-08, and every digit of a whole number (4294967295, not 4.29497e+09)."""
    return str(number) if isinstance(number, int) else f"{number:g}"


def _listed(names: Iterable[str]) -> str:
    names = [str(n) for n in names]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


@dataclass(frozen=True)
class Option:
    """What one config field is: its ``kind`` (int, float, str, bool, or tuple for a list of whole numbers),
    its bounds (``low``/``high``, each open or not) or ``choices``, whether it may be None (``optional``),
    its ``label`` and ``help`` for people, and the command line's other names for it (``flags``).

    A str field that is not one of a few ``choices`` is checked by ``valid``, whose rule is ``expected`` (in
    the code's words) and ``plain`` (a form's); ``menu`` is what a form offers for it.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    label: str = ""
    help: str = ""
    flags: tuple[str, ...] = ()
    menu: tuple[str, ...] = ()
    valid: Callable[[Any], bool] | None = None
    expected: str = ""
    plain: str = ""
    longest: int | None = None  # a list's most items (a list of whole numbers: kind tuple)

    def check(self, value: Any) -> Any:
        """``value`` as the config holds it (a float field's int as a float, a list as a tuple), or
        :class:`_Refused` saying what it must be."""
        if value is None and self.optional:
            return None
        if self.kind is tuple and isinstance(value, list):
            value = tuple(value)
        if not self._fits(value):
            raise _Refused(self.rule(), self.plain_rule())
        if self.kind is int and self.high is not None and value > self.high and not _SAVED.get():
            raise _Refused(f"at most {self.high}")
        return float(value) if self.kind is float else value

    def _fits(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if self.kind is bool:
            return isinstance(value, bool)
        if self.kind is int:
            return _is_int(value) and (self.low is None or value >= self.low)
        if self.kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if ok and self.low is not None:
                ok = value > self.low if self.low_open else value >= self.low
            if ok and self.high is not None:
                ok = value < self.high if self.high_open else value <= self.high
            return ok
        if self.kind is tuple:
            return isinstance(value, tuple) and (self.longest is None or _SAVED.get() or len(value) <= self.longest) \
                and all(_is_int(n) and n >= (self.low or 1) and (self.high is None or _SAVED.get() or n <= self.high)
                        for n in value)
        return isinstance(value, str) and (self.valid is None or self.valid(value))

    def rule(self) -> str:
        """What a value must be, in the code's words: "an integer >= 1 or null", "a finite number > 0.0"."""
        return self._words(plain=False)

    def plain_rule(self) -> str:
        """The same in a form's words: "a whole number of at least 1", "a number greater than 0"."""
        return self._words(plain=True)

    def _words(self, *, plain: bool) -> str:
        code = not plain
        if self.choices:
            return f"one of {_listed(sorted(self.choices)) if plain else sorted(self.choices)}"
        if self.kind is bool:
            return "on or off" if plain else "true or false"
        if self.kind is tuple:
            most = "" if self.longest is None else (f", at most {self.longest} of them" if plain
                                                     else f", at most {self.longest} items")
            if self.high is not None:
                return (f"whole numbers from {self.low or 1} to {self.high}, separated by commas{most}" if plain
                        else f"a list of integers >= {self.low or 1} and <= {self.high}{most}")
            return ("whole numbers of at least 1, separated by commas" if plain else "a list of positive integers") \
                + most
        if self.kind not in (int, float):
            return (self.plain if plain else "") or self.expected or "text"
        bounds = []
        if self.low is not None:
            bounds.append((">" if self.low_open else ">=", self.low))
        if self.high is not None and self.kind is float:  # an integer's upper bound is a refusal of its own
            bounds.append(("<" if self.high_open else "<=", self.high))
        if self.kind is int:
            noun = "an integer" if code else "a whole number"
        else:
            noun = "a finite number" if code else "a number"
        shown = [f"{op} {float(n) if self.kind is float else n}" if code else f"{_BOUND_WORDS[op]} {_g(n)}"
                 for op, n in bounds]
        nothing = (" or null" if code else ", or left empty") if self.optional else ""
        return noun + (f" {' and '.join(shown)}" if shown else "") + nothing

    def describe(self) -> str:
        """Every value it takes, in a form's words: the plain rule, with an integer's upper bound too
        ("a whole number from 1 to 20")."""
        if self.kind is int and self.high is not None and not self.choices:
            return f"a whole number from {_g(self.low or 0)} to {_g(self.high)}" + (
                ", or left empty" if self.optional else "")
        return self.plain_rule()

    def sentence(self) -> str:
        """What a form says of a value it cannot take: "Epochs must be a whole number of at least 1."."""
        return f"{_capital(self.label)} must be {self.describe()}."


# While a config saved before is rebuilt (``ConfigMixin.saved``): whole numbers are not held to their upper bounds.
_SAVED: ContextVar[bool] = ContextVar("saved_config", default=False)


@contextmanager
def _saved(on: bool) -> Iterator[None]:
    token = _SAVED.set(on or _SAVED.get())
    try:
        yield
    finally:
        _SAVED.reset(token)


_BOUND_WORDS = {">=": "of at least", ">": "greater than", "<=": "at most", "<": "less than"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def option(default: Any, kind: type, **declaration) -> Any:
    """A dataclass field with its :class:`Option` (the label defaults to the name in words)."""
    return dataclasses.field(default=default, metadata={"option": Option(kind, **declaration)})


def options(cls) -> dict[str, Option]:
    """Each field of a config class and its declaration, in field order (labels filled in)."""
    return {f.name: _labelled(f.name, f.metadata["option"]) for f in dataclasses.fields(cls)}


def _labelled(name: str, declared: Option) -> Option:
    return declared if declared.label else dataclasses.replace(declared, label=name.replace("_", " "))


def check_value(name: str, value: Any, declared: Option) -> Any:
    """``value`` checked against a declaration outside a config (a function's argument); ValueError if refused."""
    try:
        return declared.check(value)
    except _Refused as refusal:
        raise ConfigError("", name, refusal.expected, value, plain=refusal.plain) from None


class Rule(NamedTuple):
    """A refusal by a rule between fields: on ``field``, what it must be (``plain``: in a form's words;
    ``message``: the whole message, where the usual one does not fit)."""

    field: str
    expected: str
    plain: str = ""
    message: str = ""


class _Unchecked(Exception):
    """A rule read a field that is itself refused (or missing): the rule has nothing to say."""


class _Checked:
    def __init__(self, values: dict[str, Any]):
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise _Unchecked(name) from None


# ---------------------------------------------------------------------------
# Config objects: frozen, validated from their declarations, JSON round trip.


class ConfigMixin:
    """Validation from the fields' declarations and the class's ``RULES``; ``to_dict``/``from_dict``."""

    RULES: tuple[Callable[[Any], Rule | list[Rule] | None], ...] = ()
    # Fields renamed since configs were first saved: {old name: new name}. ``from_dict`` reads the old name,
    # so runs, checkpoints and model files saved before a rename still load.
    RENAMED: Mapping[str, str] = {}

    def __post_init__(self) -> None:
        checked, errors = self.check({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if errors:
            raise errors[0]
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def prepare(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The values before they are checked (a class may settle a default that depends on another field)."""
        return values

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[ConfigError]]:
        """Every refusal at once: each given field against its declaration, then each rule between fields
        whose fields all passed. Returns the checked values and the refusals (empty when all is well)."""
        values = cls.prepare(dict(values))
        declared = options(cls)
        checked: dict[str, Any] = {}
        errors: list[ConfigError] = []
        for name, declaration in declared.items():
            if name not in values:
                continue  # its reader could not read it, and has said so
            try:
                checked[name] = declaration.check(values[name])
            except _Refused as refusal:
                errors.append(ConfigError(cls.__name__, name, refusal.expected, values[name], plain=refusal.plain,
                                          label=declaration.label))
        view = _Checked(checked)
        for rule in cls.RULES:
            try:
                found = rule(view)
            except _Unchecked:
                continue
            for one in [found] if isinstance(found, Rule) else found or []:  # a rule may refuse several fields
                if all(e.field != one.field for e in errors):
                    errors.append(ConfigError(cls.__name__, one.field, one.expected, values.get(one.field),
                                              plain=one.plain, label=declared[one.field].label, message=one.message))
        return checked, errors

    @classmethod
    def build(cls, values: Mapping[str, Any]):
        """(the config, []) from ``values`` (every field given), or (None, every refusal). A field missing from
        ``values`` (its reader could not read it, and has said so) makes no config either: the dataclass's default
        in its place would be checked against the rest, and refused, with no one to say why."""
        checked, errors = cls.check(values)
        if errors or set(checked) != set(options(cls)):
            return None, errors
        return cls(**checked), []

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def differing(self, other, names: Iterable[str] | None = None) -> list[str]:
        """The fields (of ``names``, else all, in field order) whose values here and in ``other`` differ: what a
        refusal or a note names when two configs were meant to be the same."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [name for name in (mine if names is None else names) if mine[name] != theirs[name]]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Rebuild from ``to_dict`` output; missing fields take defaults, unknown fields are refused. JSON has
        one number type: a whole float is taken for an integer field (45.0 for 45)."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} must be built from a dict, got {type(data).__name__}")
        declared = options(cls)
        data = {cls.RENAMED.get(name, name): value for name, value in data.items()}
        unknown = sorted(set(data) - set(declared))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}; known fields are {sorted(declared)}")
        values = {name: int(value) if declared[name].kind is int and isinstance(value, float) and value.is_integer()
                  else value for name, value in data.items()}
        return cls(**values)

    @classmethod
    def saved(cls, data: dict[str, Any]):
        """``from_dict`` for a config saved before: a run's, a checkpoint's, a model file's, a DATA_DIR's. Its whole
        numbers are not held to their upper bounds: those limit new input (what no worker could run), and came after
        some configs were saved, which must still load, train and score as they did. Every other rule holds; the
        config's ``replace`` keeps the same leave."""
        with _saved(True):
            config = cls.from_dict(data)
        object.__setattr__(config, "_saved", True)
        return config

    def replace(self, **changes):
        """A copy with ``changes`` applied (and validated)."""
        saved = getattr(self, "_saved", False)
        with _saved(saved):
            copy = dataclasses.replace(self, **changes)  # type: ignore[type-var]
        if saved:
            object.__setattr__(copy, "_saved", True)
        return copy


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# ---------------------------------------------------------------------------
# The network.


def _scratch_trains_whole(v) -> Rule | None:
    if v.encoder == "scratch" and v.finetune_blocks:
        return Rule("finetune_blocks", "0 with the scratch encoder (it always trains)")
    return None


def _encoder_has_blocks(v) -> Rule | None:
    if v.encoder != "scratch" and v.finetune_blocks > ENCODER_BLOCKS[v.encoder]:
        blocks = ENCODER_BLOCKS[v.encoder]
        return Rule("finetune_blocks", f"at most {blocks} ({v.encoder} has that many blocks)")
    return None


def _scratch_reads_pixels(v) -> list[Rule]:
    """Every pixel feature the scratch encoder refuses, each on its field (a form says them all at once)."""
    if v.encoder != "scratch":
        return []
    found = [Rule("pixel_grid", "0 with the scratch encoder (its CNN reads the pixels itself)")] if v.pixel_grid else []
    return found + [Rule(name, "false with the scratch encoder (its CNN reads the pixels itself)",
                         "off with the scratch encoder (its CNN reads the pixels itself)")
                    for name in ("foreground", "background", "drift") if getattr(v, name)]


def _motion_needs_lstm(v) -> list[Rule]:
    # Mean-pooled deltas, or the drift of a whole subclip, would hand the single-frame baseline the motion it is
    # meant to lack.
    return [Rule(name, "false unless temporal is 'lstm'", "off unless temporal is lstm")
            for name in ("deltas", "drift") if getattr(v, name) and v.temporal != "lstm"]


ENCODER_SIZE_RULE = "a multiple of 16, at least 32"


def encoder_reads(size: int) -> bool:
    """Whether the pretrained encoder takes frames of side ``size`` (ENCODER_SIZE_RULE): it halves the picture five
    times, and its "same" padding is fixed for even sides. Frames, the CLI's --embed-size and EMBEDDING_SIZE."""
    return isinstance(size, int) and size >= 32 and size % 16 == 0


def _encoder_frame_size(v) -> Rule | None:
    if v.encoder != "scratch" and not encoder_reads(v.frame_size):
        # The encoder halves the picture five times; its "same" padding is fixed for even sides.
        return Rule("frame_size", f"{ENCODER_SIZE_RULE}, with the {v.encoder} encoder")
    return None


def _pool_fits_frame(v) -> Rule | None:
    if v.encoder == "scratch" and v.head == "pool" and v.pool_size > v.frame_size // 4:
        most = v.frame_size // 4
        return Rule("pool_size", f"at most frame_size // 4 = {most}", f"at most {most} (frame size divided by 4)")
    return None


def _dense_frame_size(v) -> Rule | None:
    if v.encoder == "scratch" and v.head == "dense" and v.frame_size % 4:
        return Rule("frame_size", "a multiple of 4 with the dense head (two 2× poolings before flattening)")
    return None


@dataclass(frozen=True)
class LRCNConfig(ConfigMixin):
    """Everything that defines the network's shape. The field defaults are the ``scratch`` preset (the CNN learnt
    from nothing); ``seed`` is the seed's network and ``default`` the pretrained encoder with an LSTM head.

    With a pretrained ``encoder`` the CNN fields (channels, head, pool and dense sizes, activation) do not
    apply: each frame's embedding comes from the encoder, ``dropout`` drops embedding features while training,
    and ``embedding_size`` is the width of the linear projection the LSTM reads.
    """

    encoder: str = option("scratch", str, choices=ENCODERS, help=(
        "What turns each frame into numbers. efficientnet_lite0: an image network pretrained on ImageNet "
        "(its embeddings are made once, when a trailer is preprocessed). scratch: a small CNN learnt from "
        "this dataset alone (the seed's way); the CNN options below apply only to it."))
    finetune_blocks: int = option(0, int, low=0, label="fine-tune blocks", help=(
        "Pretrained encoder only: let its last this many blocks (of 16) learn too. 0 keeps it "
        "frozen, which trains in seconds on the cached embeddings; more needs a GPU worker."))
    pixel_grid: int = option(0, int, low=0, high=8, help=(
        "Pretrained encoder only: also read, on a grid of this many cells square, how things move "
        "between the consecutive frames of each snippet and the frame's colour, which the encoder's "
        "summary leaves out (0 turns it off)."))
    foreground: bool = option(False, bool, help=(
        "Pretrained encoder only: also read where the foreground of each frame (the pixels far from its "
        "median colour) goes over the subclip, so that the LSTM can follow an object's path whatever its "
        "shape. Independent of the pixel grid."))
    background: bool = option(False, bool, help=(
        "Pretrained encoder only: also read each frame's background colour (its median colour), which "
        "the objects in front of it, whatever their size, hardly change. Independent of the pixel grid."))
    drift: bool = option(False, bool, help=(
        "Pretrained encoder only, with the LSTM: also read how far and which way the foreground's centre drifts "
        "over each whole subclip (a straight line fitted through its path), beside every frame. Independent of "
        "the pixel grid."))
    foreground_track: str = option("pixels", str, choices=TRACKS, help=(
        "With foreground or drift: how the foreground's centre is followed. pixels: every pixel far from the "
        "frame's median colour, weighed by how steadily it stays so (a large, slow object's path comes out "
        "shorter than it is). object: the centre of the one connected region of them that weighs most (its size "
        "times how steadily it stays), every pixel of it alike, so that other things in the picture do not "
        "pull it."))
    snippet_frames: int = option(1, int, low=1, high=16, help=(
        "How many consecutive frames the subclips were sampled with at each point "
        "(SAMPLING_SNIPPET_FRAMES); motion is read within these snippets. Taken from the frames' sampling where "
        "it is known: a web run follows its trailers', and `python -m ml train` refuses a value that differs "
        "from its DATA_DIR's."))
    frame_size: int = option(64, int, low=4, high=1024, help=(
        "Frames are scaled to this many pixels square. Larger sees more detail and costs more time "
        "and memory (the seed used 224)."))
    channels1: int = option(16, int, low=1, high=1024, label="channels 1", help=(
        "Filters in the first convolution block: how many simple patterns (edges, colours) it looks for."))
    channels2: int = option(32, int, low=1, high=1024, label="channels 2", help=(
        "Filters in the second convolution block: combinations of the first block's patterns."))
    embedding_size: int = option(32, int, low=1, high=4096, help=(
        "Length of the summary the network makes of each frame before the sequence model reads it."))
    head: str = option("pool", str, choices=HEADS, help=(
        "How a frame's feature map becomes its summary. pool: average over a grid, then one small layer. "
        "dense: flatten into large fully connected layers (the seed's; hundreds of millions of weights)."))
    pool_size: int = option(8, int, low=1, help=(
        "Pool head only: the feature map is averaged down to a grid this many cells square "
        "(1 averages the whole frame). At most a quarter of the frame size."))
    dense_sizes: tuple[int, ...] = option((6000, 500), tuple, low=1, high=100_000, longest=8, help=(
        "Dense head only: sizes of its hidden layers, separated by commas."))
    activation: str = option("relu", str, choices=ACTIVATION_NAMES, help=(
        "The non-linearity after each layer (relu, leaky_relu or selu)."))
    dropout: float = option(0.0, float, low=0.0, high=1.0, high_open=True, help=(
        "Share of feature channels switched off at random while training, to curb overfitting "
        "(0 turns it off; must be below 1)."))
    temporal: str = option("lstm", str, choices=TEMPORALS, help=(
        "How a subclip's frames are combined. lstm: read in order, so it can learn motion. "
        "mean: averaged, a single-frame baseline."))
    deltas: bool = option(True, bool, help=(
        "Give the LSTM each frame's summary together with its change since the previous frame, which "
        "helps it notice motion. Only with the lstm temporal model."))
    lstm_size: int = option(64, int, low=1, high=4096, label="LSTM size", help=(
        "How many numbers the LSTM carries from one frame to the next."))
    lstm_layers: int = option(1, int, low=1, high=16, label="LSTM layers", help="How many LSTM layers are stacked.")
    readout: str = option("mean", str, choices=READOUTS, help=(
        "Which LSTM output becomes the score. last: the last frame's (the seed's). "
        "mean: the average over all frames."))
    masking: bool = option(True, bool, help=(
        "Short subclips are padded with blank frames. On: the blanks are skipped instead of being read "
        "as real frames."))

    RULES = (_scratch_trains_whole, _encoder_has_blocks, _scratch_reads_pixels, _motion_needs_lstm,
             _encoder_frame_size, _pool_fits_frame, _dense_frame_size)

    @property
    def pretrained(self) -> bool:
        """Whether frames are embedded by a pretrained encoder."""
        return self.encoder != "scratch"

    @property
    def uses_embeddings(self) -> bool:
        """Whether the model reads cached embeddings: a pretrained encoder kept frozen."""
        return self.pretrained and self.finetune_blocks == 0

    def single_frame(self) -> LRCNConfig:
        """The same model with mean pooling over frames in place of the LSTM, and nothing else that carries
        motion across frames (no deltas, no drift): the baseline that tells whether the sequence model earns
        its keep."""
        return self.replace(temporal="mean", deltas=False, drift=False)


PRESETS: dict[str, LRCNConfig] = {
    # The seed's network, layer for layer: 379,357,456 parameters at 224².
    "seed": LRCNConfig(
        frame_size=224, channels1=10, channels2=20, embedding_size=15, head="dense", pool_size=1, dense_sizes=(6000, 500),
        activation="relu", dropout=0.2, temporal="lstm", deltas=False, lstm_size=64, lstm_layers=1, readout="last",
        masking=False,
    ),
    # The CNN learnt from scratch, chosen by measurement on 2 shared CPU cores (synthetic trailers from ml.synth,
    # 120 training / 40 validation, 3 subclips × 16 frames, lr 3e-3; validation MAE / mean-baseline MAE; a
    # single-frame model gets ≈ 0.67, the half of the rating in the hue):
    #   112², global pooling (pool_size 1), 4 epochs      → 0.67  (no motion learnt), ~0.7 s/step
    #    64², pool_size 4, 6–8 epochs, with or w/o deltas → 0.65
    #   112², pool_size 14, deltas, 6 epochs             → 0.67  (and 2.5× the 64² cost per epoch)
    #    64², pool_size 8, no deltas, 5 epochs           → 0.67
    #    64², pool_size 8, deltas, 5 / 10 epochs         → 0.18 / 0.13, ~0.3 s/step
    #    64², pool_size 16 (no pooling), deltas, 10 ep   → 0.13
    # Those were validation-split figures on trailers of one generator; on held-out trailers made from other
    # footage it does no better than the mean (bench/learn.py). Dropout2d is off: it drops channels frame by
    # frame, which reads as motion that is not there.
    "scratch": LRCNConfig(
        frame_size=64, channels1=16, channels2=32, embedding_size=32, head="pool", pool_size=8, dropout=0.0,
        temporal="lstm", deltas=True, lstm_size=64, lstm_layers=1, readout="mean", masking=True,
    ),
    # The pretrained EfficientNet-Lite0, frozen, at 112² (its embeddings are cached at preprocessing), with the
    # LRCN's LSTM over a projection of each frame's embedding: chosen at stop 18 by its figures on bench/learn.py's
    # held-out trailers (made from other footage than the training ones), before the record in bench/LEARNING.md
    # began; every option added to it since was chosen on other sets first (the README's Performance section).
    # Pixel features (ml.pixels: optical flow on a 3×3 grid within snippets of 2 frames, change, colour) go
    # beside the embedding: the encoder says what is in the picture, not how it moves. Measured on a tuning
    # set of its own (48 synthetic motion trailers, seed 5, bar and square; 5-fold CV, MAE / mean baseline):
    # without pixels 0.84, pixel grid 2 / 3 with a 32-wide projection 0.67 / 0.67, grid 3 with 8 wide 0.60.
    # The flow depends on the object's outline, and it transferred badly to other shapes (bench/learn: held-out
    # 0.83, CV 0.59). Where the foreground goes (ml.pixels.foreground_features, ``foreground``) does not: chosen
    # on a tuning set of its own (60 motion trailers, seed 5, 30 bar and 30 square, bench/learn's sampling;
    # trained on one shape and scored on the other, both ways × 2 random seeds; MAE / the training mean's):
    #   grid 3 (before)                                   0.73  (5-fold CV over both shapes 0.55); 40 epochs 0.80
    #   single-frame head, grid 3                         0.88; with the foreground (offsets ×10) too 0.89
    #   grid 3 + the foreground's centre, in fractions of the picture (absolute, with spread and size)  0.75
    #   grid 3 + the centre's offset from its subclip mean (with spread and size), × 10 / 30 / 100  0.72 / 0.67 / 0.61
    #   grid 3 + the offset alone, × 10 / 30 / 100 / 300   0.71 / 0.68 / 0.63 / 0.58  (this: 5-fold CV 0.45)
    #   the offset × 100 / 300 alone, without the grid     0.63 / 0.60;  × 300 at 40 epochs: not measured
    # A linear fit on the offset's slope over each subclip and the background colour gets 0.50 there: the head
    # trains a few hundred steps and finds the offsets only when they are large (larger than 300 not tried).
    # bench/learn with it: motion held-out 0.73 (0.83 without), content 0.50 (0.57). But on the demo's own 80
    # trailers and ratings (bench/demo_default.py, 5-fold CV MAE / mean baseline, 15 epochs) it gave 0.80 against
    # 0.45 without: the offsets' hand-set scale (×300) suited the tuning set's slow motion, not the demo's fast one.
    # Since then the head learns each pixel feature's mean and sd from its training trailers (LRCN.scale_pixels),
    # and the same two tuning sets give (motion: one shape → the other, both ways × 5 random seeds; demo: 5-fold
    # CV with random seeds 7, 8, 9):
    #                                   motion set      demo
    #   without the foreground, before  0.75            0.45 0.53 0.48
    #   with the foreground, before     0.58            0.80 0.72 0.82
    #   without the foreground, scaled  0.65            0.41 0.45 0.43
    #   with the foreground, scaled     0.60            0.44 0.45 0.45   (stop 21)
    # Chosen on these alone, before bench/learn measured it: the best on the motion set of those that hold on the
    # demo (within 0.02 of the best there). bench/learn then: motion held-out 0.68, content 0.61 (bench/LEARNING.md).
    # The background colour (``background``, stop 24): the grid's colour columns are the frame's mean colour, which
    # the objects in front shift by their size (a larger object, a whiter mean), where the rating follows the
    # background's hue. Its median colour is the background's wherever the background fills half the picture.
    # Adopted on that ground, once it did no harm on the same two tuning sets (motion: one shape → the other,
    # both ways × 3 random seeds; demo: 5-fold CV, random seeds 7, 8, 9), before bench/learn measured it:
    #                                   motion set      demo
    #   without (stop 23)               0.60            0.47 0.43 0.40
    #   with the background colour      0.61            0.44 0.42 0.36   (stop 24)
    # The drift (``drift``, stop 25): the offsets give the foreground's path frame by frame, and a head that trains a
    # few hundred steps reads the path's trend from them poorly (a linear fit on the offsets' slope beat it on the
    # motion tuning set, above). The least-squares line through the centres, its change over the subclip, is that
    # trend in two numbers, put beside every frame. Same two tuning sets (motion: one shape → the other, both ways
    # × 5 random seeds, the head's figure; demo: 5-fold CV, random seeds 7, 8, 9), before bench/learn measured it:
    #                                   motion set      demo
    #   without (stop 24)               0.60            0.44 0.42 0.36
    #   with the drift (grid 3)         0.50            0.43 0.39 0.35
    # (A first version that took the frames' order for time, with the drift in place of the offsets: 0.51 and
    # 0.41 0.38 0.35; beside them 0.48 and 0.41 0.40 0.36. The offsets stay: they cost nothing where the drift is.)
    # With the drift there, the flow grid's cells (whose flow follows an object's outline) were measured again on the
    # same two sets, the drift on in each row (motion: 5 random seeds; demo: seeds 7, 8, 9):
    #                                   motion set      demo
    #   grid 3 (stop 21 to 25)          0.50            0.43 0.39 0.35
    #   grid 2                          0.46            0.43 0.35 0.34   ← this preset
    #   grid 1                          0.46            0.45 0.39 0.38
    #   grid 0 (no flow, change nor mean colour)  0.47  0.54 0.38 0.47
    #   grid 3, 30 epochs               0.51            —
    # The foreground's track (``foreground_track``, stop 26). A linear fit on each trailer's drift and background
    # hue, fitted on one shape of the motion tuning set and scored on the other, got 0.46 / 0.38 (bar → square /
    # square → bar) with the drift of every foreground pixel weighed by persistence, and 0.16 / 0.12 with the
    # white object's own centre: the weighing shrank the path of the large, slow square to half, the thin bar's
    # less, and the darting discs pulled at it. The centre of the one connected region that weighs most by the
    # same persistence got 0.28 / 0.18. The same two sets as above (the head's figure; the drift and grid 2 on):
    #                                   motion set      demo
    #   pixels (stop 25)                0.46            0.43 0.35 0.34
    #   object                          0.39            0.45 0.36 0.35   ← this preset
    "default": LRCNConfig(
        encoder="efficientnet_lite0", finetune_blocks=0, pixel_grid=2, foreground=True, background=True, drift=True,
        foreground_track="object", snippet_frames=2, frame_size=112,
        embedding_size=8, dropout=0.2, temporal="lstm", deltas=True, lstm_size=64, lstm_layers=1, readout="mean",
        masking=True,
    ),
}
# The baseline for the default: the same encoder, with the LSTM replaced by mean pooling over frames.
PRESETS["single_frame"] = PRESETS["default"].single_frame()


def sampled_snippets(sampling: SamplingConfig | dict[str, Any] | None) -> int | None:
    """How many consecutive frames the frames sampled with ``sampling`` hold at each point (a SamplingConfig or its
    dict; one stored before snippets existed holds single frames); None when the sampling is unknown."""
    if sampling is None:
        return None
    if isinstance(sampling, dict):
        return int(sampling.get("snippet_frames") or 1) if sampling else None
    return sampling.snippet_frames


def reading_snippets(model_config: LRCNConfig, sampling: SamplingConfig | dict[str, Any] | None) -> LRCNConfig:
    """``model_config`` reading frames sampled with ``sampling``: its ``snippet_frames`` is theirs, since motion is
    read within the snippets the frames hold (the presets' value is the web app's sampling). Unchanged when the
    sampling is unknown."""
    snippets = sampled_snippets(sampling)
    if snippets is None or snippets == model_config.snippet_frames:
        return model_config
    return model_config.replace(snippet_frames=snippets)


def resolve_config(preset_or_config: str | LRCNConfig | dict[str, Any]) -> LRCNConfig:
    """A preset name, a config, or a config dict → the config."""
    if isinstance(preset_or_config, LRCNConfig):
        return preset_or_config
    if isinstance(preset_or_config, str):
        try:
            return PRESETS[preset_or_config]
        except KeyError:
            raise ValueError(f"unknown model preset {preset_or_config!r}; choose one of {sorted(PRESETS)}") from None
    if isinstance(preset_or_config, dict):
        return LRCNConfig.from_dict(preset_or_config)
    raise TypeError(f"expected a preset name, LRCNConfig or dict, got {type(preset_or_config).__name__}")


# ---------------------------------------------------------------------------
# Training.


def _one_model_is_measured(v) -> Rule | None:
    """One model (folds 1) needs a validation split: with none it has no figure at all, and no version can be
    compared with it on the same held-out trailers. Configs saved before this rule still load as they ran."""
    if v.folds == 1 and v.val_fraction == 0 and not _SAVED.get():
        return Rule("val_fraction", "above 0 when folds is 1",
                    plain="above 0 with one fold (one model with no trailer held out has no figure to show, nor to "
                          "compare with another version)")
    return None


def _refit_has_fixed_epochs(v) -> Rule | None:
    """A refit trains on every trailer, so none is left to choose its epoch on: it needs the run's fixed epochs."""
    if v.refit and v.folds >= 2 and (v.restore_best or v.early_stopping_patience is not None):
        return Rule("refit", "off unless restore_best is off and patience is empty",
                    plain="off unless restore best is off and patience is empty (a refit trains on every trailer, "
                          "so none is left to choose its epoch on)")
    return None


@dataclass(frozen=True)
class TrainConfig(ConfigMixin):
    """Everything that defines a training run. Batch size, frames, optimiser and loss default to the seed's;
    the learning rate is the one measured for the ``default`` model (the seed's 3e-4: ``TRAIN_PRESETS``)."""

    epochs: int = option(20, int, low=1, high=10_000, help="How many full passes over the training trailers.")
    batch_size: int = option(10, int, low=1, high=4096, help="Subclips per training step. Larger uses more memory.")
    lr: float = option(3e-3, float, low=0.0, low_open=True, label="learning rate", help=(
        "How big a step the optimizer takes. Too high and training diverges; too low and it learns slowly."))
    optimizer: str = option("adam", str, choices=OPTIMIZERS, help="The update rule: adam, rmsprop or sgd.")
    weight_decay: float = option(0.0, float, low=0.0, help=(
        "Pulls the weights towards zero to curb overfitting (0 turns it off)."))
    momentum: float = option(0.9, float, low=0.0, high=1.0, high_open=True, help=(
        "sgd and rmsprop only: how much of the previous step carries into the next (below 1)."))
    loss: str = option("mse", str, choices=LOSSES, help=(
        "What training minimises. mse: squared error. mae: absolute error. "
        "smooth_mae: squared for small errors, absolute for large ones."))
    grad_clip: float | None = option(None, float, low=0.0, low_open=True, optional=True, help=(
        "Largest gradient size allowed in one step. Leave empty for no limit."))
    early_stopping_patience: int | None = option(None, int, low=1, high=10_000, optional=True, flags=("--patience",), help=(
        "Stop after this many epochs without a better validation loss. Leave empty to run every epoch."))
    restore_best: bool = option(True, bool, help=(
        "Keep the weights of the epoch with the best validation loss, not the last epoch's."))
    val_fraction: float = option(0.2, float, low=0.0, high=1.0, high_open=True, help=(
        "Share of the trailers held out to measure the model (below 1)."))
    random_seed: int = option(0, int, low=0, high=2**32 - 1, help=(
        "Random seed for the split and the starting weights: the same random seed, data and options repeat a "
        "run."))
    device: str = option("auto", str, valid=is_device_name, expected=DEVICE_NAMES,
                         plain="auto, cpu, cuda or cuda:N", menu=("auto", "cpu", "cuda"), help=(
                             "Where the worker trains: auto uses its GPU if it has one, otherwise its CPU."))
    num_workers: int = option(2, int, low=0, high=64, flags=("--workers",), help=(
        "Extra processes that load frames while the model trains (0: load them in the training process)."))
    frames_per_sample: int = option(16, int, low=1, high=4096, help=(
        "Frames the model reads from each subclip; shorter subclips are padded with blank frames."))
    mixed_precision: bool = option(True, bool, help=(
        "On a GPU, compute in 16-bit numbers where it is safe: faster and smaller. No effect on a CPU."))
    folds: int = option(5, int, low=1, high=20, help=(
        "Cross-validation: the trailers are cut into this many folds, each with its share of low and high "
        "ratings, and each fold is scored by a model that never saw it. The run's figures are those held-out "
        "scores, and the fold models together are the version (their spread is its uncertainty). 1: one model "
        "and a validation split, no estimate."))
    duplicate_threshold: float = option(0.9, float, low=0.0, high=1.0, low_open=True, help=(
        "Two trailers are taken to share footage, and kept in one fold so that a copy never "
        "grades its original, when most frames of one have a frame this similar (cosine, up "
        "to 1) in the other. 0.9 catches re-encodes and teasers of the same footage."))
    single_frame_baseline: bool = option(True, bool, help=(
        "Also fit the single-frame head (mean over frames) on the same folds, to show what "
        "the sequence model adds."))
    neighbour_mix: bool = option(True, bool, label="mix in the neighbours", help=(
        f"Cross-validated runs with embeddings and at least {MIX_MIN_TRAILERS} trailers: mix each "
        "prediction with the mean rating of the training trailers that look most like it, in a share (0 to "
        "1, in quarters) chosen on the run's own held-out folds: the smallest as good as the best, within its "
        "margin of error. Off: the model alone."))
    refit: bool = option(False, bool, label="refit on every trailer", help=(
        "Cross-validated runs: after the folds, fit one more model on every trailer with the same epochs (and "
        "neighbours): it makes the version's predictions. The fold models still give the estimate, the "
        "uncertainty and the interval (moved to the refit's prediction). Needs fixed epochs: restore best off "
        "and no patience."))

    RENAMED = {"seed": "random_seed"}  # "seed" also names the original project (the seed preset): renamed
    RULES = (_one_model_is_measured, _refit_has_fixed_epochs)


def fits_single_frame_baseline(config: TrainConfig, model_config: LRCNConfig) -> bool:
    """Whether a cross-validation fits the single-frame head beside each fold's model: asked for, and a head other
    than the model (a model that averages its frames is that head already)."""
    return config.single_frame_baseline and model_config.temporal != "mean"


def cross_validation_fits(config: TrainConfig, model_config: LRCNConfig, folds: int) -> int:
    """How many fits a cross-validation of ``folds`` folds makes, in the order it makes them: each fold's model (then
    its single-frame baseline: :func:`fits_single_frame_baseline`), then the refit on every trailer."""
    per_fold = 2 if fits_single_frame_baseline(config, model_config) else 1
    return folds * per_fold + (1 if config.refit else 0)


TRAIN_PRESETS: dict[str, TrainConfig] = {
    # The seed's fit(): Adam, lr 3e-4, MSE, batch 10, 5 epochs.
    "seed": TrainConfig(epochs=5, lr=3e-4),
    "scratch": TrainConfig(),
    # The head on cached embeddings: fixed epochs (no epoch is chosen on held-out trailers), lr and batch chosen by
    # cross-validation on the training sets of bench/learn.py. Epochs, one number for the admin and the demo,
    # measured on the demo's own 80 trailers and ratings (bench/demo_default.py; 5-fold CV MAE / mean baseline):
    # 10 epochs 0.53, 15 0.45, 20 0.45, 30 0.43 (within one fold's sd of 15, for twice the time); none of them
    # has an epoch worse than the baseline.
    # The refit (stop 39): chosen on bench.calibration's training sides (bench/LEARNING.md), at the edge of its rule.
    "default": TrainConfig(epochs=15, lr=1e-3, batch_size=16, weight_decay=1e-4, restore_best=False, num_workers=0,
                           frames_per_sample=32, refit=True),
}
TRAIN_PRESETS["single_frame"] = TRAIN_PRESETS["default"]


# ---------------------------------------------------------------------------
# Sampling: how a trailer becomes subclips of frames (ml.video does it).


class _DefaultStep(int):
    """The type of ``frame_step``'s default: 45, told apart from a 45 the caller gave."""


_UNSET_STEP = _DefaultStep(45)  # the dataclass default; see SamplingConfig.prepare


def _one_frame_rule(v) -> Rule | None:
    if v.frame_step is not None and v.frames_per_subclip is not None:
        message = "frame_step and frames_per_subclip: set one of them, not both"
        return Rule("frame_step", "empty when frames_per_subclip is set", message=message)
    if v.frame_step is None and v.frames_per_subclip is None:
        return Rule("frame_step", "set when frames_per_subclip is not",
                    message="frame_step or frames_per_subclip must be set")
    return None


@dataclass(frozen=True)
class SamplingConfig(ConfigMixin):
    """How a trailer becomes subclips of frames; stored as JSON with every Subclip and run.

    The defaults are the seed's method (:meth:`seed`): 3 subclips of 30 s from
    10 s in, every 45th frame, shorter side to 255 then a 224×224 center crop.
    Exactly one of ``frame_step`` (every Nth frame at the stream's frame rate)
    and ``frames_per_subclip`` (T frames evenly spaced in time, the same T
    whatever the frame rate) is set; setting ``frames_per_subclip`` clears the
    default ``frame_step``, while a ``frame_step`` given alongside it is refused,
    whatever its value. ``fast`` snaps every wanted frame to the nearest
    keyframe: much faster, inexact, never the default. ``min_duration`` is
    the shortest video accepted, in seconds.
    """

    n_subclips: int = option(3, int, low=1, high=1000, label="subclips", flags=("--subclips",),
                             help="Subclips cut from each trailer.")
    subclip_duration: float = option(30.0, float, low=0.0, low_open=True, help="Length of each subclip, in seconds.")
    offset: float = option(10.0, float, low=0.0, help="Where the first subclip starts, in seconds (the seed skipped the studio logos).")
    min_duration: float = option(1.0, float, low=0.0, help="The shortest video accepted, in seconds.")
    frame_step: int | None = option(_UNSET_STEP, int, low=1, optional=True,
                                    help="Keep every Nth frame, at the stream's frame rate (the seed's way).")
    frames_per_subclip: int | None = option(None, int, low=1, optional=True,
                                            help="Keep this many frames of each subclip, evenly spaced in time whatever the frame rate.")
    size: int = option(224, int, low=8, high=4096, help="Frame side after resizing the shorter side and centre-cropping.")
    fast: bool = option(False, bool, help="Take the nearest keyframe for each wanted frame: much faster, inexact.")
    snippet_frames: int = option(1, int, low=1, high=16,
                                 help="Consecutive frames taken at each sample point, so that motion shows (1: the seed's single frames).")

    RULES = (_one_frame_rule,)

    @classmethod
    def prepare(cls, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("frame_step") is _UNSET_STEP:
            # The default gives way to frames_per_subclip, and is stored as a plain 45.
            values["frame_step"] = None if values.get("frames_per_subclip") is not None else int(_UNSET_STEP)
        return values

    @classmethod
    def seed(cls) -> SamplingConfig:
        """The seed's exact method (the defaults)."""
        return cls()

    def plan(self, duration: float):
        """:func:`ml.video.plan_subclips` with these settings (raises ``VideoError`` for a video too short to
        sample)."""
        from ml.video.plan import plan_subclips  # here: ml.video imports this module (a cycle)

        return plan_subclips(duration, n_subclips=self.n_subclips, subclip_duration=self.subclip_duration,
                             offset=self.offset, min_duration=self.min_duration)
