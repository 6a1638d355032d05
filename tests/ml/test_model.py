"""The LRCN: every option's shapes, the seed preset's exact size, the batched CNN, masking, config validation."""

import itertools
import json

import pytest
import torch

from ml.config import PRESETS, LRCNConfig
from ml.model import build_model, count_parameters

TINY = LRCNConfig(frame_size=16, channels1=3, channels2=4, embedding_size=5, lstm_size=6, dense_sizes=(7,), pool_size=2)


def frames(batch=3, steps=5, size=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, steps, size, size, 3), dtype=torch.uint8, generator=generator)


OPTIONS = [
    (head, temporal, readout, masking, deltas)
    for head, temporal, readout, masking, deltas in itertools.product(
        ["dense", "pool"], ["lstm", "mean"], ["last", "mean"], [True, False], [False, True]
    )
    if not (deltas and temporal == "mean")
]


@pytest.mark.parametrize(("head", "temporal", "readout", "masking", "deltas"), OPTIONS)
def test_every_option_maps_frames_to_one_rating_per_sequence(head, temporal, readout, masking, deltas):
    torch.manual_seed(0)
    model = build_model(TINY.replace(head=head, temporal=temporal, readout=readout, masking=masking, deltas=deltas,
                                     lstm_layers=2, pool_size=2))
    x = frames()
    out = model(x, torch.tensor([5, 2, 1]))
    assert out.shape == (3,)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model(x).shape == (3,)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "selu"])
def test_every_activation_builds_and_runs(activation):
    model = build_model(TINY.replace(activation=activation))
    assert model(frames()).shape == (3,)


def test_seed_preset_has_the_originals_size_and_takes_a_full_size_training_step():
    torch.manual_seed(0)
    model = build_model("seed")
    assert count_parameters(model) == 379_357_456
    assert model.config.frame_size == 224
    # One step at full size; SGD without momentum keeps memory to weights + gradients (~3 GB).
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    before = model.linear.weight.detach().clone()
    out = model(frames(batch=2, steps=3, size=224))
    assert out.shape == (2,)
    torch.nn.functional.mse_loss(out, torch.tensor([5.0, 7.0])).backward()
    optimizer.step()
    assert not torch.equal(before, model.linear.weight)


def test_scratch_preset_is_much_smaller_than_the_seed_and_is_the_config_defaults():
    scratch = build_model("scratch")
    assert count_parameters(scratch) * 50 <= 379_357_456
    assert scratch.config == LRCNConfig() and scratch.config.head == "pool" and scratch.config.masking
    assert PRESETS["single_frame"] == PRESETS["default"].replace(temporal="mean", deltas=False, drift=False)


