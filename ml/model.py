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

With a pretrained ``encoder`` (``ml.encoder``) the per-frame CNN is
EfficientNet-Lite0 with ImageNet weights, and a linear projection of its
1280-wide embedding feeds the same temporal model. Kept frozen
(``finetune_blocks`` 0), the encoder is not part of the learnt weights: the
model is then only its *head* (projection, LSTM or mean, linear), which
trains in seconds on embeddings cached at preprocessing
(:meth:`LRCN.head`); :meth:`LRCN.forward` still takes frames and embeds them
with the process's shared encoder. With ``finetune_blocks`` N the encoder
is a submodule whose last N blocks learn (for GPU machines).

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

from typing import Any

import numpy as np
import torch
from torch import nn

from ml.config import LRCNConfig, resolve_config
from ml.encoder import ENCODER_DIM, FrameEncoder, shared_encoder
from ml.pixels import pixel_columns, pixel_features, pixel_options

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "selu": nn.SELU}

# Per-channel pixel statistics used to centre uint8 input (the usual video-network values).
PIXEL_MEAN = (0.43, 0.40, 0.37)
PIXEL_STD = (0.23, 0.22, 0.22)


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
        self.cnn: FrameCNN | None = None
        self.encoder = None
        self.project: nn.Module | None = None
        self.pixels = 0
        if not config.pretrained:
            self.cnn = FrameCNN(config)
        else:
            if config.finetune_blocks:
                self.encoder = FrameEncoder(config.encoder)
                self.encoder.trainable_blocks(config.finetune_blocks)
            # The pixel features go past the projection: 1280 encoder numbers would drown their few.
            self.pixels = pixel_columns(pixel_options(config))
            self.project = nn.Sequential(nn.Dropout(config.dropout),
                                         nn.Linear(ENCODER_DIM[config.encoder], config.embedding_size))
        step_size = config.embedding_size + (self.pixels if self.project is not None else 0)
        if config.temporal == "lstm":
            self.rnn: nn.LSTM | None = nn.LSTM(
                input_size=step_size * (2 if config.deltas else 1), hidden_size=config.lstm_size,
                num_layers=config.lstm_layers, batch_first=True,
            )
            features = config.lstm_size
        else:
            self.rnn = None
            features = step_size
        self.linear = nn.Linear(features, 1)
        if self.pixels:
            # Each pixel feature's mean and sd over the training inputs (set by ml.train.fit, kept in the model
            # file): the head reads them centred and at unit sd, whatever their units and however fast the
            # footage moves. Model files from before these existed load with 0 and 1: their features as they were.
            self.register_buffer("pixel_shift", torch.zeros(self.pixels))
            self.register_buffer("pixel_scale", torch.ones(self.pixels))
            self.register_load_state_dict_pre_hook(_unscaled_pixels)
        # Non-persistent: a fixed property of the input format, not a learnt weight.
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).mul(255).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).mul(255).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        batch, steps = self._check(frames)
        mask = self._mask(lengths, batch, steps, frames.device)
        return self._temporal(self.embed(frames, mask), mask, lengths)

    def head(self, embeddings: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder embeddings (B, T, D) float, as :func:`ml.encoder.embed_frames` makes them → ratings (B,).

        Only for a pretrained encoder; padded steps (past ``lengths``) may hold anything.
        """
        if self.project is None:
            raise ValueError("this model learns its own CNN (encoder 'scratch'): give it frames, not embeddings")
        width = self.project[1].in_features + self.pixels
        if embeddings.dim() != 3 or embeddings.shape[-1] != width:
            raise ValueError(f"expected embeddings shaped (B, T, {width}) from the {self.config.encoder} encoder"
                             f"{' and ml.pixels' if self.pixels else ''}, got {tuple(embeddings.shape)}")
        batch, steps = embeddings.shape[:2]
        mask = self._mask(lengths, batch, steps, embeddings.device)
        return self._temporal(self._projected(embeddings.float(), mask), mask, lengths)

    def _mask(self, lengths, batch: int, steps: int, device) -> torch.Tensor | None:
        if lengths is None or not self.config.masking:
            return None
        lengths = lengths.to(device).long().clamp(1, steps)
        return torch.arange(steps, device=device)[None, :] < lengths[:, None]

    @torch.no_grad()
    def scale_pixels(self, features: np.ndarray) -> None:
        """Learn the pixel features' scale from the training inputs' pixel columns (N, pixels): their mean and
        sd (a column that never changes keeps a scale of 1)."""
        features = np.asarray(features, np.float64)
        if features.ndim != 2 or features.shape[1] != self.pixels or not len(features):
            raise ValueError(f"expected pixel features shaped (N, {self.pixels}), got {features.shape}")
        sd = features.std(axis=0)
        self.pixel_shift.copy_(torch.as_tensor(features.mean(axis=0)))
        self.pixel_scale.copy_(torch.as_tensor(np.where(sd > 1e-6, sd, 1.0)))

    def _projected(self, embeddings: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        width = self.project[1].in_features
        out = self.project(embeddings[..., :width])
        if self.pixels:
            out = torch.cat([out, (embeddings[..., width:] - self.pixel_shift) / self.pixel_scale], dim=-1)
        return out if mask is None else out * mask.unsqueeze(-1).to(out.dtype)

    def _temporal(self, embeddings: torch.Tensor, mask: torch.Tensor | None, lengths) -> torch.Tensor:
        batch, steps = embeddings.shape[:2]
        if lengths is not None and mask is not None:
            lengths = lengths.to(embeddings.device).long().clamp(1, steps)
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
        if self.cnn is None:
            emb = self._encode(flat)
        else:
            x = flat.permute(0, 3, 1, 2).float()
            emb = self.cnn((x - self.pixel_mean) / self.pixel_std)
        if index is not None:
            emb = emb.new_zeros(batch * steps, emb.shape[1]).index_copy(0, index, emb)
        emb = emb.view(batch, steps, -1)
        if self.cnn is None:
            if self.pixels:
                # On each subclip's real frames only, as the cached-embeddings path computes them: zero frames of
                # padding counted as snippet places and moved the drift's columns.
                real = mask.cpu().numpy() if mask is not None else np.ones((batch, steps), bool)
                features = np.zeros((batch, steps, self.pixels), np.float32)
                for i, f in enumerate(frames.cpu().numpy()):
                    features[i, real[i]] = pixel_features(f[real[i]], **pixel_options(self.config))
                emb = torch.cat([emb, torch.as_tensor(features, device=emb.device)], dim=-1)
            emb = self._projected(emb, mask)
        return emb

    def _encode(self, frames: torch.Tensor) -> torch.Tensor:
        if self.encoder is not None:
            return self.encoder(frames)
        with torch.no_grad():  # frozen: the shared encoder is not this model's to train
            return shared_encoder(self.config.encoder, frames.device)(frames).float()

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


def _unscaled_pixels(module: LRCN, state_dict: dict, prefix: str, *args) -> None:
    """A model file saved before the pixel features were scaled: load it with the identity scale."""
    state_dict.setdefault(prefix + "pixel_shift", torch.zeros_like(module.pixel_shift))
    state_dict.setdefault(prefix + "pixel_scale", torch.ones_like(module.pixel_scale))


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
