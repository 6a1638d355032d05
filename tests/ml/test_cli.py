"""``python -m ml`` end to end on tiny synthetic trailers: preprocess, embed, train (one fit and cross-validated),
resume, predict, and its errors."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ml.cli import SOME_SKIPPED, main
from ml.config import SamplingConfig
from ml.data import SAMPLING_FILE
from ml.embeddings import EMBEDDINGS_FILE, load_embeddings
from ml.frames import load_frames, save_frames
from ml.predict import load_model
from ml.synth import generate_dataset, generate_trailer, write_markup

ROOT = Path(__file__).resolve().parents[2]


def run_ml(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ml", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=None if env is None else {**os.environ, **env})


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
    assert done.returncode == SOME_SKIPPED == 3, done.stderr  # some of the videos were skipped: a script can tell
    assert "skipped broken.mp4" in done.stderr
    assert "prepared 6 of 7 videos (12 subclips)" in done.stdout
    assert "embedded with efficientnet_lite0 at 112×112" in done.stdout
    assert sorted(p.name for p in (data / trailers[0].title).iterdir()) == [
        "0.emb.npy", "0.npy", "1.emb.npy", "1.npy", "trailer.json"]
    assert json.loads((data / "sampling.json").read_text())["frames_per_subclip"] == 4
    spec = json.loads((data / EMBEDDINGS_FILE).read_text())
    assert spec["encoder"] == "efficientnet_lite0" and spec["size"] == 112 and spec["weights_sha256"].startswith("5793")
    embeddings = load_embeddings(data / trailers[0].title / "1.emb.npy")
    assert embeddings.shape == (4, 1280) and embeddings.dtype == np.float16  # one per frame

    model = tmp_path / "model.pt"
    log = tmp_path / "log.csv"
    # One fit of the CNN learnt from scratch, with a validation split: per-epoch lines and --resume.
    common = ["--markup", markup, "--out", model, "--preset", "scratch", "--folds", "1", "--frames-per-sample", "4",
              "--workers", "0", "--val-fraction", "0.34", "--batch-size", "4", "--log", log]
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
    assert list(rows[0]) == ["title", "predicted_score", "spread", "subclips", "uncertainty", "low", "high",
                            "novelty"]
    assert all(1 <= float(r["predicted_score"]) <= 10 and float(r["spread"]) >= 0 for r in rows)
    assert {r["uncertainty"] for r in rows} == {"0.0000"}  # one model: no ensemble to disagree
    assert {(r["low"], r["high"]) for r in rows} == {("", "")}  # nor folds' errors to make an interval from
    assert {r["novelty"] for r in rows} == {""}  # nor fold trailers' distances to measure novelty against
    assert {r["subclips"] for r in rows} == {"2"}

    # Straight from the videos, sampled as the model file says; the broken file is reported and skipped.
    from_videos = tmp_path / "from_videos.csv"
    assert main(["predict", str(model), str(folder), "--out", str(from_videos), "-q"]) == SOME_SKIPPED  # one left out
    again = {r["title"]: float(r["predicted_score"]) for r in csv.DictReader(from_videos.open())}
    assert again == pytest.approx({r["title"]: float(r["predicted_score"]) for r in rows}, abs=1e-3)

    # Two videos that share a name but for their extension get a row each that says which is which.
    pair = tmp_path / "pair"
    pair.mkdir()
    for name in ("same.mp4", "same.mov"):
        (pair / name).write_bytes(trailers[0].path.read_bytes())
    assert main(["predict", str(model), str(pair), "--out", str(tmp_path / "pair.csv"), "-q"]) == 0
    assert sorted(r["title"] for r in csv.DictReader((tmp_path / "pair.csv").open())) == ["same.mov", "same.mp4"]


@pytest.mark.parametrize("command", ["preprocess", "embed", "train", "predict"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "usage: python -m ml " + command in text
    if command != "train":  # the commands that skip an input that cannot serve say what their status then is
        assert "3 when some were skipped" in " ".join(text.split())


def test_train_offers_every_model_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for option in ("--preset", "--folds K", "--duplicate-threshold", "--no-single-frame-baseline", "--encoder",
                   "--finetune-blocks", "--lstm-size", "--embedding-size", "--dropout", "--temporal", "--frame-size",
                   "--deltas, --no-deltas", "--dense-sizes"):
        assert option in text, option
    assert "scratch" in text


def test_errors_are_clear_and_set_the_exit_status(videos, tmp_path, capsys):
    folder, markup, _ = videos
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.mp4").write_bytes(b"nope")
    assert main(["preprocess", str(junk), "--out", str(tmp_path / "out")]) == 1
    out, err = capsys.readouterr()
    assert "skipped a.mp4:" in err
    assert f"prepared none of 1 video; {tmp_path / 'out'} was not made" in out
    assert not (tmp_path / "out").exists()  # no empty DATA_DIR left behind
    (junk / "gone.mp4").symlink_to(tmp_path / "moved-away.mp4")  # a link to a file that is not there: named
    assert main(["preprocess", str(junk), "--out", str(tmp_path / "out")]) == 1
    assert f"skipped gone.mp4: a link to {tmp_path / 'moved-away.mp4'}, which is not there" in capsys.readouterr().err
    (junk / "gone.mp4").unlink()

    assert main(["train", str(tmp_path / "nowhere"), "--markup", str(markup), "--out", str(tmp_path / "m.pt")]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert main(["train", str(junk), "--markup", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "m.pt")]) == 1
    assert "absent.csv: no such file" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "absent.pt"), str(folder), "--out", "-"]) == 1
    assert "no such model file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(junk), "--out", "m.pt"])  # --markup missing
    assert exit_.value.code == 2 != SOME_SKIPPED  # a command line it cannot read: not a partial success


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


TRAIN = ["train", "{data}", "--markup", "{markup}", "--preset", "scratch", "--folds", "1", "--workers", "0",
         "--frames-per-sample", "3", "-q"]


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
        # An output that is an input, or another output: writing it would replace that file.
        ([*TRAIN, "--out", "{markup}"], "--out {markup} is also --markup: writing it would replace that file"),
        ([*TRAIN, "--out", "{tmp}/m.pt", "--log", "{tmp}/m.pt"], "--log {tmp}/m.pt is also --out"),
        ([*TRAIN, "--out", "{tmp}/m.pt", "--log", "{tmp}/../{tmp.name}/m.pt"], "--log {tmp}/../{tmp.name}/m.pt is also --out"),
        (["predict", "{markup}", "{data}", "--out", "{markup}"], "--out {markup} is also MODEL_FILE"),
        (["predict", "{data}/sampling.json", "{markup}", "--out", "{markup}"], "--out {markup} is also VIDEO_OR_DATA_DIR"),
        # A file an input folder holds: a DATA_DIR's settings or frames, a video (a new file there is fine).
        (["predict", "{markup}", "{data}", "--out", "{data}/sampling.json"],
         "--out {data}/sampling.json is a file in VIDEO_OR_DATA_DIR {data}: writing it would replace what"),
        ([*TRAIN, "--out", "{data}/t0/0.npy"], "--out {data}/t0/0.npy is a file in DATA_DIR {data}"),
        ([*TRAIN, "--out", "{tmp}/m.pt", "--log", "{data}/sampling.json"], "--log {data}/sampling.json is a file in"),
        (["preprocess", "{folder}", "--out", "{folder}"], "--out {folder} is also VIDEO_DIR: writing it would replace that "
                                                          "folder"),
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


def test_a_model_whose_loss_stayed_finite_but_predicts_no_number_is_not_saved(prepared, capsys):
    """Adam's steps are the learning rate's size: at 1e9 the weights become infinite while the one epoch's loss
    was still a number, and the fold models predicted NaN. That was saved, with "MAE nan ± nan", exit 0."""
    template = [*TRAIN, "--out", "{tmp}/m.pt", "--lr", "1e9", "--epochs", "1"]
    template[template.index("--folds") + 1] = "2"
    line, _ = fails(capsys, template, prepared)
    assert line.startswith("error: fold 1: training diverged: the model predicts no number for its ")
    assert not (prepared["tmp"] / "m.pt").exists()

    # Gone astray but still numbers: saved, and the run says what its estimate means.
    template[template.index("1e9")] = "100"
    assert main([part.format(**prepared) for part in template]) == 0
    err = capsys.readouterr().err
    assert "times worse than predicting the mean rating on trailers it never saw: its training most likely went " \
           "astray (try a lower --lr, or --grad-clip)" in err


def test_starting_a_single_model_over_an_interrupted_run_s_checkpoint_says_so(prepared, capsys):
    template = [*TRAIN, "--out", "{tmp}/m.pt", "--epochs", "1", "--val-fraction", "0.25"]
    assert main([part.format(**prepared) for part in template]) == 0
    assert main([part.format(**prepared) for part in template]) == 0
    assert capsys.readouterr().err == ""  # the run before finished: its model is newer than its checkpoint
    (prepared["tmp"] / "m.pt").unlink()  # as if interrupted after its last checkpoint, before saving the model
    assert main([part.format(**prepared) for part in template]) == 0
    checkpoint = prepared["tmp"] / "m.pt.ckpt"
    assert capsys.readouterr().err == (
        f"warning: starting over: {checkpoint}, the last epoch of a run that did not finish, is replaced by this "
        f"run's (--resume {checkpoint} carries that run on instead)\n")


def test_a_model_trained_on_fewer_subclips_scores_as_many(prepared, capsys):
    """train --subclips 1 read each trailer's first subclip; predict scored all three, which no estimate covered."""
    template = [*TRAIN, "--out", "{tmp}/m.pt", "--epochs", "1", "--val-fraction", "0.25", "--subclips", "1"]
    assert main([part.format(**prepared) for part in template]) == 0
    assert main(["predict", str(prepared["tmp"] / "m.pt"), str(prepared["data"]), "--out",
                 str(prepared["tmp"] / "p.csv"), "-q"]) == 0
    assert capsys.readouterr().err == ""  # no note that the DATA_DIR was sampled otherwise: it holds the first one
    rows = list(csv.DictReader((prepared["tmp"] / "p.csv").open()))
    assert len(rows) == 4 and {row["subclips"] for row in rows} == {"1"}


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