@pytest.mark.parametrize("head", ["dense", "pool"])
def test_cnn_over_all_frames_at_once_equals_the_seeds_per_sequence_loop(head):
    torch.manual_seed(0)
    model = build_model(TINY.replace(head=head, masking=False, readout="last", deltas=False)).eval()
    x = frames(batch=4, steps=6)
    batched = model.embed(x)
    normalised = ((x.permute(0, 1, 4, 2, 3).float() - model.pixel_mean) / model.pixel_std)
    looped = torch.stack([model.cnn(sequence) for sequence in normalised])  # the seed's forward
    torch.testing.assert_close(batched, looped, rtol=1e-5, atol=1e-6)
    out, _ = model.rnn(looped)
    torch.testing.assert_close(model(x), model.linear(out)[:, -1, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("temporal", "readout", "deltas"),
    [("lstm", "last", False), ("lstm", "mean", False), ("lstm", "last", True), ("lstm", "mean", True), ("mean", "mean", False)],
)
def test_padded_frames_do_not_change_a_masked_prediction(temporal, readout, deltas):
    torch.manual_seed(0)
    model = build_model(TINY.replace(temporal=temporal, readout=readout, deltas=deltas, masking=True)).eval()
    real = frames(batch=1, steps=3)
    zero_padded = torch.cat([real, torch.zeros_like(frames(batch=1, steps=4))], dim=1)
    noise_padded = torch.cat([real, frames(batch=1, steps=4, seed=1)], dim=1)
    alone = model(real)
    torch.testing.assert_close(model(zero_padded, torch.tensor([3])), alone)
    torch.testing.assert_close(model(noise_padded, torch.tensor([3])), alone)


def test_without_masking_padding_reaches_the_prediction_as_in_the_seed():
    torch.manual_seed(0)
    model = build_model(TINY.replace(masking=False, readout="last")).eval()
    real = frames(batch=1, steps=3)
    padded = torch.cat([real, torch.zeros_like(frames(batch=1, steps=2))], dim=1)
    assert not torch.allclose(model(padded, torch.tensor([3])), model(real))


def test_wrong_inputs_are_refused_with_the_reason():
    model = build_model(TINY)
    with pytest.raises(ValueError, match="uint8"):
        model(frames().float())
    with pytest.raises(ValueError, match="resize"):
        model(frames(size=20))
    with pytest.raises(ValueError, match=r"\(B, T, H, W, 3\)"):
        model(frames().permute(0, 1, 4, 2, 3))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("activation", "rellu"),
        ("head", "giant"),
        ("temporal", "gru"),
        ("readout", "first"),
        ("frame_size", 0),
        ("channels1", 2.5),
        ("lstm_layers", True),
        ("dropout", 1.0),
        ("masking", "yes"),
        ("dense_sizes", [10, -1]),
        ("pool_size", 0),
        ("frame_size", 100_000),  # too large to allocate: refused, not tried
        ("lstm_size", 10**9),
        ("dense_sizes", [500, 10**9]),
    ],
)
def test_model_config_says_which_field_is_wrong(field, value):
    with pytest.raises(ValueError, match=rf"LRCNConfig\.{field} must be"):
        LRCNConfig(**{field: value})


def test_options_that_do_not_fit_together_are_refused():
    with pytest.raises(ValueError, match="frame_size"):
        LRCNConfig(head="dense", frame_size=30)
    with pytest.raises(ValueError, match="pool_size"):
        LRCNConfig(frame_size=32, pool_size=9)
    with pytest.raises(ValueError, match="deltas"):
        LRCNConfig(temporal="mean")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_model_config_round_trips_through_json(name):
    config = PRESETS[name]
    assert LRCNConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_model_config_refuses_unknown_fields_and_unknown_presets():
    with pytest.raises(ValueError, match="unknown field"):
        LRCNConfig.from_dict({"lstm_sise": 3})
    with pytest.raises(ValueError, match="unknown model preset"):
        build_model("huge")


def test_a_fine_tuned_encoder_reads_the_pixel_features_of_the_real_frames_as_the_cached_path_does():
    """With finetune_blocks > 0 the model reads frames, not cached embeddings: its pixel features were computed on
    the padded frames too (the zero frames counted as snippets and moved the drift), unlike the cached path's."""
    import numpy as np

    from ml.data import prepare_frames
    from ml.pixels import pixel_features, pixel_options

    config = PRESETS["default"].replace(frame_size=32, finetune_blocks=1)
    model = build_model(config).eval()
    frames = np.full((16, 32, 32, 3), 90, np.uint8)
    for t in range(16):  # a bright square crossing the picture, in snippets of two frames
        frames[t, 10:18, t + 2:t + 10] = 240
    x, length = prepare_frames(frames, 24, 32)  # 8 frames of padding
    mask = torch.arange(24) < length
    with torch.no_grad():
        out = model.embed(x[None], mask[None])
    read = out[0, :length, -model.pixels:] * model.pixel_scale + model.pixel_shift
    assert np.allclose(read.numpy(), pixel_features(frames, **pixel_options(config)), atol=1e-5)
    assert not out[0, length:].any()  # padding stays zeros
