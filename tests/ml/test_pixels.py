"""Pixel features: the motion inside snippets and the colour, which a pretrained embedding does not carry."""

import numpy as np
import pytest

from ml.pixels import feature_count, head_input, pixel_features


def moving_bar(step: int, *, frames: int = 6, size: int = 64) -> np.ndarray:
    """A white bar on grey, ``step`` pixels further right in every frame."""
    out = np.full((frames, size, size, 3), 80, np.uint8)
    for t in range(frames):
        left = 10 + t * step
        out[t, 8:56, left:left + 8] = 250
    return out


@pytest.mark.parametrize("step", [2, -2])
def test_flow_follows_the_bar_within_snippets(step):
    frames = moving_bar(step) if step > 0 else moving_bar(-step)[::-1].copy()
    features = pixel_features(frames, grid=1, snippet_frames=2)
    assert features.shape == (6, feature_count(1))
    u = features[:, 0]
    assert (np.sign(u) == np.sign(step)).all(), u  # every row, snippet starts included
    assert np.allclose(u[0::2], u[1::2])


def test_single_frame_snippets_have_no_motion_but_keep_colour():
    frames = moving_bar(3)
    features = pixel_features(frames, grid=2, snippet_frames=1)
    assert np.count_nonzero(features[:, :9]) == 0
    assert features[:, -3:] == pytest.approx(frames.astype(np.float32).mean(axis=(1, 2)) / 255, abs=1e-5)


def test_head_input_sits_beside_the_embeddings_and_refuses_a_stale_cache():
    frames = moving_bar(2)
    embeddings = np.zeros((6, 1280), np.float16)
    assert head_input(embeddings, frames, grid=0, snippet_frames=2) is embeddings
    joined = head_input(embeddings, frames, grid=3, snippet_frames=2)
    assert joined.shape == (6, 1280 + feature_count(3)) and joined.dtype == np.float32
    with pytest.raises(ValueError, match="stale"):
        head_input(embeddings[:4], frames, grid=3, snippet_frames=2)


def test_a_cross_validation_computes_each_files_features_once(tmp_path, monkeypatch):
    import ml.pixels
    from ml.data import TrailerSample
    from ml.frames import save_frames
    from ml.pixels import remembered_features, sample_head_inputs

    frames = moving_bar(2)
    save_frames(frames, tmp_path / "0.npy")
    sample = TrailerSample("t", (str(tmp_path / "0.npy"),), 5.0, (np.zeros((6, 1280), np.float32),))
    expected = head_input(sample.embeddings[0], frames, grid=3, snippet_frames=2)
    computed = []
    real = ml.pixels.pixel_features
    monkeypatch.setattr(ml.pixels, "pixel_features", lambda f, **kw: computed.append(1) or real(f, **kw))

    with remembered_features():
        first = sample_head_inputs(sample, grid=3, snippet_frames=2)
        again = sample_head_inputs(sample, grid=3, snippet_frames=2)
        assert len(computed) == 1
        sample_head_inputs(sample, grid=2, snippet_frames=2)  # another grid is other features
        assert len(computed) == 2
    assert np.array_equal(first[0], expected) and np.array_equal(again[0], expected)
    sample_head_inputs(sample, grid=3, snippet_frames=2)  # outside it, nothing is remembered
    sample_head_inputs(sample, grid=3, snippet_frames=2)
    assert len(computed) == 4


def test_foreground_is_where_the_object_is_whatever_the_background():
    from ml.pixels import FOREGROUND_FEATURES, FOREGROUND_OFFSET_SCALE, foreground_features

    frames = np.empty((3, 60, 80, 3), np.uint8)
    frames[:] = (40, 120, 200)  # a blue background
    frames[0, 10:40, 8:24] = 250  # a 16 × 30 white block, its centre at (16, 25) pixels
    frames[1, 30:50, 60:80] = (250, 20, 20)  # a red 20 × 20 block at the right edge, its centre at (70, 40)
    features = foreground_features(frames)
    assert features.shape == (3, FOREGROUND_FEATURES) == (3, 2) and features.dtype == np.float32
    # The centres against their mean (43, 32.5) over the frames that have one, scaled.
    offset = [(16 - 43) / 80 * FOREGROUND_OFFSET_SCALE, (25 - 32.5) / 60 * FOREGROUND_OFFSET_SCALE]
    assert features[0] == pytest.approx(offset, rel=1e-5)
    assert features[1] == pytest.approx([-offset[0], -offset[1]], rel=1e-5)
    assert features[2] == pytest.approx([0, 0])  # nothing but background: defined, no NaN
    assert not np.isnan(foreground_features(np.zeros((2, 8, 8, 3), np.uint8))).any()