def test_preprocess_leaves_what_it_did_not_make_alone_and_writes_no_settings_for_nothing(videos, tmp_path, capsys):
    folder, _, trailers = videos
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.mp4").write_bytes(trailers[0].path.read_bytes())  # a video named like a folder of notes
    (mine / "sampling.json.mp4").write_bytes(trailers[0].path.read_bytes())
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "todo.txt").write_text("keep me")
    (out / "notes" / "trailer.json").write_text("{}")  # a file of that name beside one of the person's own
    (out / "sampling.json").mkdir()  # not a file of settings either
    assert main(["preprocess", str(mine), "--out", str(out), "--no-embeddings", "-q", *SAMPLING]) == 1
    err = capsys.readouterr().err
    assert f"skipped notes.mp4: {out}/notes is there and is not a trailer this command prepared; it is left as it " \
           "is" in err
    assert "skipped sampling.json.mp4: its folder would have the name of DATA_DIR's own sampling.json" in err
    assert (out / "notes" / "todo.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["notes", "sampling.json"]  # no settings for no trailer


def test_preparing_into_a_data_dir_sampled_otherwise_names_what_differs(prepared, capsys):
    (prepared["folder"] / "new.mp4").write_bytes(b"a video not prepared yet")
    line, _ = fails(capsys, ["preprocess", "{folder}", "--out", "{data}", "--frames-per-subclip", "4", "--size", "32",
                             "--no-embeddings"], prepared)
    assert line == (f"error: {prepared['data']} was prepared with other sampling settings (--frames-per-subclip 3 "
                    "there, 4 now, --size 16 there, 32 now); give the same options, or choose another --out")


def test_preparing_again_without_embeddings_is_refused_where_there_are_some(prepared, capsys):
    (prepared["data"] / "t0" / "0.emb.npy").write_bytes(b"embeddings of t0")
    (prepared["folder"] / "t0.mp4").write_bytes(b"t0 again")
    (prepared["folder"] / "new.mp4").write_bytes(b"a video not prepared yet")
    line, _ = fails(capsys, ["preprocess", "{folder}", "--out", "{data}", "--no-embeddings", "--frames-per-subclip",
                             "3", "--size", "16", "--snippet-frames", "1"], prepared)
    assert line == (f"error: {prepared['data']} holds embeddings of 1 of these videos (t0.mp4); preparing them again "
                    "without embeddings would delete theirs: leave out --no-embeddings, or choose another --out")
    assert (prepared["data"] / "t0" / "0.emb.npy").read_bytes() == b"embeddings of t0"


def test_files_written_whole_get_the_permissions_a_plain_open_gives(tmp_path):
    from ml.files import write_atomically

    old = os.umask(0o027)
    try:
        write_atomically(tmp_path / "a.csv", lambda handle: handle.write(b"x"))
        with open(tmp_path / "b.csv", "wb") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o640


def test_preprocess_reads_a_video_whose_name_has_a_colon(tmp_path, monkeypatch, capsys):
    videos = tmp_path / "videos"
    generate_trailer(videos / "Alien:Covenant.mkv", seed=2, duration=1.5, width=64, height=48)
    monkeypatch.chdir(videos)  # listed from ".", the file is opened by its bare name
    assert main(["preprocess", ".", "--out", str(tmp_path / "data"), *SAMPLING]) == 0
    assert capsys.readouterr().err == ""
    assert load_frames(tmp_path / "data" / "Alien:Covenant" / "0.npy").shape == (4, 64, 64, 3)


# --------------------------------------------------------------------------- the pretrained encoder: embeddings,
# cross-validation, the ensemble


@pytest.fixture(scope="module")
def embedded(videos, tmp_path_factory):
    """The videos prepared once, with their embeddings (a DATA_DIR tests copy before they change it)."""
    folder, markup, trailers = videos
    data = tmp_path_factory.mktemp("embedded") / "data"
    skipped = main(["preprocess", str(folder), "--out", str(data), *SAMPLING, "--device", "cpu", "-q"])
    assert skipped == SOME_SKIPPED  # broken.mp4
    return data


def test_cross_validated_training_prints_the_estimate_and_the_ensemble_predicts(videos, embedded, tmp_path, capsys,
                                                                               monkeypatch):
    import ml.crossval

    monkeypatch.setattr(ml.crossval, "MIX_MIN_TRAILERS", 6)  # mix these 6 trailers with their neighbours
    _, markup, trailers = videos
    model, log = tmp_path / "model.pt", tmp_path / "log.csv"
    assert main(["train", str(embedded), "--markup", str(markup), "--out", str(model), "--folds", "3",
                 "--epochs", "4", "--frames-per-sample", "4", "--log", str(log)]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # every subclip's embeddings came from the cache: no warning
    lines = out.splitlines()
    assert lines.pop(0) == "markup: 6 titles matched by the file name without its extension"  # which rule matched
    # The frames hold single frames (no --snippet-frames at preprocessing): the model reads them so, and says why.
    assert lines.pop(0) == (f"note: {embedded}'s frames were sampled in snippets of 1 frame; the model reads them so "
                            "(the default preset's 2 is for frames sampled as the web app samples)")
    assert [line.split(" (")[0] for line in lines[:3]] == ["fold 1/3", "fold 2/3", "fold 3/3"]
    assert all("model MAE" in line and "head alone MAE" in line and "mean rating MAE" in line
               and "single-frame MAE" in line and "neighbours MAE" in line for line in lines[:3])
    # Each fold says the neighbours' share its model figures were mixed in (chosen on the other folds).
    assert all(re.search(r"trained on, neighbours' share (0|0\.25|0\.5|0\.75|1)\): ", line) for line in lines[:3])
    assert lines[3] == "cross-validated estimate (3 folds, 6 trailers; mean ± sd over folds):"
    assert lines[4].split() == ["MAE", "RMSE", "Spearman"]
    table = {line[2:16].strip(): line[16:].split() for line in lines[5:10]}
    assert list(table) == ["model", "head alone", "mean rating", "single-frame", "neighbours"]
    for role in table:
        mae, pm, sd = table[role][:3]
        assert pm == "±" and float(mae) > 0 and float(sd) >= 0, table[role]
    share = re.fullmatch(r"the model mixes the head with the neighbours, their share (\S+) \(chosen on the folds' "
                         r"held-out predictions; each fold's on the other folds'\)", lines[10])
    assert share and float(share[1]) in (0, 0.25, 0.5, 0.75, 1)
    assert lines[11] == "near-duplicate groups: 0 (frame match ≥ 0.9, or a distance at most 33% of the run's typical one)"
    # The default preset refits one more model on every trailer: its predictions are the version's.
    assert lines[12].startswith(f"saved {model} (an ensemble of 3 fold models and a refit on all 6 trailers, whose "
                                "predictions it gives; cross-validated MAE ")
    assert load_model(model).members[0].near.weight == float(share[1])  # the version mixes as the estimate said
    assert load_model(model).refit.near.weight == float(share[1]) and len(load_model(model).refit.near.ratings) == 6
    assert load_model(model).model_config.snippet_frames == 1
    assert not Path(f"{model}.ckpt.d").exists()  # the model file holds every fold: nothing left to resume
    with log.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["fold"], r["epoch"]) for r in rows] == [(str(f), str(e)) for f in (1, 2, 3) for e in (1, 2, 3, 4)]
    assert all(float(r["val_mae"]) >= 0 for r in rows)  # each fold's held-out learning curve

    predictions = tmp_path / "predictions.csv"
    assert main(["predict", str(model), str(embedded), "--out", str(predictions), "-q"]) == 0
    assert capsys.readouterr().err == ""
    rows = list(csv.DictReader(predictions.open()))
    assert list(rows[0]) == ["title", "predicted_score", "spread", "subclips", "uncertainty", "low", "high",
                            "novelty"]
    assert sorted(r["title"] for r in rows) == sorted(t.title for t in trailers)
    uncertainty = [float(r["uncertainty"]) for r in rows]
    assert min(uncertainty) >= 0 and max(uncertainty) > 0  # three fold models that do not all agree
    # The 80% interval, from the folds' own errors: wider than the models' disagreement, around the score.
    for row in rows:
        low, score, high = float(row["low"]), float(row["predicted_score"]), float(row["high"])
        assert low < score < high and high - low > 2 * float(row["uncertainty"]), row
        assert float(row["novelty"]) > 0  # how unlike the training trailers it looks


