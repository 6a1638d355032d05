"""Training: the split by trailer, per-epoch metrics, callbacks and cancelling, checkpoints and resuming."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.config import TRAIN_PRESETS, LRCNConfig, TrainConfig
from ml.data import Split, prepare_frames, resize_frames, split_by_trailer
from ml.frames import save_frames
from ml.metrics import regression_metrics, spearman
from ml.train import (
    StopTraining,
    TrainingDiverged,
    fit,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
)

TINY = LRCNConfig(frame_size=16, channels1=4, channels2=6, embedding_size=6, lstm_size=8, pool_size=2)
FAST = TrainConfig(epochs=2, batch_size=4, lr=1e-2, num_workers=0, frames_per_sample=6, val_fraction=0.25)


@pytest.fixture
def trailers(tmp_path):
    """12 trailers of 1–3 subclips (4–8 frames of 16×16) whose brightness follows the rating."""
    rng = np.random.default_rng(0)
    samples = []
    for i in range(12):
        rating = float(1 + i % 10)
        paths = []
        for j in range(1 + i % 3):
            noise = rng.integers(0, 60, (4 + (i + j) % 5, 16, 16, 3))
            paths.append(str(save_frames((noise + rating * 18).astype(np.uint8), tmp_path / f"t{i}" / f"{j}.npy")))
        samples.append((f"trailer-{i}", paths, rating))
    return samples


def test_split_is_by_trailer_deterministic_and_order_free():
    keys = [f"t{i}" for i in range(20)]
    split = split_by_trailer(keys, 0.25, seed=3)
    assert len(split.val) == 5 and not set(split.train) & set(split.val)
    assert set(split.train) | set(split.val) == set(keys)
    assert split_by_trailer(reversed(keys), 0.25, seed=3) == split
    assert split_by_trailer(keys, 0.25, seed=4) != split
    assert split_by_trailer(["only"], 0.25, seed=0) == Split(("only",), ())


def test_a_split_keeps_each_group_of_near_duplicates_on_one_side():
    """The inner split that chooses a fold's epoch put a trailer on one side and its re-encoded copy on the
    other: the epoch was chosen on footage it trained on."""
    keys = [f"t{i}" for i in range(20)]
    groups = [["t0", "t1", "t2"], ["t5", "t6"], ["t9", "t19"], ["t11", "unknown"]]
    for seed in range(30):
        split = split_by_trailer(keys, 0.25, seed=seed, groups=groups)
        assert set(split.train) | set(split.val) == set(keys) and not set(split.train) & set(split.val)
        for group in groups[:3]:
            assert set(group) <= set(split.train) or set(group) <= set(split.val), (seed, group)
        assert len(split.val) == 5 and split.train  # a quarter: groups that would overshoot it train
        assert split_by_trailer(reversed(keys), 0.25, seed=seed, groups=groups) == split
    # Two trailers, one group: the group trains (nothing would be left to train on).
    assert split_by_trailer(["a", "b"], 0.5, seed=0, groups=[["a", "b"]]) == Split(("a", "b"), ())
    # A group of nine of ten: it trains, and the one left is held out (it held out nine, training on one).
    assert split_by_trailer(range(10), 0.2, seed=1, groups=[set(range(9))]).val == (9,)
    # Only groups larger than the held-out side: the smallest of them is held out.
    assert split_by_trailer(range(10), 0.2, seed=1, groups=[set(range(6)), set(range(6, 10))]).val == (6, 7, 8, 9)


def test_fit_never_puts_subclips_of_one_trailer_on_both_sides(trailers):
    result = fit(trailers, FAST.replace(epochs=1), TINY)
    assert not set(result.split.train) & set(result.split.val)
    assert len(result.split.val) == 3


def test_fit_reports_every_metric_per_epoch_and_tells_the_callback(trailers):
    seen = []
    result = fit(trailers, FAST, TINY, callback=seen.append)
    assert [m["epoch"] for m in result.history] == [1, 2]
    for metrics in result.history:
        for key in ("train_loss", "val_loss", "val_mae", "val_rmse", "val_spearman", "baseline_mae", "baseline_rmse"):
            assert isinstance(metrics[key], float), key
    json.dumps(result.metrics())  # storable as is
    steps = [p for p in seen if p.kind == "step"]
    epochs = [p for p in seen if p.kind == "epoch"]
    train_subclips = sum(len(paths) for key, paths, _ in trailers if key in result.split.train)
    assert len(steps) == 2 * -(-train_subclips // FAST.batch_size)
    assert steps[0].epoch == 1 and steps[0].step == 1 and steps[0].steps == steps[-1].step and steps[0].epochs == 2
    assert [p.metrics["val_mae"] for p in epochs] == [m["val_mae"] for m in result.history]


def test_targets_are_standardised_inside_and_ratings_outside(trailers):
    result = fit(trailers, FAST.replace(epochs=1), TINY)
    train_ratings = [r for key, paths, r in trailers if key in result.split.train for _ in paths]
    assert result.normaliser.mean == pytest.approx(np.mean(train_ratings))
    assert result.normaliser.std == pytest.approx(np.std(train_ratings))
    val_ratings = [r for key, _, r in trailers if key in result.split.val]
    assert result.history[0]["baseline_mae"] == pytest.approx(np.mean(np.abs(np.subtract(val_ratings, np.mean(train_ratings)))))


@pytest.mark.parametrize("stop", ["return", "raise"])
def test_a_callback_can_stop_training_between_steps(trailers, stop):
    calls = []

    def callback(progress):
        calls.append(progress)
        if progress.kind == "step" and progress.step == 2:
            if stop == "raise":
                raise StopTraining
            return True
        return None

    result = fit(trailers, FAST.replace(epochs=3), TINY, callback=callback)
    assert result.stop_reason == "cancelled"
    assert len(calls) == 2 and result.history == []


def test_a_given_split_is_used_and_a_bad_one_refused(trailers):
    keys = [key for key, _, _ in trailers]
    result = fit(trailers, FAST.replace(epochs=1), TINY, split=(keys[:9], keys[9:]))
    assert result.split == Split(tuple(keys[:9]), tuple(keys[9:]))
    with pytest.raises(ValueError, match="both sides"):
        fit(trailers, FAST, TINY, split=(keys[:9], keys[8:]))
    with pytest.raises(ValueError, match="not in the samples"):
        fit(trailers, FAST, TINY, split=(keys[:9] + ["ghost"], keys[9:]))


def test_optimisers_losses_clipping_and_early_stopping(trailers):
    for optimizer, loss in [("rmsprop", "mae"), ("sgd", "smooth_mae")]:
        result = fit(trailers, FAST.replace(epochs=1, optimizer=optimizer, loss=loss, grad_clip=1.0), TINY)
        assert np.isfinite(result.history[0]["train_loss"])
    # Random labels and a large step size: validation loss stops improving quickly.
    rng = np.random.default_rng(1)
    noisy = [(key, paths, float(rng.uniform(1, 10))) for key, paths, _ in trailers]
    result = fit(noisy, FAST.replace(epochs=30, lr=0.05, early_stopping_patience=1), TINY)
    assert result.stop_reason == "early_stopping" and len(result.history) < 30
    best = min(result.history, key=lambda m: m["val_loss"])
    assert result.best_epoch == best["epoch"] and result.best_metrics == best


def test_two_epochs_resumed_for_two_more_equal_four_straight(trailers, tmp_path):
    # Workers on, to show that worker start-up does not disturb the random streams.
    config = FAST.replace(epochs=4, num_workers=2, restore_best=False)
    straight = fit(trailers, config, TINY)
    checkpoint = tmp_path / "run.ckpt"
    fit(trailers, config.replace(epochs=2), TINY, checkpoint_path=checkpoint)
    seen = []
    resumed = fit(trailers, config, TINY, resume_from=checkpoint, callback=seen.append)
    # The callback hears of the epochs before the resume too: a log can hold every epoch once.
    assert [[m["epoch"] for m in p.history] for p in seen if p.kind == "epoch"] == [[1, 2, 3], [1, 2, 3, 4]]
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert resumed.history == [{**m, "seconds": r["seconds"]} for m, r in zip(straight.history, resumed.history, strict=True)]


def test_checkpoints_at_most_as_often_as_asked_and_after_the_last_epoch_whichever_stops_the_fit(
        trailers, tmp_path, monkeypatch):
    import ml.train

    written, real = [], ml.train.save_checkpoint
    monkeypatch.setattr(ml.train, "save_checkpoint", lambda path, state: written.append(state["epoch"]) or real(
        path, state))
    seen = []
    config = FAST.replace(epochs=6, restore_best=False)
    fit(trailers, config, TINY, checkpoint_path=tmp_path / "a.ckpt", checkpoint_seconds=3600, callback=seen.append)
    assert written == [1, 6]  # the first epoch's, then none for an hour, then the last
    assert [p.last for p in seen if p.kind == "epoch"] == [False] * 5 + [True]
    assert [p.saved for p in seen if p.kind == "epoch"] == [True] + [False] * 4 + [True]  # in step with the files
    written.clear()
    fit(trailers, config, TINY, checkpoint_path=tmp_path / "b.ckpt")  # by default: every epoch, as before
    assert written == [1, 2, 3, 4, 5, 6]
    written.clear()
    seen.clear()
    stopped = fit(trailers, config.replace(epochs=50, early_stopping_patience=1, lr=0.5), TINY,
                  checkpoint_path=tmp_path / "c.ckpt", checkpoint_seconds=3600, callback=seen.append)
    epochs = [p for p in seen if p.kind == "epoch"]
    assert stopped.stop_reason == "early_stopping" and epochs[-1].last and not any(p.last for p in epochs[:-1])
    assert written == [1, epochs[-1].epoch]


def test_checkpoint_is_a_plain_dict_that_loads_with_weights_only(trailers, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(trailers, FAST, TINY, checkpoint_path=checkpoint)
    data = torch.load(checkpoint, weights_only=True)
    assert data["epoch"] == 2 and len(data["history"]) == 2
    assert LRCNConfig.from_dict(data["model_config"]) == TINY
    assert TrainConfig.from_dict(data["train_config"]) == FAST
    assert set(data["normaliser"]) == {"mean", "std"} and set(data["rng"]) == {"torch", "cuda", "shuffle"}
    assert "optimizer_state" in data and "model_state" in data
    assert not list(tmp_path.glob(".tmp-*"))  # written atomically, nothing left behind
    assert load_checkpoint(checkpoint)["split"] == data["split"]


def _with_old_seed_key(config: dict) -> dict:
    """A training config as runs, checkpoints and model files saved it before "seed" became "random_seed"."""
    old = dict(config)
    old["seed"] = old.pop("random_seed")
    return old


def test_a_config_saved_with_the_old_seed_key_loads_with_its_random_seed():
    config = FAST.replace(random_seed=7)
    assert TrainConfig.from_dict(_with_old_seed_key(config.to_dict())) == config
    assert TrainConfig.from_dict({"seed": 3}).random_seed == 3
    assert "seed" not in config.to_dict() and config.to_dict()["random_seed"] == 7  # saved under the new name


def test_one_model_with_nothing_held_out_is_refused_but_a_saved_one_loads():
    config, refusals = TrainConfig.build({**FAST.to_dict(), "folds": 1, "val_fraction": 0.0})
    assert config is None and [r.field for r in refusals] == ["val_fraction"]
    assert refusals[0].sentence.startswith("Val fraction must be above 0 with one fold")
    assert TrainConfig.build({**FAST.to_dict(), "folds": 5, "val_fraction": 0.0})[0] is not None  # folds measure it
    assert TrainConfig.saved({**FAST.to_dict(), "folds": 1, "val_fraction": 0.0}).val_fraction == 0.0  # ran before


def test_a_refit_needs_fixed_epochs_and_the_default_preset_makes_one():
    config, refusals = TrainConfig.build({**FAST.to_dict(), "folds": 5, "refit": True, "restore_best": True})
    assert config is None and [r.field for r in refusals] == ["refit"]
    assert "restore best is off" in refusals[0].sentence and "none is left to choose its epoch on" in refusals[0].sentence
    _, refusals = TrainConfig.build({**FAST.to_dict(), "folds": 5, "refit": True, "restore_best": False,
                                     "early_stopping_patience": 3})
    assert [r.field for r in refusals] == ["refit"]
    assert TrainConfig.build({**FAST.to_dict(), "folds": 5, "refit": True, "restore_best": False})[0].refit
    assert TrainConfig.build({**FAST.to_dict(), "folds": 1, "refit": True, "restore_best": True})[0] is not None
    assert TRAIN_PRESETS["default"].refit and not TRAIN_PRESETS["scratch"].refit and not TRAIN_PRESETS["seed"].refit
    assert TrainConfig.from_dict({"epochs": 3}).refit is False  # runs saved before it made no refit


def test_a_checkpoint_saved_with_the_old_seed_key_resumes(trailers, tmp_path):
    config = FAST.replace(epochs=4, restore_best=False, random_seed=5)
    straight = fit(trailers, config, TINY)
    checkpoint = tmp_path / "run.ckpt"
    fit(trailers, config.replace(epochs=2), TINY, checkpoint_path=checkpoint)
    data = torch.load(checkpoint, weights_only=True)
    torch.save({**data, "train_config": _with_old_seed_key(data["train_config"])}, checkpoint)
    resumed = fit(trailers, config, TINY, resume_from=checkpoint)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


@pytest.mark.parametrize("where", ["under a file", "onto a folder"])
def test_a_checkpoint_that_cannot_be_written_names_its_path_not_a_temporary_file(tmp_path, where):
    (tmp_path / "file").write_text("")
    (tmp_path / "folder").mkdir()
    path = tmp_path / "file" / "run.ckpt" if where == "under a file" else tmp_path / "folder"
    with pytest.raises(OSError) as caught:
        save_checkpoint(path, {"epoch": 1})
    assert caught.value.filename == str(path)
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_file_that_is_not_a_checkpoint_is_refused_in_one_line(trailers, tmp_path):
    markup = tmp_path / "markup.csv"
    markup.write_text("Title,Score\nAlien,8\n")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    for path in (markup, other):
        with pytest.raises(ValueError, match=f"^{re.escape(str(path))} is not a Reelscore checkpoint[^\n]*$"):
            fit(trailers, FAST, TINY, resume_from=path)


@pytest.mark.parametrize("damage", ["empty", "truncated", "not frames"])
def test_a_damaged_frame_file_is_named_before_training_starts(trailers, damage):
    path = trailers[5][1][0]
    if damage == "not frames":
        np.save(path, np.zeros((4, 16, 16), np.uint8))
    else:
        Path(path).write_bytes(b"" if damage == "empty" else Path(path).read_bytes()[:150])
    seen = []
    with pytest.raises(ValueError, match=re.escape(path)):
        fit(trailers, FAST.replace(num_workers=2), TINY, callback=seen.append)
    assert seen == []


def test_diverging_training_says_where_and_names_the_last_checkpoint(trailers, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    # One step per epoch: the first is computed from sane weights, the huge step makes the next loss infinite.
    config = FAST.replace(epochs=3, lr=1e30, optimizer="sgd", batch_size=64)
    with pytest.raises(TrainingDiverged) as caught:
        fit(trailers, config, TINY, checkpoint_path=checkpoint)
    assert isinstance(caught.value, FloatingPointError)
    assert (caught.value.epoch, caught.value.checkpoint, caught.value.checkpoint_epoch) == (2, checkpoint, 1)
    assert str(caught.value).startswith("training diverged at epoch 2, step 1")
    assert str(caught.value).endswith(f"the last checkpoint, after epoch 1, is {checkpoint}")


def test_a_device_name_torch_does_not_know_is_refused_plainly():
    with pytest.raises(ValueError, match="^device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'$"):
        resolve_device("tpu")


def test_resuming_with_other_settings_is_refused(trailers, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(trailers, FAST.replace(epochs=1), TINY, checkpoint_path=checkpoint)
    with pytest.raises(ValueError, match="lr"):
        fit(trailers, FAST.replace(lr=0.5), TINY, resume_from=checkpoint)
    with pytest.raises(ValueError, match="model config") as refused:
        fit(trailers, FAST, TINY.replace(lstm_size=9), resume_from=checkpoint)
    assert f"(lstm_size {TINY.lstm_size} there, 9 now): give the same model options to resume it" in str(refused.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("batch_size", "10"),
        ("lr", -1.0),
        ("optimizer", "adamw"),
        ("loss", "mse2"),
        ("grad_clip", 0),
        ("early_stopping_patience", 0),
        ("val_fraction", 1.0),
        ("device", "tpu"),
        ("num_workers", -1),
        ("frames_per_sample", 0),
        ("mixed_precision", 1),
        ("random_seed", 10**20),  # past what the random generators take: refused, not a crash in the worker
        ("batch_size", 10**20),
        ("epochs", 10**9),
    ],
)
def test_train_config_says_which_field_is_wrong(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field} must be"):
        TrainConfig(**{field: value})


def test_train_config_round_trips_through_json():
    config = TrainConfig(optimizer="sgd", loss="smooth_mae", grad_clip=2, early_stopping_patience=3, device="cpu")
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert isinstance(config.grad_clip, float)


def test_frames_are_sampled_evenly_resized_and_padded():
    frames = np.arange(30 * 24 * 32 * 3, dtype=np.int64).reshape(30, 24, 32, 3).astype(np.uint8)
    x, length = prepare_frames(frames, 8, 16)
    assert x.shape == (8, 16, 16, 3) and x.dtype == torch.uint8 and length == 8
    short, length = prepare_frames(frames[:3], 8, 24)
    assert length == 3 and short.shape == (8, 24, 24, 3) and not short[3:].any()
    assert torch.equal(short[:3], torch.from_numpy(frames[:3, :, 4:28]))  # centre crop, no resize needed
    assert resize_frames(frames[:2, :, :24], 24).shape == (2, 24, 24, 3)


def test_metrics_match_their_definitions():
    truth, guess = [1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0]
    metrics = regression_metrics(truth, guess, baseline=2.5)
    assert metrics["mae"] == pytest.approx(0.625)
    assert metrics["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 1 + 1) / 4))
    assert metrics["baseline_mae"] == pytest.approx(1.0)
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 3, 3]) is None
    assert spearman([1, 2], [5, 9]) is None  # two pairs always rank alike or opposite: no figure, never a perfect 1


def test_learns_to_beat_the_mean_baseline_on_held_out_synthetic_trailers(tmp_path):
    from ml.config import SamplingConfig
    from ml.synth import generate_dataset
    from ml.video import sample_trailer

    trailers = generate_dataset(tmp_path / "videos", 48, seed=5, duration=1.5, fps=12, width=48, height=32,
                                suffixes=(".mp4",))
    sampling = SamplingConfig(n_subclips=1, subclip_duration=1.5, offset=0.0, frames_per_subclip=6, size=32)
    samples = []
    for trailer in trailers:
        _, subclips = sample_trailer(trailer.path, sampling)
        paths = [str(save_frames(s.frames, tmp_path / trailer.title / f"{s.plan.index}.npy")) for s in subclips]
        samples.append((trailer.title, paths, trailer.rating))
    model = LRCNConfig(frame_size=32, channels1=8, channels2=12, embedding_size=12, lstm_size=16, pool_size=4)
    config = TrainConfig(epochs=20, batch_size=8, lr=3e-3, num_workers=0, frames_per_sample=6, val_fraction=0.25)
    result = fit(samples, config, model)
    best = result.best_metrics
    assert len(result.split.val) == 12
    assert best["val_mae"] < 0.8 * best["baseline_mae"], result.history
