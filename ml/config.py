"""The config objects of ml: what a model is (LRCNConfig) and how a run trains it (TrainConfig), with presets.

Frozen, validated dataclasses that round-trip through JSON (runs store them), and
that import no torch: the web side builds its forms and checks its input with them
without loading a deep-learning library into every web process. ``ml.model`` and
``ml.train`` re-export them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

ACTIVATION_NAMES = ("relu", "leaky_relu", "selu")
HEADS = ("dense", "pool")
TEMPORALS = ("lstm", "mean")
READOUTS = ("last", "mean")
# "scratch": the two-conv-block CNN learnt from nothing (the seed's); the others are pretrained and ship in a wheel.
ENCODERS = ("scratch", "efficientnet_lite0")
ENCODER_BLOCKS = {"efficientnet_lite0": 16}  # MBConv blocks that finetune_blocks may unfreeze


# ---------------------------------------------------------------------------
# Config objects: frozen, validated, JSON round trip. ml.train uses the helpers too.


class ConfigMixin:
    """``to_dict``/``from_dict`` for the frozen config dataclasses of ``ml``."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Rebuild from ``to_dict`` output; missing fields take defaults, unknown fields are refused."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} must be built from a dict, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}; known fields are {sorted(names)}")
        return cls(**data)

    def replace(self, **changes):
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    # Validation helpers: each names the class and field and shows the bad value.
    def _fail(self, name: str, expected: str) -> None:
        raise ValueError(f"{type(self).__name__}.{name} must be {expected}, got {getattr(self, name)!r}")

    def _int(self, name: str, minimum: int | None = None, *, optional: bool = False) -> None:
        value = getattr(self, name)
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            self._fail(name, f"an integer{bound}" + (" or null" if optional else ""))

    def _float(self, name: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
               hi_open: bool = False, optional: bool = False) -> None:
        value = getattr(self, name)
        if optional and value is None:
            return
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value < hi if hi_open else value <= hi
        if not ok:
            parts = []
            if lo is not None:
                parts.append(f"{'>' if lo_open else '>='} {lo}")
            if hi is not None:
                parts.append(f"{'<' if hi_open else '<='} {hi}")
            self._fail(name, "a finite number" + (f" {' and '.join(parts)}" if parts else "") + (" or null" if optional else ""))
        object.__setattr__(self, name, float(value))

    def _choice(self, name: str, choices) -> None:
        if getattr(self, name) not in choices:
            self._fail(name, f"one of {sorted(choices)}")

    def _bool(self, name: str) -> None:
        if not isinstance(getattr(self, name), bool):
            self._fail(name, "true or false")


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class LRCNConfig(ConfigMixin):
    """Everything that defines the network's shape. The field defaults are the ``scratch`` preset (the CNN learnt
    from nothing); ``seed`` is the seed's network and ``default`` the pretrained encoder with an LSTM head.

    With a pretrained ``encoder`` the CNN fields (channels, head, pool and dense sizes, activation) do not
    apply: each frame's embedding comes from the encoder, ``dropout`` drops embedding features while training,
    and ``embedding_size`` is the width of the linear projection the LSTM reads.
    """

    encoder: str = "scratch"       # "scratch" or a pretrained encoder (ENCODERS)
    finetune_blocks: int = 0       # pretrained: unfreeze the encoder's last N blocks (0: frozen, cached embeddings)
    pixel_grid: int = 0            # pretrained: add motion and colour from the pixels (ml.pixels), on this grid; 0: off
    snippet_frames: int = 1        # the frames come in snippets of this many consecutive ones (sampling's)
    frame_size: int = 64           # frames are frame_size × frame_size
    channels1: int = 16            # first conv block's output channels
    channels2: int = 32            # second conv block's output channels
    embedding_size: int = 32       # per-frame embedding fed to the LSTM
    head: str = "pool"             # "dense": the seed's flatten + dense decoder; "pool": average pooling + linear
    pool_size: int = 8             # head="pool": average over a pool_size × pool_size grid (1: global pooling)
    dense_sizes: tuple[int, ...] = (6000, 500)  # hidden sizes of the dense decoder (head="dense" only)
    activation: str = "relu"
    dropout: float = 0.0           # Dropout2d after the second convolution (the seed: 0.2)
    temporal: str = "lstm"         # "lstm", or "mean": average the frame embeddings (single-frame baseline)
    deltas: bool = True            # LSTM input: each embedding and its change since the previous frame
    lstm_size: int = 64
    lstm_layers: int = 1
    readout: str = "mean"          # "last": the last step's output (seed); "mean": mean over steps (LRCN paper)
    masking: bool = True           # padded frames skip the CNN and are left out of the readout

    def __post_init__(self) -> None:
        self._choice("encoder", ENCODERS)
        self._int("finetune_blocks", 0)
        if self.encoder == "scratch" and self.finetune_blocks:
            self._fail("finetune_blocks", "0 with the scratch encoder (it always trains)")
        if self.encoder != "scratch" and self.finetune_blocks > ENCODER_BLOCKS[self.encoder]:
            self._fail("finetune_blocks", f"at most {ENCODER_BLOCKS[self.encoder]} ({self.encoder} has that many blocks)")
        self._int("pixel_grid", 0)
        if self.pixel_grid > 8:
            self._fail("pixel_grid", "at most 8")
        if self.encoder == "scratch" and self.pixel_grid:
            self._fail("pixel_grid", "0 with the scratch encoder (its CNN reads the pixels itself)")
        self._int("snippet_frames", 1)
        self._int("frame_size", 4)
        self._int("channels1", 1)
        self._int("channels2", 1)
        self._int("embedding_size", 1)
        self._choice("head", HEADS)
        self._int("pool_size", 1)
        dense = self.dense_sizes
        if isinstance(dense, list):
            object.__setattr__(self, "dense_sizes", tuple(dense))
        if not isinstance(self.dense_sizes, tuple) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in self.dense_sizes
        ):
            self._fail("dense_sizes", "a list of positive integers")
        self._choice("activation", ACTIVATION_NAMES)
        self._float("dropout", 0.0, 1.0, hi_open=True)
        self._choice("temporal", TEMPORALS)
        self._bool("deltas")
        if self.deltas and self.temporal != "lstm":
            # Mean-pooled deltas would hand the single-frame baseline the motion it is meant to lack.
            self._fail("deltas", "false unless temporal is 'lstm'")
        self._int("lstm_size", 1)
        self._int("lstm_layers", 1)
        self._choice("readout", READOUTS)
        self._bool("masking")
        if self.encoder != "scratch":
            if self.frame_size < 32 or self.frame_size % 16:
                # The encoder halves the picture five times; its "same" padding is fixed for even sides.
                self._fail("frame_size", f"a multiple of 16, at least 32, with the {self.encoder} encoder")
            return
        if self.head == "pool" and self.pool_size > self.frame_size // 4:
            self._fail("pool_size", f"at most frame_size // 4 = {self.frame_size // 4}")
        if self.head == "dense" and self.frame_size % 4:
            self._fail("frame_size", "a multiple of 4 with the dense head (two 2× poolings before flattening)")

    @property
    def pretrained(self) -> bool:
        """Whether frames are embedded by a pretrained encoder."""
        return self.encoder != "scratch"

    @property
    def uses_embeddings(self) -> bool:
        """Whether the model reads cached embeddings: a pretrained encoder kept frozen."""
        return self.pretrained and self.finetune_blocks == 0


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
    # LRCN's LSTM over a projection of each frame's embedding: chosen on held-out trailers made from other
    # footage than the training ones (bench/learn.py; figures in the README).
    # Pixel features (ml.pixels: optical flow on a 3×3 grid within snippets of 2 frames, change, colour) go
    # beside the embedding: the encoder says what is in the picture, not how it moves. Measured on a tuning
    # set of its own (48 synthetic motion trailers, seed 5, bar and square; 5-fold CV, MAE / mean baseline):
    # without pixels 0.84, pixel grid 2 / 3 with a 32-wide projection 0.67 / 0.67, grid 3 with 8 wide 0.60.
    "default": LRCNConfig(
        encoder="efficientnet_lite0", finetune_blocks=0, pixel_grid=3, snippet_frames=2, frame_size=112,
        embedding_size=8, dropout=0.2, temporal="lstm", deltas=True, lstm_size=64, lstm_layers=1, readout="mean",
        masking=True,
    ),
}
# The baseline for the default: the same encoder, with the LSTM replaced by mean pooling over frames.
PRESETS["single_frame"] = PRESETS["default"].replace(temporal="mean", deltas=False)


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