def test_without_the_neighbour_mix_the_model_is_its_head_alone(videos, embedded, tmp_path, capsys):
    _, markup, _ = videos
    model = tmp_path / "model.pt"
    assert main(["train", str(embedded), "--markup", str(markup), "--out", str(model), "--folds", "3", "--epochs", "2",
                 "--frames-per-sample", "4", "--no-single-frame-baseline", "--no-neighbour-mix"]) == 0
    out = capsys.readouterr().out
    assert "head alone" not in out and "share" not in out and "neighbours MAE" in out  # still the baseline
    # The members keep their training trailers only to widen the intervals of trailers unlike them: share 0.
    assert all(member.near.weight == 0 and member.scales is not None for member in load_model(model).members)


def test_more_folds_than_trailers_says_how_many_it_made(videos, embedded, tmp_path, capsys):
    _, markup, _ = videos
    assert main(["train", str(embedded), "--markup", str(markup), "--out", str(tmp_path / "m.pt"), "--folds", "10",
                 "--epochs", "1", "--frames-per-sample", "4", "--no-single-frame-baseline"]) == 0
    out = capsys.readouterr().out
    made = re.search(r"note: --folds 10 asked for more folds than there were trailers to deal out \((\d)\, each group "
                     r"of near-duplicates counting as one\), so there are (\d)\n", out)
    assert made and made[1] == made[2] and f"cross-validated estimate ({made[1]} folds, 6 trailers" in out

    # Frames sampled otherwise than the model's: scored, with a note naming what differs.
    import shutil

    other = tmp_path / "other"
    shutil.copytree(embedded, other)
    settings = json.loads((other / SAMPLING_FILE).read_text())
    (other / SAMPLING_FILE).write_text(json.dumps({**settings, "offset": settings["offset"] + 0.5}))
    assert main(["predict", str(tmp_path / "m.pt"), str(other), "--out", str(tmp_path / "p.csv"), "-q"]) == 0
    err = capsys.readouterr().err
    assert (f"note: {other}'s frames were sampled otherwise than {tmp_path / 'm.pt'}'s training frames: offset "
            f"{settings['offset'] + 0.5} (the model's {settings['offset']}); the scores may differ") in err


