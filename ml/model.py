"""The LRCN: a small CNN embeds every frame, an LSTM reads the embeddings, a linear layer gives the rating.

One configurable model covers the seed's network exactly (the ``seed`` preset:
two conv blocks, a dense decoder of ~376 M weights, LSTM(15→64), readout from
the last step) and the faster options that the ``default`` preset uses: a
pooled head instead of the dense decoder (average pooling to a
``pool_size``×``pool_size`` grid, then one linear layer), a smaller frame size,
the mean over LSTM steps as the readout (as in the LRCN paper), each frame's
embedding change fed to the LSTM beside the embedding (``deltas``), and
masking so that zero-padded frames neither pass through the CNN nor reach the
prediction. ``temporal="mean"`` replaces the LSTM by mean pooling over frames:
the single-frame baseline that tells whether the sequence model earns its keep.

Why a grid and not one global average: a global average throws away where
things are in the picture, and with it how they move; on the synthetic
trailers (half the rating is in how a bar moves) a globally pooled LRCN learnt
no more than the single-frame model, while a fine grid learnt the motion in a
few epochs, and only with ``deltas`` (see the notes at ``PRESETS["default"]``).

Input: uint8 frames shaped (B, T, H, W, 3), RGB, channels last (the layout of
the stored ``.npy`` arrays), with H == W == ``frame_size``; frames of another
size are resized in the data path (``ml.data.resize_frames``), not here.
Normalisation to floats happens inside the model. Optional ``lengths`` (B,)
say how many leading frames of each sequence are real; padding is at the end.
Output: (B,) float ratings (in whatever scale the model was trained on).

The CNN runs once over the flattened B·T frames rather than in a Python loop
over the batch. In evaluation mode this equals the seed's per-sequence loop
exactly; in training mode BatchNorm's statistics come from all B·T frames of
the batch rather than the T frames of one sequence.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "selu": nn.SELU}
HEADS = ("dense", "pool")
TEMPORALS = ("lstm", "mean")
READOUTS = ("last", "mean")

# Per-channel pixel statistics used to centre uint8 input (the usual video-network values).
PIXEL_MEAN = (0.43, 0.40, 0.37)
PIXEL_STD = (0.23, 0.22, 0.22)


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
    """Everything that defines the network's shape. The defaults are the ``default`` preset; ``seed`` is the seed's."""

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
        self._choice("activation", ACTIVATIONS)
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
        if self.head == "pool" and self.pool_size > self.frame_size // 4:
            self._fail("pool_size", f"at most frame_size // 4 = {self.frame_size // 4}")
        if self.head == "dense" and self.frame_size % 4:
            self._fail("frame_size", "a multiple of 4 with the dense head (two 2× poolings before flattening)")


PRESETS: dict[str, LRCNConfig] = {
    # The seed's network, layer for layer: 379,357,456 parameters at 224².
    "seed": LRCNConfig(
        frame_size=224, channels1=10, channels2=20, embedding_size=15, head="dense", pool_size=1, dense_sizes=(6000, 500),
        activation="relu", dropout=0.2, temporal="lstm", deltas=False, lstm_size=64, lstm_layers=1, readout="last",
        masking=False,
    ),
    # Chosen by measurement on 2 shared CPU cores (synthetic trailers from ml.synth, 120 training / 40 validation,
    # 3 subclips × 16 frames, lr 3e-3; validation MAE / mean-baseline MAE; a single-frame model gets ≈ 0.67, the
    # half of the rating in the hue):
    #   112², global pooling (pool_size 1), 4 epochs      → 0.67  (no motion learnt), ~0.7 s/step
    #    64², pool_size 4, 6–8 epochs, with or w/o deltas → 0.65
    #   112², pool_size 14, deltas, 6 epochs             → 0.67  (and 2.5× the 64² cost per epoch)
    #    64², pool_size 8, no deltas, 5 epochs           → 0.67
    #    64², pool_size 8, deltas, 5 / 10 epochs         → 0.18 / 0.13, ~0.3 s/step
    #    64², pool_size 16 (no pooling), deltas, 10 ep   → 0.13
    # Dropout2d is off: it drops channels frame by frame, which reads as motion that is not there.
    "default": LRCNConfig(
        frame_size=64, channels1=16, channels2=32, embedding_size=32, head="pool", pool_size=8, dropout=0.0,
        temporal="lstm", deltas=True, lstm_size=64, lstm_layers=1, readout="mean", masking=True,
    ),
}
# The baseline for the default: the same CNN, with the LSTM replaced by mean pooling over frames.
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
# The network.


class FrameCNN(nn.Module):
    """The per-frame CNN: two conv blocks (the seed's), then the dense decoder or a pooled head."""

    def __init__(self, config: LRCNConfig) -> None:
        super().__init__()
        act = ACTIVATIONS[config.activation]
        c1, c2 = config.channels1, config.channels2
        layer1 = nn.Sequential(nn.Conv2d(3, c1, kernel_size=5, padding=2), act(), nn.BatchNorm2d(c1), nn.MaxPool2d(2, 2))
        layer2 = nn.Sequential(
            nn.Conv2d(c1, c2, kernel_size=3, padding=1), nn.Dropout2d(p=config.dropout), act(),
            nn.BatchNorm2d(c2), nn.MaxPool2d(2, 2),
        )
        self.encoder = nn.Sequential(layer1, layer2)
        if config.head == "dense":
            side = config.frame_size // 4
            sizes = [side * side * c2, *config.dense_sizes]
            layers: list[nn.Module] = [nn.Flatten()]
            for n_in, n_out in zip(sizes, sizes[1:], strict=False):
                layers += [nn.Linear(n_in, n_out), act()]
            layers.append(nn.Linear(sizes[-1], config.embedding_size))
        else:
            # A grid rather than one global average keeps coarse position: where things are, and so how they move.
            grid = config.pool_size
            layers = [nn.AdaptiveAvgPool2d(grid), nn.Flatten(), nn.Linear(c2 * grid * grid, config.embedding_size)]
        self.decoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised floats → (N, embedding_size)."""
        return self.decoder(self.encoder(x))


class LRCN(nn.Module):
    """Frames (B, T, H, W, 3) uint8 → ratings (B,). See the module docstring for the contract."""

    def __init__(self, config: LRCNConfig) -> None:
        super().__init__()
        self.config = config
        self.cnn = FrameCNN(config)
        if config.temporal == "lstm":
            self.rnn: nn.LSTM | None = nn.LSTM(
                input_size=config.embedding_size * (2 if config.deltas else 1), hidden_size=config.lstm_size,
                num_layers=config.lstm_layers, batch_first=True,
            )
            features = config.lstm_size
        else:
            self.rnn = None
            features = config.embedding_size
        self.linear = nn.Linear(features, 1)
        # Non-persistent: a fixed property of the input format, not a learnt weight.
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).mul(255).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).mul(255).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        batch, steps = self._check(frames)
        mask = None
        if lengths is not None and self.config.masking:
            lengths = lengths.to(frames.device).long().clamp(1, steps)
            mask = torch.arange(steps, device=frames.device)[None, :] < lengths[:, None]
        embeddings = self.embed(frames, mask)                     # (B, T, E)
        if self.rnn is None:
            features = _masked_mean(embeddings, mask)
        else:
            if self.config.deltas:
                # Padding sits after the real frames, so its deltas never reach a real step's output.
                change = torch.diff(embeddings, dim=1, prepend=embeddings[:, :1])
                embeddings = torch.cat([embeddings, change], dim=-1)
            outputs, _ = self.rnn(embeddings)                      # (B, T, H)
            if self.config.readout == "mean":
                features = _masked_mean(outputs, mask)
            elif mask is not None:
                # Padding is at the end, so the step at lengths-1 has seen exactly the real frames.
                features = outputs[torch.arange(batch, device=outputs.device), lengths - 1]
            else:
                features = outputs[:, -1]
        return self.linear(features).squeeze(-1)

    def embed(self, frames: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Run the CNN once over all B·T frames (only the unmasked ones) → (B, T, E); masked steps are zeros."""
        batch, steps = frames.shape[:2]
        flat = frames.reshape(batch * steps, *frames.shape[2:])
        index = None
        if mask is not None and not bool(mask.all()):
            index = mask.reshape(-1).nonzero().squeeze(1)
            flat = flat.index_select(0, index)
        x = flat.permute(0, 3, 1, 2).float()
        x = (x - self.pixel_mean) / self.pixel_std
        emb = self.cnn(x)
        if index is not None:
            emb = emb.new_zeros(batch * steps, emb.shape[1]).index_copy(0, index, emb)
        return emb.view(batch, steps, -1)

    def _check(self, frames: torch.Tensor) -> tuple[int, int]:
        size = self.config.frame_size
        if frames.dim() != 5 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames shaped (B, T, H, W, 3), got {tuple(frames.shape)}")
        if frames.dtype != torch.uint8:
            raise ValueError(f"expected uint8 frames, got {frames.dtype}")
        if frames.shape[2] != size or frames.shape[3] != size:
            raise ValueError(
                f"this model takes {size}×{size} frames, got {frames.shape[2]}×{frames.shape[3]}; "
                "resize them first (ml.data.resize_frames)"
            )
        return frames.shape[0], frames.shape[1]


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x.mean(dim=1)
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1)


def build_model(preset_or_config: str | LRCNConfig | dict[str, Any] = "default") -> LRCN:
    """Build an LRCN from a preset name (``seed``, ``default``, ``single_frame``), a config, or a config dict."""
    return LRCN(resolve_config(preset_or_config))


def count_parameters(model: nn.Module) -> int:
    """Number of weights (trainable or not, buffers excluded)."""
    return sum(p.numel() for p in model.parameters())