def test_foreground_follows_any_shape_one_way_or_the_other():
    from ml.pixels import FOREGROUND_OFFSET_SCALE, foreground_features

    frames = np.full((6, 64, 64, 3), 80, np.uint8)
    yy, xx = np.mgrid[0:64, 0:64]
    for t in range(6):
        frames[t][(xx - (12 + 6 * t)) ** 2 + (yy - 32) ** 2 <= 8**2] = 250  # a disc moving right
    x = foreground_features(frames)[:, 0] / FOREGROUND_OFFSET_SCALE  # in fractions of the picture
    # Weighed by persistence, the centre lags towards the path's middle, but it moves every frame, the right way.
    assert (np.diff(x) > 0.04).all() and x[-1] - x[0] > 0.3 and abs(x.mean()) < 1e-5, x
    assert (np.diff(foreground_features(frames[::-1].copy())[:, 0]) < 0).all()


def test_an_object_that_stays_outweighs_clutter_that_comes_and_goes():
    from ml.pixels import FOREGROUND_OFFSET_SCALE, foreground_features

    frames = np.full((8, 64, 64, 3), 80, np.uint8)
    frames[:, 20:44, 40:50] = 250  # the object, still
    for t in range(8):
        frames[t, 4 * t : 4 * t + 10, 3 * t : 3 * t + 10] = (20, 200, 20)  # a thing darting about
    x = foreground_features(frames)[:, 0] / FOREGROUND_OFFSET_SCALE
    assert (np.abs(x) < 0.02).all(), x  # it has not moved, and the centre hardly says otherwise
    unweighed = (24 * 10 * 45 + 10 * 10 * 5) / (24 * 10 + 10 * 10) / 64  # frame 0's plain centre of its mask
    assert abs(unweighed - 45 / 64) > 0.15  # where the last frame's is near the object's, 45 / 64


def test_foreground_columns_come_after_the_grids_or_alone():
    frames = moving_bar(2)
    both = pixel_features(frames, grid=2, snippet_frames=2, foreground=True)
    assert both.shape == (6, feature_count(2, True)) == (6, feature_count(2) + 2)
    assert np.array_equal(both[:, :feature_count(2)], pixel_features(frames, grid=2, snippet_frames=2))
    alone = pixel_features(frames, grid=0, snippet_frames=2, foreground=True)
    assert alone.shape == (6, 2) and np.array_equal(alone, both[:, feature_count(2):])
    assert feature_count(0) == 0 and feature_count(3) == 22  # off, the counts are those of before
    with pytest.raises(ValueError, match="grid"):
        pixel_features(frames, grid=0, snippet_frames=2)
    embeddings = np.zeros((6, 1280), np.float32)
    assert head_input(embeddings, frames, grid=0, snippet_frames=2, foreground=True).shape == (6, 1282)


def test_the_background_colour_is_the_backgrounds_whatever_the_size_of_what_is_in_front():
    from ml.pixels import BACKGROUND_FEATURES

    colour = np.array([30, 120, 200], np.uint8)
    small, large = (np.tile(colour, (4, 64, 64, 1)) for _ in range(2))
    small[:, 8:56, 10:18] = 250   # a bar: 9% of the picture
    large[:, 8:56, 10:40] = 250   # a block: 35% of it
    means = [pixel_features(f, grid=1, snippet_frames=2)[:, -3:] for f in (small, large)]
    assert np.abs(means[0] - means[1]).max() > 0.15  # the mean colour follows the object's size
    for frames in (small, large):
        alone = pixel_features(frames, grid=0, snippet_frames=2, background=True)
        assert alone.shape == (4, BACKGROUND_FEATURES) and np.allclose(alone, colour / 255.0)
    # Its columns come last: after the grid's and the foreground's.
    every = pixel_features(small, grid=2, snippet_frames=2, foreground=True, background=True)
    assert every.shape == (4, feature_count(2, True, True)) == (4, feature_count(2) + 2 + 3)
    assert np.array_equal(every[:, :-3], pixel_features(small, grid=2, snippet_frames=2, foreground=True))
    assert np.allclose(every[:, -3:], colour / 255.0)
    assert head_input(np.zeros((4, 1280), np.float32), small, grid=0, snippet_frames=2, background=True).shape == (
        4, 1283)