class CrashingFit:
    """``ml.crossval``'s fit made to stop the process (as a machine going down) once its ``at``-th fit has trained."""

    def __init__(self, monkeypatch, *, at: int) -> None:
        import ml.crossval

        self.monkeypatch, self.at, self.real, self.fits = monkeypatch, at, ml.crossval.fit, []

    def __call__(self, *args, **kwargs):
        self.fits.append(self.real(*args, **kwargs))
        if len(self.fits) == self.at:
            raise KeyboardInterrupt
        return self.fits[-1]

    def on(self) -> None:
        import ml.crossval

        self.fits.clear()
        self.monkeypatch.setattr(ml.crossval, "fit", self)

    def off(self) -> None:
        import ml.crossval

        self.monkeypatch.setattr(ml.crossval, "fit", self.real)


def test_an_interrupted_cross_validation_carries_on_where_it_stopped(videos, embedded, tmp_path, capsys, monkeypatch):

    _, markup, _ = videos
    train = ["train", str(embedded), "--markup", str(markup), "--folds", "3", "--epochs", "3",
             "--frames-per-sample", "4", "--device", "cpu", "--no-single-frame-baseline"]
    assert main([*train, "--out", str(tmp_path / "straight.pt")]) == 0
    straight = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(("markup: ", "note: "))]

    crash = CrashingFit(monkeypatch, at=2)  # the machine goes down as the second fold's model is done
    crash.on()
    model = tmp_path / "model.pt"
    assert main([*train, "--out", str(model)]) == 130
    assert "run the same command again to carry on" in capsys.readouterr().err
    assert not model.exists() and sorted(p.name for p in Path(f"{model}.ckpt.d").iterdir()) == [
        "fold-1.pt", "fold-2-2.ckpt", "run.json"]

    crash.off()
    assert main([*train, "--out", str(model)]) == 0
    resumed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(("markup: ", "note: "))]
    assert resumed[0] == f"carrying on from 1 finished fold(s) in {model}.ckpt.d"
    assert resumed[1:-1] == straight[:-1]  # the same folds, figures and estimate as the run that went straight
    assert model.is_file() and not Path(f"{model}.ckpt.d").exists()
    # The fold read back from its checkpoint measured its trailers' distances as the others did.
    kept, fresh = load_model(model).members, load_model(tmp_path / "straight.pt").members
    assert all(m.scales is not None for m in kept)
    for mine, theirs in zip(kept, fresh, strict=True):
        assert mine.scales == pytest.approx(theirs.scales)

    # Other settings do not pick up the folds another run left.
    crash.on()
    assert main([*train, "--out", str(model)]) == 130
    crash.off()
    capsys.readouterr()
    assert main([*train[:-1], "--out", str(model)]) == 0  # the single-frame baseline too, now
    out, err = capsys.readouterr()
    assert "held the folds of a run with other settings or data; starting over" in err
    assert "carrying on" not in out and "single-frame" in out

    # Nor do folds trained on frames that changed since (prepared again, or two trailers' folders swapped).
    crash.on()
    assert main([*train[:-1], "--out", str(model)]) == 130
    crash.off()
    frames = sorted(embedded.rglob("0.npy"))[0]
    stamp = frames.stat()
    os.utime(frames, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 10**9))
    capsys.readouterr()
    assert main([*train[:-1], "--out", str(model)]) == 0
    assert "held the folds of a run with other settings or data; starting over" in capsys.readouterr().err


