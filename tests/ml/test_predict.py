"""Model files and scoring: one file round-trips the model and everything needed to apply it."""

import numpy as np
import pytest
import torch

from ml.config import LRCNConfig, TrainConfig
from ml.frames import save_frames
from ml.predict import load_model, save_model_file, score_frame_files, score_subclips
from ml.train import fit

TINY = LRCNConfig(frame_size=16, channels1=4, channels2=6, embedding_size=6, lstm_size=8, pool_size=2)
SAMPLING = {"n_subclips": 3, "subclip_duration": 30.0, "offset": 10.0, "size": 16}


@pytest.fixture
def trained(tmp_path):
    rng = np.random.default_rng(0)
    samples = []
    for i in range(8):
        paths = [str(save_frames(rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8), tmp_path / f"t{i}" / f"{j}.npy"))
                 for j in range(2)]
        samples.append((i, paths, float(i + 1)))
    config = TrainConfig(epochs=2, batch_size=4, num_workers=0, frames_per_sample=6)
    return fit(samples, config, TINY), samples


def test_model_file_round_trip_gives_the_same_scores(trained, tmp_path):
    result, samples = trained
    path = save_model_file(tmp_path / "model.pt", result, sampling=SAMPLING)
    data = torch.load(path, weights_only=True)  # a plain dict: nothing arbitrary is unpickled
    assert data["format"] == "reelscore.model" and data["sampling"] == SAMPLING
    # What made it, for a run that cannot be repeated elsewhere: Python and the libraries that shape what it learns.
    import platform

    assert data["made_with"]["python"] == platform.python_version()
    assert data["made_with"]["torch"].startswith(torch.__version__.split("+")[0])
    assert {"numpy", "av"} <= set(data["made_with"])

    loaded = load_model(path)
    assert loaded.model_config == TINY
    assert loaded.train_config == result.train_config and loaded.frames_per_sample == 6
    assert loaded.normaliser == result.normaliser and loaded.sampling == SAMPLING
    assert loaded.metrics["best_epoch"] == result.best_epoch and len(loaded.history) == 2
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name])

    paths = samples[0][1]
    scores = score_frame_files(loaded, paths)
    frames = torch.stack([torch.from_numpy(np.load(p)) for p in paths])
    lengths = torch.tensor([5, 5])
    padded = torch.cat([frames, frames.new_zeros(2, 1, 16, 16, 3)], dim=1)
    with torch.no_grad():
        expected = result.normaliser.unscale(result.model(padded, lengths).double().numpy())
    np.testing.assert_allclose(scores.per_subclip, expected, rtol=1e-5)
    assert scores.mean == pytest.approx(float(np.mean(expected)))
    assert scores.spread == pytest.approx(float(np.std(expected)))


def test_scores_frames_of_another_size_by_resizing_them(trained, tmp_path):
    result, _ = trained
    loaded = load_model(save_model_file(tmp_path / "model.pt", result))
    rng = np.random.default_rng(1)
    subclips = [rng.integers(0, 256, (n, 48, 64, 3), dtype=np.uint8) for n in (3, 9, 1)]
    scores = score_subclips(loaded, subclips)
    assert len(scores.per_subclip) == 3 and all(np.isfinite(scores.per_subclip))
    one = score_subclips(loaded, subclips[:1])
    assert one.spread == 0.0 and one.mean == pytest.approx(scores.per_subclip[0], rel=1e-5)


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.pt is not a Reelscore model file: not a file Reelscore saved"):
        load_model(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a Reelscore model file"):
        load_model(other)


def test_a_model_file_of_the_first_format_still_loads(trained, tmp_path):
    result, samples = trained
    current = torch.load(save_model_file(tmp_path / "model.pt", result), weights_only=True)
    member = current.pop("members")[0]
    old = {**current, "version": 1, "model_state": member["model_state"], "normaliser": member["normaliser"]}
    torch.save(old, tmp_path / "old.pt")  # one model, no ensemble, as files were before cross-validation
    loaded = load_model(tmp_path / "old.pt")
    assert len(loaded.members) == 1
    scores = score_frame_files(loaded, samples[0][1])
    assert scores.uncertainty == 0.0  # a single model has no spread of members
    assert scores.mean == pytest.approx(score_frame_files(load_model(tmp_path / "model.pt"), samples[0][1]).mean)


def test_a_model_file_saved_with_the_old_seed_key_loads(trained, tmp_path):
    result, samples = trained
    data = torch.load(save_model_file(tmp_path / "model.pt", result), weights_only=True)
    train_config = dict(data["train_config"])
    train_config["seed"] = train_config.pop("random_seed")  # as files were before "seed" became "random_seed"
    torch.save({**data, "train_config": train_config}, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt")
    assert loaded.train_config == result.train_config and loaded.train_config.random_seed == 0
    assert score_frame_files(loaded, samples[0][1]).mean == pytest.approx(
        score_frame_files(load_model(tmp_path / "model.pt"), samples[0][1]).mean)


def test_a_model_file_saved_before_the_upper_bounds_loads_and_scores_as_it_did(trained, tmp_path):
    """Upper bounds on whole numbers limit new input (stop 33); files saved before, with more, still serve."""
    result, samples = trained
    data = torch.load(save_model_file(tmp_path / "model.pt", result), weights_only=True)
    train_config = {**data["train_config"], "batch_size": 8192, "epochs": 20_000, "random_seed": 2**40}
    torch.save({**data, "train_config": train_config}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="epochs must be at most 10000"):
        TrainConfig.from_dict(train_config)  # as new input it is refused
    loaded = load_model(tmp_path / "old.pt")
    assert (loaded.train_config.batch_size, loaded.train_config.epochs) == (8192, 20_000)
    assert loaded.train_config.replace(num_workers=0).random_seed == 2**40  # a copy keeps the leave
    assert score_frame_files(loaded, samples[0][1]).mean == pytest.approx(
        score_frame_files(load_model(tmp_path / "model.pt"), samples[0][1]).mean)
    with pytest.raises(ValueError, match="dropout"):  # the other rules still hold
        TrainConfig.saved(train_config) and LRCNConfig.saved({**data["model_config"], "dropout": 1.0})


def test_a_pretrained_head_refuses_embeddings_made_another_way_naming_both(tmp_path):
    from ml.config import PRESETS
    from ml.data import Normaliser
    from ml.embeddings import EmbeddingSpec, installed_spec
    from ml.model import build_model

    config = PRESETS["default"].replace(frame_size=32)
    installed = installed_spec("efficientnet_lite0", 32)
    model = build_model(config)
    path = save_model_file(tmp_path / "head.pt", model=model, normaliser=Normaliser(5.0, 2.0), embedding=installed)
    loaded = load_model(path)
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    frame_file = save_frames(frames, tmp_path / "0.npy")
    other = EmbeddingSpec("efficientnet_lite0", installed.weights_sha256, 64)
    with pytest.raises(ValueError, match=r"made with efficientnet_lite0 at 64×64 .* takes efficientnet_lite0 at 32×32"):
        score_frame_files(loaded, [frame_file], embeddings=[frame_file], embedding_spec=other)

    # A file whose head was trained on another encoder's weights is refused when it is loaded.
    elsewhere = EmbeddingSpec("efficientnet_lite0", "0" * 64, 32)
    path = save_model_file(tmp_path / "elsewhere.pt", model=model, normaliser=Normaliser(5.0, 2.0), embedding=elsewhere)
    with pytest.raises(ValueError, match=r"trained on were made with efficientnet_lite0 at 32×32 \(weights 00000000"):
        load_model(path)