def test_the_memo_tells_foreground_features_apart(tmp_path):
    from ml.data import TrailerSample
    from ml.frames import save_frames
    from ml.pixels import remembered_features, sample_head_inputs

    save_frames(moving_bar(2), tmp_path / "0.npy")
    sample = TrailerSample("t", (str(tmp_path / "0.npy"),), 5.0, (np.zeros((6, 1280), np.float32),))
    with remembered_features():
        plain = sample_head_inputs(sample, grid=3, snippet_frames=2)
        more = sample_head_inputs(sample, grid=3, snippet_frames=2, foreground=True)
        most = sample_head_inputs(sample, grid=3, snippet_frames=2, foreground=True, background=True)
    assert plain[0].shape == (6, 1280 + feature_count(3)) and more[0].shape == (6, 1280 + feature_count(3, True))
    assert most[0].shape == (6, 1280 + feature_count(3, True, True))


def test_configs_stored_before_the_foreground_option_load_without_it_and_a_model_with_it_trains(tmp_path):
    import torch

    from ml.config import PRESETS, LRCNConfig, TrainConfig
    from ml.data import TrailerSample
    from ml.frames import save_frames
    from ml.model import build_model
    from ml.pixels import pixel_options
    from ml.train import fit

    assert LRCNConfig().foreground is False
    saved = {k: v for k, v in PRESETS["default"].to_dict().items() if k not in ("foreground", "background", "drift",
                                                                                   "foreground_track")}
    old = LRCNConfig.from_dict(saved)  # a config stored before the options existed
    assert old.foreground is False and pixel_options(old)["foreground"] is False
    assert old.background is False and pixel_options(old)["background"] is False
    assert old.drift is False and pixel_options(old)["drift"] is False
    assert build_model(old).pixels == feature_count(old.pixel_grid)  # reads the columns it was trained on
    base = PRESETS["default"].replace(foreground=False, background=False, drift=False, frame_size=32,
                                      embedding_size=4, lstm_size=8)
    assert build_model(base).rnn.input_size == 2 * (4 + feature_count(base.pixel_grid))
    with pytest.raises(ValueError, match="foreground"):
        LRCNConfig(encoder="scratch", foreground=True)
    with pytest.raises(ValueError, match="background"):
        LRCNConfig(encoder="scratch", background=True)
    assert PRESETS["default"].background and PRESETS["single_frame"].background
    assert build_model(base.replace(background=True)).rnn.input_size == 2 * (4 + feature_count(base.pixel_grid) + 3)

    config = base.replace(foreground=True, pixel_grid=0)
    assert build_model(config).rnn.input_size == 2 * (4 + 2)
    samples = []
    for i in range(4):
        frames = moving_bar(1 + i % 2, frames=4, size=32)
        path = save_frames(frames, tmp_path / f"{i}.npy")
        samples.append(TrailerSample(f"t{i}", (str(path),), 2.0 + i, (np.random.default_rng(i).normal(
            size=(4, 1280)).astype(np.float32),)))
    from ml.embeddings import installed_spec

    torch.manual_seed(0)
    result = fit(samples, TrainConfig(epochs=1, batch_size=4, num_workers=0, frames_per_sample=4, device="cpu",
                                      restore_best=False), config, split=([s.trailer for s in samples], []),
                 embedding_spec=installed_spec("efficientnet_lite0", 32))
    assert np.isfinite(result.history[-1]["train_loss"])


def _bar_samples(tmp_path, count: int) -> list:
    """Trailers of a bar crossing at 1–3 pixels a frame, rated by its speed, each with one subclip."""
    from ml.data import TrailerSample
    from ml.frames import save_frames

    samples = []
    for i in range(count):
        step = 1 + i % 3
        path = save_frames(moving_bar(step, frames=4, size=32), tmp_path / f"{i}.npy")
        samples.append(TrailerSample(f"t{i}", (str(path),), 2.0 + 2 * step, (np.random.default_rng(i).normal(
            size=(4, 1280)).astype(np.float32),)))
    return samples


def _fit_head(samples, config):
    from ml.config import TrainConfig
    from ml.embeddings import installed_spec
    from ml.train import fit

    return fit(samples, TrainConfig(epochs=3, batch_size=4, num_workers=0, frames_per_sample=4, device="cpu",
                                    restore_best=False), config, split=([s.trailer for s in samples], []),
               embedding_spec=installed_spec("efficientnet_lite0", 32))