def test_a_run_stopped_in_its_refit_carries_on_and_other_settings_start_it_over(videos, embedded, tmp_path, capsys,
                                                                               monkeypatch):

    _, markup, _ = videos
    train = ["train", str(embedded), "--markup", str(markup), "--folds", "3", "--epochs", "3",
             "--frames-per-sample", "4", "--device", "cpu", "--no-single-frame-baseline"]
    assert main([*train, "--out", str(tmp_path / "straight.pt")]) == 0
    capsys.readouterr()
    crash = CrashingFit(monkeypatch, at=4)  # the machine goes down as the refit (the 4th fit) has trained
    crash.on()
    model = tmp_path / "model.pt"
    assert main([*train, "--out", str(model)]) == 130
    left = sorted(p.name for p in Path(f"{model}.ckpt.d").iterdir())
    assert left[:3] == ["fold-1.pt", "fold-2.pt", "fold-3.pt"] and left[4] == "run.json"
    assert re.fullmatch(r"refit-[0-9a-f]{16}\.ckpt", left[3])
    crash.off()
    capsys.readouterr()
    assert main([*train, "--out", str(model)]) == 0
    assert f"carrying on from 3 finished fold(s) in {model}.ckpt.d" in capsys.readouterr().out
    assert not Path(f"{model}.ckpt.d").exists()
    # The refit carried on from its checkpoint: the same model the run that went straight saved.
    mine, theirs = load_model(model).refit.model.state_dict(), load_model(tmp_path / "straight.pt").refit.model.state_dict()
    assert all(np.allclose(mine[k].numpy(), theirs[k].numpy()) for k in theirs)

    # Stopped in its refit again, then run with another learning rate: nothing of the first run is carried on.
    crash.on()
    assert main([*train, "--out", str(model)]) == 130
    crash.off()
    capsys.readouterr()
    assert main([*train, "--lr", "0.002", "--out", str(model)]) == 0
    out, err = capsys.readouterr()
    assert "held the folds of a run with other settings or data; starting over" in err
    assert "carrying on" not in out and model.is_file() and not Path(f"{model}.ckpt.d").exists()