OPTIMIZERS = ("adam", "rmsprop", "sgd")
LOSSES = ("mse", "mae", "smooth_mae")


DEVICE_NAMES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def is_device_name(device: Any) -> bool:
    """Whether ``device`` names a device ml trains and scores on (see :data:`DEVICE_NAMES`)."""
    return isinstance(device, str) and (
        device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
    )


@dataclass(frozen=True)
class TrainConfig(ConfigMixin):
    """Everything that defines a training run. Batch size, frames, optimiser and loss default to the seed's;
    the learning rate is the one measured for the ``default`` model (the seed's 3e-4: ``TRAIN_PRESETS``)."""

    epochs: int = 20
    batch_size: int = 10
    lr: float = 3e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9                       # sgd and rmsprop only
    loss: str = "mse"                           # "mse", "mae" (L1), "smooth_mae" (smooth L1 / Huber, beta 1)
    grad_clip: float | None = None              # max global gradient norm; None: no clipping
    early_stopping_patience: int | None = None  # stop after this many epochs without a better val loss
    restore_best: bool = True                   # hand back the best epoch's weights, not the last
    val_fraction: float = 0.2                   # share of trailers held out (when fit computes the split)
    seed: int = 0
    device: str = "auto"                        # "auto" (cuda where available), "cpu", "cuda", "cuda:N"
    num_workers: int = 2                        # DataLoader worker processes
    frames_per_sample: int = 16                 # frames per subclip fed to the model; shorter ones zero-padded
    mixed_precision: bool = True                # autocast on CUDA (bf16 where supported, else fp16 + GradScaler)
    folds: int = 5                              # K-fold cross-validation by trailer; 1: one model, no estimate
    duplicate_threshold: float = 0.9            # frame match (ml.crossval.duplicate_score) that makes two trailers one group
    single_frame_baseline: bool = True          # also fit the mean-pooling head on the same folds, to compare

    def __post_init__(self) -> None:
        self._int("epochs", 1)
        self._int("batch_size", 1)
        self._float("lr", 0.0, lo_open=True)
        self._choice("optimizer", OPTIMIZERS)
        self._float("weight_decay", 0.0)
        self._float("momentum", 0.0, 1.0, hi_open=True)
        self._choice("loss", LOSSES)
        self._float("grad_clip", 0.0, lo_open=True, optional=True)
        self._int("early_stopping_patience", 1, optional=True)
        self._bool("restore_best")
        self._float("val_fraction", 0.0, 1.0, hi_open=True)
        self._int("seed", 0)
        if not is_device_name(self.device):
            self._fail("device", DEVICE_NAMES)
        self._int("num_workers", 0)
        self._int("frames_per_sample", 1)
        self._bool("mixed_precision")
        self._int("folds", 1)
        if self.folds > 20:
            self._fail("folds", "at most 20")
        self._float("duplicate_threshold", 0.0, 1.0, lo_open=True)
        self._bool("single_frame_baseline")


TRAIN_PRESETS: dict[str, TrainConfig] = {
    # The seed's fit(): Adam, lr 3e-4, MSE, batch 10, 5 epochs.
    "seed": TrainConfig(epochs=5, lr=3e-4),
    "scratch": TrainConfig(),
    # The head on cached embeddings: fixed epochs (no epoch is chosen on held-out trailers), lr and batch chosen by
    # cross-validation on the training sets of bench/learn.py. Epochs, one number for the admin and the demo,
    # measured on the demo's own 80 trailers and ratings (bench/demo_default.py; 5-fold CV MAE / mean baseline):
    # 10 epochs 0.53, 15 0.45, 20 0.45, 30 0.43 (within one fold's sd of 15, for twice the time); none of them
    # has an epoch worse than the baseline.
    "default": TrainConfig(epochs=15, lr=1e-3, batch_size=16, weight_decay=1e-4, restore_best=False, num_workers=0,
                           frames_per_sample=32),
}
TRAIN_PRESETS["single_frame"] = TRAIN_PRESETS["default"]