def test_the_head_reads_pixel_features_in_units_of_their_spread_over_the_training_trailers(tmp_path, monkeypatch):
    """The head learns each pixel feature's mean and sd from its training trailers: the same trailers with the
    foreground's offsets in units 100 times smaller give the same model, where raw offsets would weigh nothing."""
    import ml.pixels
    from ml.config import PRESETS
    from ml.crossval import Member, predict_samples
    from ml.pixels import pixel_options, sample_pixel_features

    config = PRESETS["default"].replace(foreground=True, background=False, drift=False, frame_size=32, embedding_size=4,
                                        lstm_size=8)
    samples = _bar_samples(tmp_path, 6)
    columns = np.concatenate([f for s in samples for f in sample_pixel_features(s, **pixel_options(config))])
    first = _fit_head(samples, config)
    predicted = [predict_samples([Member(first.model, first.normaliser)], samples, config, 4)]
    assert first.model.pixel_shift.numpy() == pytest.approx(columns.mean(axis=0), abs=1e-4)
    spread = columns.std(axis=0)
    assert first.model.pixel_scale.numpy() == pytest.approx(np.where(spread > 1e-6, spread, 1.0), rel=1e-4)

    monkeypatch.setattr(ml.pixels, "FOREGROUND_OFFSET_SCALE", ml.pixels.FOREGROUND_OFFSET_SCALE / 100)
    second = _fit_head(samples, config)
    x = -2  # the foreground's x and y come last; the bar moves along x only (y keeps a scale of 1)
    assert float(second.model.pixel_scale[x]) == pytest.approx(float(first.model.pixel_scale[x]) / 100, rel=1e-4)
    assert float(first.model.pixel_scale[-1]) == float(second.model.pixel_scale[-1]) == 1.0
    predicted.append(predict_samples([Member(second.model, second.normaliser)], samples, config, 4))
    assert [predicted[1][s.trailer] for s in samples] == pytest.approx([predicted[0][s.trailer] for s in samples],
                                                                       abs=1e-3)


def test_a_model_saved_before_the_pixel_scale_loads_with_its_features_as_they_were():
    import torch

    from ml.config import PRESETS
    from ml.model import build_model

    config = PRESETS["default"].replace(frame_size=32, embedding_size=4, lstm_size=8)
    torch.manual_seed(0)
    model = build_model(config).eval()
    old = {k: v for k, v in model.state_dict().items() if not k.startswith("pixel_")}
    model.scale_pixels(np.random.default_rng(0).normal(3.0, 2.0, size=(50, model.pixels)))
    model.load_state_dict(old)  # strict: the two missing buffers are filled in, nothing else is
    assert model.pixel_shift.abs().max() == 0 and (model.pixel_scale == 1).all()
    inputs = torch.randn(2, 4, 1280 + model.pixels)
    raw = torch.cat([model.project(inputs[..., :1280]), inputs[..., 1280:]], dim=-1)
    assert torch.allclose(model.head(inputs), model._temporal(raw, None, None))
    with pytest.raises(ValueError, match=f"shaped \\(N, {model.pixels}\\)"):
        model.scale_pixels(np.zeros((5, model.pixels + 1)))


def _crossing(path: list[tuple[int, int]], *, side: int = 64, snippet_frames: int = 2) -> np.ndarray:
    """A white 8 × 16 block on blue, its top-left corner at each (x, y) of ``path`` for ``snippet_frames``
    frames (the second one pixel further right), with a green speck darting about as clutter."""
    frames = np.empty((len(path) * snippet_frames, side, side, 3), np.uint8)
    frames[:] = (40, 120, 200)
    for i, (x, y) in enumerate(path):
        for j in range(snippet_frames):
            t = i * snippet_frames + j
            frames[t, y:y + 16, x + j:x + j + 8] = 250
            frames[t, (7 * t) % 56:(7 * t) % 56 + 4, (13 * t) % 56:(13 * t) % 56 + 4] = (20, 200, 20)
    return frames