def test_a_cnn_from_scratch_finds_near_duplicates_with_the_embeddings_data_dir_holds(videos, embedded, tmp_path,
                                                                                    capsys):
    """As a web run does: it reads no embeddings, but copies of the same footage must still share a fold."""
    _, markup, _ = videos
    assert main(["train", str(embedded), "--markup", str(markup), "--preset", "scratch", "--folds", "2",
                 "--epochs", "1", "--frames-per-sample", "4", "--workers", "0", "--out", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert "near-duplicate groups: 0 (frame match" in out and "not looked for" not in out


def test_embed_fills_in_a_data_dir_prepared_without_embeddings(videos, embedded, tmp_path, capsys):
    folder, markup, trailers = videos
    data = tmp_path / "data"
    assert main(["preprocess", str(folder), "--out", str(data), *SAMPLING, "--no-embeddings", "-q"]) == SOME_SKIPPED
    assert not (data / EMBEDDINGS_FILE).exists() and not list(data.rglob("*.emb.npy"))
    capsys.readouterr()

    # Training still works: the subclips are embedded for the run, with one warning saying how to keep them.
    train = ["train", str(data), "--markup", str(markup), "--out", str(tmp_path / "m.pt"), "--folds", "1",
             "--epochs", "1", "--frames-per-sample", "4", "-q"]
    assert main(train) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: embedding 12 of 12 subclips now with efficientnet_lite0")
    assert err[0].endswith(f"{data} has no cached embeddings; store them with `python -m ml embed {data}`")

    assert main(["embed", str(data), "--device", "cpu"]) == 0
    assert capsys.readouterr().out.startswith(f"embedded 12 of 12 subclips of 6 trailers in {data}")
    assert json.loads((data / EMBEDDINGS_FILE).read_text()) == json.loads((embedded / EMBEDDINGS_FILE).read_text())
    for trailer in trailers:  # what preprocess would have stored, from the frames alone
        for i in (0, 1):
            assert np.array_equal(load_embeddings(data / trailer.title / f"{i}.emb.npy"),
                                  load_embeddings(embedded / trailer.title / f"{i}.emb.npy"))

    # A stale cache (made from other frames than the subclip has now) is made again; the rest are kept.
    save_frames(np.zeros((3, 64, 64, 3), np.uint8), data / trailers[0].title / "0.npy")
    assert main(["embed", str(data)]) == 0
    assert "embedded 1 of 12 subclips" in capsys.readouterr().out
    assert load_embeddings(data / trailers[0].title / "0.emb.npy").shape == (3, 1280)

    assert main(train) == 0
    assert capsys.readouterr().err == ""  # every subclip's embeddings came from the cache

    # A damaged frames file is named and skipped, the others embedded, and the exit status says one was left out.
    (data / trailers[1].title / "1.emb.npy").unlink()
    (data / trailers[2].title / "1.emb.npy").unlink()
    (data / trailers[1].title / "1.npy").write_bytes(b"not frames")
    assert main(["embed", str(data)]) == SOME_SKIPPED
    out, err = capsys.readouterr()
    assert f"skipped {data / trailers[1].title / '1.npy'}:" in err
    assert "embedded 1 of 12 subclips" in out and "(10 had embeddings already, 1 skipped)" in out

    # A cache made at another size: the advice names the size the model wants, and doing as it says serves.
    (data / trailers[1].title / "1.npy").unlink()
    (data / trailers[1].title / "1.jpg").unlink(missing_ok=True)
    assert main(["embed", str(data), "--embed-size", "64"]) == 0
    capsys.readouterr()
    assert main(train) == 0
    advice = f"`python -m ml embed {data} --embed-size 112` replaces them"
    assert advice in capsys.readouterr().err
    assert main(["embed", str(data), "--embed-size", "112"]) == 0
    capsys.readouterr()
    assert main(train) == 0
    assert capsys.readouterr().err == ""

    # A damaged settings file of the cache: the error says how to be rid of it, and doing so serves.
    (data / EMBEDDINGS_FILE).write_text("{not json")
    assert main(["embed", str(data)]) == 1
    assert capsys.readouterr().err.rstrip().endswith(f"delete it, and `python -m ml embed {data}` makes the "
                                                      "embeddings and it again")
    (data / EMBEDDINGS_FILE).unlink()
    assert main(["embed", str(data)]) == 0
    assert json.loads((data / EMBEDDINGS_FILE).read_text()) == json.loads((embedded / EMBEDDINGS_FILE).read_text())


def test_damaged_encoder_weights_stop_preprocess_in_one_line(videos, tmp_path):
    folder, _, _ = videos
    junk = tmp_path / "efficientnet_lite0.pth"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    data = tmp_path / "data"
    done = run_ml("preprocess", folder, "--out", data, *SAMPLING, env={"REELSCORE_ENCODER_WEIGHTS": str(junk)})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        done.stderr.strip()] and done.stderr.startswith(f"error: the efficientnet_lite0 weights file {junk} is damaged")
    assert not data.exists()  # nothing written, no video half-prepared


def model_made_at(size: int, path: Path) -> Path:
    """A model file of the default preset whose embeddings were (it says) made at ``size``×``size``."""
    from ml.data import Normaliser
    from ml.embeddings import installed_spec
    from ml.model import build_model
    from ml.predict import save_model_file

    spec = installed_spec("efficientnet_lite0", 112).to_dict()
    return save_model_file(path, model=build_model("default"), normaliser=Normaliser(5.0, 1.0),
                           embedding={**spec, "size": size})


def write_embedding_spec(size: int):
    def write(paths):
        spec = {"encoder": "efficientnet_lite0", "weights_sha256": "5793" + "0" * 60, "size": size}
        (paths["data"] / EMBEDDINGS_FILE).write_text(json.dumps(spec))
    return write


def damage_embedding_spec(paths):
    (paths["data"] / EMBEDDINGS_FILE).write_text('{"encoder": "efficientnet_lite0"}')


def other_model(paths):
    model_made_at(160, paths["tmp"] / "other.pt")
    # Frames sampled in the default preset's snippets, so that the embeddings are what does not fit.
    (paths["data"] / SAMPLING_FILE).write_text(
        json.dumps(SamplingConfig(frames_per_subclip=3, size=16, snippet_frames=2).to_dict()))


def default_model(paths):
    model_made_at(112, paths["tmp"] / "default.pt")


@pytest.mark.parametrize(
    ("damage", "template", "message"),
    [
        (write_embedding_spec(96), ["preprocess", "{folder}", "--out", "{data}", "--frames-per-subclip", "3",
                                    "--size", "16"],
         "{data} holds embeddings made with efficientnet_lite0 at 96×96 (weights 57930000), not efficientnet_lite0 "
         "at 112×112"),
        (damage_embedding_spec, ["embed", "{data}"], "{data}/embeddings.json is damaged"),
        (None, ["embed", "{folder}"], "{folder} holds no prepared trailers"),
        (other_model, ["predict", "{tmp}/other.pt", "{data}", "--out", "-"],
         "the embeddings {tmp}/other.pt was trained on were made with efficientnet_lite0 at 160×160"),
        (None, ["train", "{data}", "--markup", "{markup}", "--out", "{tmp}/m.pt", "--resume", "{tmp}/m.pt.ckpt"],
         "--resume is for --folds 1"),
        # Motion is read within the snippets the frames hold: another length asked for is refused, naming both.
        (None, ["train", "{data}", "--markup", "{markup}", "--out", "{tmp}/m.pt", "--snippet-frames", "2"],
         "{data}'s frames were sampled in snippets of 1 frame (sampling.json), but --snippet-frames asks the model "
         "to read snippets of 2: motion is read within the snippets the frames hold"),
        (default_model, ["predict", "{tmp}/default.pt", "{data}", "--out", "-"],
         "{data}'s frames were sampled in snippets of 1 frame (sampling.json), but {tmp}/default.pt reads motion "
         "within snippets of 2; score the videos themselves"),
    ],
)
def test_bad_embedding_and_model_inputs_are_one_line(prepared, capsys, damage, template, message):
    if damage:
        damage(prepared)
    line, _ = fails(capsys, template, prepared)
    assert line.startswith("error: " + message.format(**prepared))


@pytest.mark.parametrize(("template", "message"), [
    ([*TRAIN, "--out", "{tmp}/m.pt", "--folds", "30"], "--folds must be a whole number from 1 to 20, got 30"),
    ([*TRAIN, "--out", "{tmp}/m.pt", "--lr", "0"], "--lr must be a number greater than 0, got 0.0"),
    ([*TRAIN, "--out", "{tmp}/m.pt", "--finetune-blocks", "2"],
     "--finetune-blocks must be 0 with the scratch encoder (it always trains), got 2"),
    (["preprocess", "{folder}", "--out", "{tmp}/new", "--size", "7"],
     "--size must be a whole number from 8 to 4096, got 7"),
    (["preprocess", "{folder}", "--out", "{tmp}/new", "--embed-size", "100"],
     "--embed-size must be a multiple of 16, at least 32 (the encoder halves the picture five times), got 100"),
    # Every refusal at once, as the start form says them: the scratch encoder reads none of the pixel features.
    (["train", "{data}", "--markup", "{markup}", "--out", "{tmp}/m.pt", "--encoder", "scratch", "--folds", "0"],
     "--folds must be a whole number from 1 to 20, got 0; --pixel-grid must be 0 with the scratch encoder (its CNN "
     "reads the pixels itself), got 2; --foreground must be off with the scratch encoder (its CNN reads the pixels "
     "itself), got on; --background must be off with the scratch encoder (its CNN reads the pixels itself), got on; "
     "--drift must be off with the scratch encoder (its CNN reads the pixels itself), got on"),
])
def test_a_value_an_option_does_not_take_is_a_usage_error_in_the_command_line_s_words(prepared, capsys, template,
                                                                                      message):
    """Exit status 2, as for a value argparse cannot read, naming the option as typed, never a config class."""
    assert main([part.format(**prepared) for part in template]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_train_matches_markup_titles_written_with_their_extension(prepared, capsys):
    data, tmp = prepared["data"], prepared["tmp"]
    for i in range(4):  # as `preprocess` writes it: the name of the file each trailer came from
        (data / f"t{i}" / "trailer.json").write_text(json.dumps({"source": f"t{i}.mp4"}))
    markup = tmp / "with-extensions.csv"
    markup.write_text("Title,Score\n" + "".join(f"t{i}.mp4,{i + 2}\n" for i in range(4)))
    args = ["train", str(data), "--markup", str(markup), "--preset", "scratch", "--folds", "1", "--workers", "0",
            "--frames-per-sample", "3", "--epochs", "1", "--frame-size", "16", "--pool-size", "2",
            "--out", str(tmp / "m.pt")]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "markup: 4 titles matched by the file name with its extension" in out
    assert "have no prepared frames" not in err


def test_preprocess_names_what_it_passes_over_in_video_dir_and_keeps_data_dir_s_settings(tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    generate_trailer(folder / "keep.mp4", seed=3, duration=1.5, width=64, height=48)
    generate_trailer(folder / "embeddings.json.mp4", seed=4, duration=1.5, width=64, height=48)
    (folder / "action").mkdir()  # a folder of its own videos, not read
    generate_trailer(folder / "action" / "inner.mp4", seed=5, duration=1.5, width=64, height=48)
    data = tmp_path / "data"
    args = ["preprocess", str(folder), "--out", str(data), *SAMPLING, "--no-embeddings"]
    assert main(args) == SOME_SKIPPED
    err = capsys.readouterr().err
    assert f"skipped action{os.sep}: a folder; only the files in {folder} itself are read" in err
    assert "skipped embeddings.json.mp4: its folder would have the name of DATA_DIR's own embeddings.json" in err
    assert sorted(p.name for p in data.iterdir()) == ["keep", SAMPLING_FILE]
    assert main(args) == SOME_SKIPPED  # and again: nothing it made stands in the way
    (folder / "keep.mp4").unlink()
    assert main(args) == 1 and "holds no video files it can read (see above)" in capsys.readouterr().err


def test_what_an_interrupted_run_left_half_written_is_cleared_and_sigterm_stops_a_run_cleanly(
        tmp_path, capsys, monkeypatch):
    folder = tmp_path / "videos"
    folder.mkdir()
    for n in range(2):
        generate_trailer(folder / f"t{n}.mp4", seed=n, duration=1.5, width=64, height=48)
    data = tmp_path / "data"
    args = ["preprocess", str(folder), "--out", str(data), *SAMPLING, "--no-embeddings"]
    assert main(args) == 0
    # A run killed outright (SIGKILL) leaves its staging folder, and embed's half-written file in a trailer's folder.
    stale_folder, stale_file, fresh = data / ".tmp-0123", data / "t0" / ".tmp-4567.emb.npy", data / "t1" / ".tmp-89.npy"
    stale_folder.mkdir()
    (stale_folder / "0.npy").write_bytes(b"half")
    for path in (stale_file, fresh):
        path.write_bytes(b"half")
    for path in (stale_folder, stale_file):
        os.utime(path, (0, 0))
    # Folders of someone's own, inside DATA_DIR or reached through a link, are not the commands' to clear.
    (data / "notes").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (data / "linked").symlink_to(elsewhere)
    theirs = [data / "notes" / ".tmp-draft", elsewhere / ".tmp-important"]
    for path in theirs:
        path.write_text("mine")
        os.utime(path, (0, 0))
    capsys.readouterr()
    assert main([*args, "--again"]) == 0  # t1's folder, with another run's file in progress, is still its own
    assert "removed 2 half-written files an interrupted run left in" in capsys.readouterr().err
    assert not stale_folder.exists() and not stale_file.exists()
    assert all(path.read_text() == "mine" for path in theirs)
    # SIGTERM mid-run stops it as Ctrl-C does: what was being written goes, what was done stays.
    import ml.cli

    real, saved = ml.cli.save_frames, []

    def stopped_while_writing_the_second(frames, path):
        saved.append(path)
        if len(saved) == 2:  # t1: its staging folder is made, and this is written into it
            os.kill(os.getpid(), signal.SIGTERM)
        return real(frames, path)

    monkeypatch.setattr(ml.cli, "save_frames", stopped_while_writing_the_second)
    again = tmp_path / "again"
    assert main(["preprocess", str(folder), "--out", str(again), *SAMPLING, "--no-embeddings"]) == 143
    assert "stopped (SIGTERM)" in capsys.readouterr().err
    assert sorted(p.name for p in again.iterdir()) == sorted(["t0", SAMPLING_FILE])  # no staging folder left
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back as it was


def test_preprocess_again_keeps_what_it_prepared_whole_from_the_same_files(tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    for n in range(3):
        generate_trailer(folder / f"t{n}.mp4", seed=n, duration=1.5, width=64, height=48)
    data = tmp_path / "data"
    args = ["preprocess", str(folder), "--out", str(data), *SAMPLING]
    assert main(args) == 0
    made = {p: p.stat().st_mtime_ns for p in data.glob("*/*.npy")}
    capsys.readouterr()
    assert main(args) == 0  # a run stopped half-way, run again, goes on where it was
    assert "prepared 0 of 3 videos" in (out := capsys.readouterr().out) and "3 were there already" in out
    assert {p: p.stat().st_mtime_ns for p in data.glob("*/*.npy")} == made
    # Another file of the same name, an embedding gone, or --again: prepared anew.
    generate_trailer(folder / "t0.mp4", seed=7, duration=1.5, width=64, height=48)
    (data / "t1" / "0.emb.npy").unlink()
    assert main(args) == 0 and "prepared 2 of 3 videos" in capsys.readouterr().out
    assert (data / "t1" / "0.emb.npy").is_file()
    assert main([*args, "--again"]) == 0 and "prepared 3 of 3 videos" in capsys.readouterr().out


def test_a_single_model_that_predicts_no_number_is_not_saved_and_one_gone_astray_is_said(prepared, capsys):
    """--folds 1 (the CLI's and the web's one-model runs) saved a model whose validation loss was infinite, and
    predict then wrote scores of 8e30, exit 0 both times."""
    template = [*TRAIN, "--out", "{tmp}/m.pt", "--lr", "1e9", "--epochs", "1", "--val-fraction", "0.5"]
    line, _ = fails(capsys, template, prepared)
    assert line.startswith("error: training diverged: the model predicts no number for its validation trailers")
    assert not (prepared["tmp"] / "m.pt").exists()
    template[template.index("1e9")] = "100"
    assert main([part.format(**prepared) for part in template]) == 0
    assert "times worse than predicting the mean rating on its validation trailers: its training most likely " \
           "went astray" in capsys.readouterr().err
