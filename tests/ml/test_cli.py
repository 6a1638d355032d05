"""``python -m ml`` end to end on tiny synthetic trailers: preprocess, train, resume, predict, and its errors."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ml.cli import main
from ml.data import SAMPLING_FILE
from ml.frames import load_frames, save_frames
from ml.synth import generate_dataset, generate_trailer, write_markup
from ml.video import SamplingConfig

ROOT = Path(__file__).resolve().parents[2]


def run_ml(*args):
    return subprocess.run([sys.executable, "-m", "ml", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    trailers = generate_dataset(folder, 6, seed=1, duration=2.0, width=80, height=64, suffixes=(".mp4", ".mkv"))
    (folder / "broken.mp4").write_bytes(b"this is not a video" * 50)
    markup = write_markup(folder.parent / "markup.csv", trailers)
    return folder, markup, trailers


SAMPLING = ["--subclips", "2", "--subclip-duration", "1", "--offset", "0", "--frames-per-subclip", "4", "--size", "64"]


def test_preprocess_train_resume_predict(videos, tmp_path):
    folder, markup, trailers = videos
    data = tmp_path / "data"
    done = run_ml("preprocess", folder, "--out", data, *SAMPLING)
    assert done.returncode == 0, done.stderr
    assert "skipped broken.mp4" in done.stderr
    assert "prepared 6 of 7 videos (12 subclips)" in done.stdout
    assert sorted(p.name for p in (data / trailers[0].title).iterdir()) == ["0.npy", "1.npy", "trailer.json"]
    assert json.loads((data / "sampling.json").read_text())["frames_per_subclip"] == 4

    model = tmp_path / "model.pt"
    log = tmp_path / "log.csv"
    common = ["--markup", markup, "--out", model, "--frames-per-sample", "4", "--workers", "0", "--val-fraction",
              "0.34", "--batch-size", "4", "--log", log]
    trained = run_ml("train", data, *common, "--epochs", "2")
    assert trained.returncode == 0, trained.stderr
    assert "epoch 1/2" in trained.stdout and "epoch 2/2" in trained.stdout
    assert "baseline mae" in trained.stdout and f"saved {model}" in trained.stdout
    assert model.is_file() and Path(f"{model}.ckpt").is_file()
    with log.open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]

    resumed = run_ml("train", data, *common, "--epochs", "3", "--resume", f"{model}.ckpt")
    assert resumed.returncode == 0, resumed.stderr
    assert "epoch 3/3" in resumed.stdout and "epoch 2/" not in resumed.stdout
    with log.open() as handle:  # the epochs before the resume are kept, each once
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2", "3"]

    predictions = tmp_path / "predictions.csv"
    scored = run_ml("predict", model, data, "--out", predictions)
    assert scored.returncode == 0, scored.stderr
    rows = list(csv.DictReader(predictions.open()))
    assert sorted(r["title"] for r in rows) == sorted(t.title for t in trailers)
    assert all(1 <= float(r["predicted_score"]) <= 10 and float(r["spread"]) >= 0 for r in rows)
    assert {r["subclips"] for r in rows} == {"2"}

    # Straight from the videos, sampled as the model file says; the broken file is reported and skipped.
    from_videos = tmp_path / "from_videos.csv"
    assert main(["predict", str(model), str(folder), "--out", str(from_videos), "-q"]) == 0
    again = {r["title"]: float(r["predicted_score"]) for r in csv.DictReader(from_videos.open())}
    assert again == pytest.approx({r["title"]: float(r["predicted_score"]) for r in rows}, abs=1e-3)


@pytest.mark.parametrize("command", ["preprocess", "train", "predict"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: python -m ml " + command in capsys.readouterr().out


def test_errors_are_clear_and_set_the_exit_status(videos, tmp_path, capsys):
    folder, markup, _ = videos
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.mp4").write_bytes(b"nope")
    assert main(["preprocess", str(junk), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "skipped a.mp4:" in err

    assert main(["train", str(tmp_path / "nowhere"), "--markup", str(markup), "--out", str(tmp_path / "m.pt")]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert main(["train", str(junk), "--markup", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "m.pt")]) == 1
    assert "absent.csv: no such file" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "absent.pt"), str(folder), "--out", "-"]) == 1
    assert "no such model file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(junk), "--out", "m.pt"])  # --markup missing
    assert exit_.value.code == 2


# --------------------------------------------------------------------------- failures: one line, exit status 1


@pytest.fixture
def prepared(tmp_path):
    """A DATA_DIR of 4 trailers × 2 subclips of random 16×16 frames with its sampling.json, and their markup."""
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for i in range(4):
        for j in range(2):
            save_frames(rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8), data / f"t{i}" / f"{j}.npy")
    (data / SAMPLING_FILE).write_text(json.dumps(SamplingConfig(frames_per_subclip=3, size=16).to_dict()))
    markup = tmp_path / "markup.csv"
    markup.write_text("Title,Score\n" + "".join(f"t{i},{i + 2}\n" for i in range(4)))
    (tmp_path / "folder").mkdir()
    return {"data": data, "markup": markup, "folder": tmp_path / "folder", "tmp": tmp_path}


TRAIN = ["train", "{data}", "--markup", "{markup}", "--workers", "0", "--frames-per-sample", "3", "-q"]


def fails(capsys, template: list[str], paths: dict[str, Path]) -> tuple[str, str]:
    """Run the CLI in-process; check it exits 1 with one ``error:`` line on stderr; return that line and stdout."""
    assert main([part.format(**paths) for part in template]) == 1
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err.strip(), out


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ([*TRAIN, "--out", "{folder}"], "--out {folder} is a folder; it must be a file name"),
        ([*TRAIN, "--out", "{tmp}/m.pt", "--log", "{folder}"], "--log {folder} is a folder; it must be a file name"),
        ([*TRAIN, "--out", "{markup}/m.pt"], "--out {markup}/m.pt: {markup} is a file, not a folder"),
        (["predict", "{markup}", "{data}", "--out", "{data}"], "--out {data} is a folder; it must be a file name"),
        (["preprocess", "{folder}", "--out", "{markup}"], "--out {markup} is a file; it must be a folder"),
        ([*TRAIN, "--out", "/proc/m.pt"], "--out /proc/m.pt: cannot create a file in /proc"),
        (["preprocess", "{folder}", "--out", "/proc/data"], "--out /proc/data: cannot create a file in /proc"),
    ],
)
def test_outputs_are_checked_before_any_work(prepared, capsys, template, message):
    if "/proc" in message and not Path("/proc/self").exists():
        pytest.skip("needs Linux's /proc")
    before = sorted(prepared["tmp"].rglob("*"))
    line, out = fails(capsys, template, prepared)
    assert line.startswith("error: " + message.format(**prepared))
    assert out == "" and sorted(prepared["tmp"].rglob("*")) == before  # nothing trained, nothing written


def test_diverging_training_is_one_line_naming_the_last_checkpoint(prepared, capsys):
    # One step per epoch: the first is computed from sane weights, the huge step makes the next loss infinite.
    template = [*TRAIN, "--out", "{tmp}/m.pt", "--lr", "1e30", "--optimizer", "sgd", "--batch-size", "64",
                "--epochs", "3"]
    line, _ = fails(capsys, template, prepared)
    assert line.startswith("error: training diverged at epoch 2, step 1 (the loss became ")
    assert line.endswith(f"the last checkpoint, after epoch 1, is {prepared['tmp']}/m.pt.ckpt; "
                         "try a lower --lr, or --grad-clip")


def damage_first_subclip(paths):
    (paths["data"] / "t0" / "0.npy").write_bytes(b"")


def damage_sampling(paths):
    (paths["data"] / SAMPLING_FILE).write_text('{"n_subclips": 3,')


@pytest.mark.parametrize(
    ("damage", "template", "message"),
    [
        (None, [*TRAIN, "--out", "{tmp}/m.pt", "--resume", "{markup}"], "{markup} is not a Reelscore checkpoint"),
        (None, [*TRAIN, "--out", "{tmp}/m.pt", "--resume", "{tmp}/gone.ckpt"],
         "{tmp}/gone.ckpt: No such file or directory"),
        (None, ["predict", "{markup}", "{data}", "--out", "-"], "{markup} is not a Reelscore model file"),
        (None, ["predict", "{markup}", "{data}", "--out", "-", "--device", "tpu"],
         "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
        (damage_first_subclip, [*TRAIN, "--out", "{tmp}/m.pt", "--workers", "2"],
         "{data}/t0/0.npy: a damaged frame file"),
        (damage_sampling, [*TRAIN, "--out", "{tmp}/m.pt"], "{data}/sampling.json is damaged"),
        (damage_sampling, ["preprocess", "{folder}", "--out", "{data}"], "{data}/sampling.json is damaged"),
    ],
)
def test_bad_inputs_are_one_line_naming_the_file(prepared, capsys, damage, template, message):
    if damage:
        damage(prepared)
    line, _ = fails(capsys, template, prepared)
    assert line.startswith("error: " + message.format(**prepared))


def test_preprocess_reads_a_video_whose_name_has_a_colon(tmp_path, monkeypatch, capsys):
    videos = tmp_path / "videos"
    generate_trailer(videos / "Alien:Covenant.mkv", seed=2, duration=1.5, width=64, height=48)
    monkeypatch.chdir(videos)  # listed from ".", the file is opened by its bare name
    assert main(["preprocess", ".", "--out", str(tmp_path / "data"), *SAMPLING]) == 0
    assert capsys.readouterr().err == ""
    assert load_frames(tmp_path / "data" / "Alien:Covenant" / "0.npy").shape == (4, 64, 64, 3)