def test_drift_is_how_far_and_which_way_the_foreground_goes_over_the_subclip():
    from ml.pixels import DRIFT_FEATURES, drift_features

    right = _crossing([(4 + 5 * i, 24) for i in range(8)])  # 35 pixels right over 8 snippets
    drift = drift_features(right, snippet_frames=2)
    assert drift.shape == (16, DRIFT_FEATURES) == (16, 2) and drift.dtype == np.float32
    assert (drift == drift[0]).all()  # one number per subclip, on every frame
    # The centre lags a little behind the block (persistence pulls it towards the path's middle), so a little
    # less than the 35 / 64 the block crossed; the speck hardly counts.
    assert 0.35 < drift[0, 0] < 35 / 64 + 0.02 and abs(drift[0, 1]) < 0.03, drift[0]
    left = drift_features(right[::-1].copy(), snippet_frames=2)
    assert left[0, 0] == pytest.approx(-drift[0, 0], abs=0.03)
    down = drift_features(_crossing([(28, 4 + 4 * i) for i in range(8)]), snippet_frames=2)
    assert down[0, 1] > 0.3 and abs(down[0, 0]) < 0.03, down[0]
    still = drift_features(_crossing([(28, 24)] * 8), snippet_frames=2)
    assert np.abs(still).max() < 0.02
    # Whatever the speed of the frames inside a snippet, the drift is over the snippets' places: the same path
    # sampled as single frames drifts as far.
    single = drift_features(_crossing([(4 + 5 * i, 24) for i in range(8)], snippet_frames=1), snippet_frames=1)
    assert single[0, 0] == pytest.approx(drift[0, 0], abs=0.03)


def test_drift_is_zero_without_a_foreground_to_follow():
    from ml.pixels import drift_features

    assert (drift_features(np.zeros((6, 16, 16, 3), np.uint8), snippet_frames=2) == 0).all()
    one = np.full((4, 32, 32, 3), 80, np.uint8)
    one[0:2, 8:20, 8:14] = 250  # a foreground in the first snippet only: no line through one place
    assert (drift_features(one, snippet_frames=2) == 0).all()
    assert not np.isnan(drift_features(one[:1], snippet_frames=2)).any()


def test_drift_columns_come_last_and_the_single_frame_model_never_reads_them():
    from ml.config import PRESETS, ConfigError, LRCNConfig
    from ml.model import build_model
    from ml.pixels import drift_features

    frames = _crossing([(4 + 5 * i, 24) for i in range(4)])
    every = pixel_features(frames, grid=2, snippet_frames=2, foreground=True, background=True, drift=True)
    assert every.shape == (8, feature_count(2, True, True, True)) == (8, feature_count(2) + 2 + 3 + 2)
    assert np.array_equal(every[:, :-2], pixel_features(frames, grid=2, snippet_frames=2, foreground=True,
                                                        background=True))
    assert np.array_equal(every[:, -2:], drift_features(frames, snippet_frames=2))
    alone = pixel_features(frames, grid=0, snippet_frames=2, drift=True)
    assert np.array_equal(alone, every[:, -2:])
    assert head_input(np.zeros((8, 1280), np.float32), frames, grid=0, snippet_frames=2, drift=True).shape == (8, 1282)

    assert PRESETS["default"].drift and not PRESETS["single_frame"].drift and not LRCNConfig().drift
    assert PRESETS["default"].single_frame() == PRESETS["single_frame"]
    config = PRESETS["default"].replace(frame_size=32, embedding_size=4, lstm_size=8)
    assert build_model(config).pixels == feature_count(config.pixel_grid, True, True, True)
    assert build_model(config.single_frame()).pixels == feature_count(config.pixel_grid, True, True)
    # A mean over frames with the subclip's drift on each would be no single-frame model: refused, as deltas are.
    with pytest.raises(ConfigError, match="drift.*temporal is 'lstm'"):
        LRCNConfig(encoder="efficientnet_lite0", frame_size=112, temporal="mean", deltas=False, drift=True)
    with pytest.raises(ValueError, match="drift"):
        LRCNConfig(encoder="scratch", drift=True)


def test_the_memo_tells_drift_features_apart(tmp_path):
    from ml.data import TrailerSample
    from ml.frames import save_frames
    from ml.pixels import remembered_features, sample_head_inputs

    save_frames(_crossing([(4 + 5 * i, 24) for i in range(3)]), tmp_path / "0.npy")
    sample = TrailerSample("t", (str(tmp_path / "0.npy"),), 5.0, (np.zeros((6, 1280), np.float32),))
    with remembered_features():
        without = sample_head_inputs(sample, grid=0, snippet_frames=2, foreground=True)
        with_drift = sample_head_inputs(sample, grid=0, snippet_frames=2, foreground=True, drift=True)
    assert without[0].shape == (6, 1282) and with_drift[0].shape == (6, 1284)
    assert np.array_equal(with_drift[0][:, :1282], without[0])


