"""``python -m ml`` end to end on tiny synthetic trailers: preprocess, train, resume, predict, and its errors."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ml.cli import main
from ml.synth import generate_dataset, write_markup

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
