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