def _large_slow_block(side: int = 64) -> np.ndarray:
    """8 snippets of 2 frames: a white 24 × 24 block on blue moving 3 pixels right per snippet (21 in all), a red
    6 × 6 mark that stays in a corner, and a green speck darting about above them."""
    frames = np.empty((16, side, side, 3), np.uint8)
    frames[:] = (40, 120, 200)
    for t in range(16):
        x = 8 + 3 * (t // 2)
        frames[t, 20:44, x:x + 24] = 250
        frames[t, 54:60, 54:60] = (220, 30, 30)
        frames[t, (3 * t) % 10:(3 * t) % 10 + 4, (13 * t) % 56:(13 * t) % 56 + 4] = (20, 200, 20)
    return frames


def test_the_object_track_follows_the_whole_object_where_the_pixels_track_shrinks_its_path():
    from ml.pixels import drift_features, foreground_centres

    frames = _large_slow_block()
    crossed = 21 / 64  # how far the block went, in fractions of the picture
    pixels = drift_features(frames, snippet_frames=2, track="pixels")[0]
    whole = drift_features(frames, snippet_frames=2, track="object")[0]
    # The part of the block that never moves (and the mark that stays) weigh most in the pixels' centre: the
    # path comes out at 0.13 of the picture, not 0.33. Model files saved before the option read this.
    assert pixels == pytest.approx([0.1315, 0.0], abs=1e-3), pixels
    assert np.array_equal(pixel_features(frames, grid=2, snippet_frames=2, foreground=True, drift=True),
                          pixel_features(frames, grid=2, snippet_frames=2, foreground=True, drift=True,
                                         track="pixels"))
    assert whole[0] == pytest.approx(crossed, abs=0.01) and abs(whole[1]) < 0.01, whole
    centres, seen = foreground_centres(frames, "object")
    assert seen.all()
    # The block's own centre in every frame: neither the mark nor the speck pulls it.
    expected_x = (8 + 3 * (np.arange(16) // 2) + 12) / 64
    assert centres[:, 0] == pytest.approx(expected_x, abs=1e-6) and centres[:, 1] == pytest.approx(32 / 64)
    assert np.array_equal(pixel_features(frames, grid=0, snippet_frames=2, drift=True, track="object")[:, -2:],
                          drift_features(frames, snippet_frames=2, track="object"))
    # Whichever track, nothing to follow is no centre and no drift, never NaN.
    for track in ("pixels", "object"):
        empty = np.zeros((4, 16, 16, 3), np.uint8)
        assert not foreground_centres(empty, track)[1].any()
        assert (drift_features(empty, snippet_frames=2, track=track) == 0).all()
    with pytest.raises(ValueError, match="track must be one of pixels, object; got 'blob'"):
        foreground_centres(frames, "blob")


def test_the_track_is_a_model_option_that_old_model_files_load_without():
    from ml.config import PRESETS, LRCNConfig
    from ml.pixels import pixel_options

    assert LRCNConfig().foreground_track == "pixels"
    saved = {k: v for k, v in PRESETS["default"].to_dict().items() if k != "foreground_track"}
    old = LRCNConfig.from_dict(saved)  # a model file saved before the option: it scores as it did
    assert old.foreground_track == "pixels" and pixel_options(old)["track"] == "pixels"
    assert pixel_options(PRESETS["default"])["track"] == PRESETS["default"].foreground_track
    assert PRESETS["default"].foreground_track == PRESETS["single_frame"].foreground_track == "object"
    with pytest.raises(ValueError, match="foreground_track"):
        LRCNConfig.from_dict({**saved, "foreground_track": "blob"})


def test_the_memo_tells_the_tracks_apart(tmp_path):
    from ml.data import TrailerSample
    from ml.frames import save_frames
    from ml.pixels import remembered_features, sample_head_inputs

    save_frames(_large_slow_block(), tmp_path / "0.npy")
    sample = TrailerSample("t", (str(tmp_path / "0.npy"),), 5.0, (np.zeros((16, 1280), np.float32),))
    with remembered_features():
        pixels = sample_head_inputs(sample, grid=0, snippet_frames=2, drift=True, track="pixels")
        whole = sample_head_inputs(sample, grid=0, snippet_frames=2, drift=True, track="object")
    assert whole[0][0, -2] > pixels[0][0, -2] + 0.05
