"""``python -m ml``: the method without the web app.

    python -m ml preprocess VIDEO_DIR --out DATA_DIR [sampling options]
    python -m ml train DATA_DIR --markup FILE --out MODEL_FILE [--preset seed|default] [--epochs N] ...
    python -m ml predict MODEL_FILE VIDEO_OR_DATA_DIR --out predictions.csv

DATA_DIR layout: ``DATA_DIR/sampling.json`` (the sampling settings),
``DATA_DIR/<video stem>/<subclip index>.npy`` (uint8 T×H×W×3 frames) and
``DATA_DIR/<video stem>/trailer.json`` (the source file, its probed metadata
and the subclip plan). A markup ``Title`` matches the video stem.

Exit status: 0 on success (preprocess and predict: at least one trailer
done), 1 when the work failed or nothing could be done (with one ``error:``
line on stderr saying why), 2 for a usage error, 130 when interrupted. Output
paths are checked before any work starts.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml.data import SAMPLING_FILE, find_subclips
from ml.markup import MarkupError
from ml.video import SamplingConfig, VideoError

TRAILER_FILE = "trailer.json"


class CliError(Exception):
    """A problem to report in one line and exit with status 1."""


def main(argv: list[str] | None = None) -> int:
    """Run one command; an expected failure is reported in one ``error:`` line and exit status 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (CliError, MarkupError, VideoError, FloatingPointError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(_os_error_words(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return 1


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _os_error_words(exc: OSError) -> str:
    """``path: reason`` for an error about a file; the error's own words otherwise."""
    words = exc.strerror or str(exc)
    return words if exc.filename is None else f"{exc.filename}: {words}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml",
        description="Predict movie-trailer ratings from their frames with an LRCN (CNN + LSTM).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_preprocess(commands)
    _add_train(commands)
    _add_predict(commands)
    return parser


def _say(args, message: str) -> None:
    if not getattr(args, "quiet", False):
        tqdm.write(message, file=sys.stdout)


def _warn(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def _check_output(path: Path, option: str, *, folder: bool = False) -> None:
    """Refuse, before any work, an output the command could not write: a folder where a file is wanted (or
    the other way round), or a place where no file can be created (missing folders are created later)."""
    if path.exists() and path.is_dir() != folder:
        raise CliError(f"{option} {path} is a {'folder' if path.is_dir() else 'file'}; "
                       f"it must be {'a folder' if folder else 'a file name'}")
    if path.is_file() and not os.access(path, os.W_OK):
        raise CliError(f"{option} {path}: the file cannot be written (permission denied)")
    where = path if path.is_dir() else path.parent
    while not where.exists():
        where = where.parent
    if not where.is_dir():
        raise CliError(f"{option} {path}: {where} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=where, prefix=".tmp-"):
            pass
    except OSError as exc:
        raise CliError(f"{option} {path}: cannot create a file in {where} ({exc.strerror or exc})") from None


def _read_sampling(data_dir: Path) -> SamplingConfig | None:
    """The sampling settings in ``DATA_DIR/sampling.json``; None when there are none."""
    settings_file = data_dir / SAMPLING_FILE
    if not settings_file.is_file():
        return None
    try:
        return SamplingConfig.from_dict(json.loads(settings_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:  # bad JSON or bad text are ValueErrors too
        raise CliError(f"{settings_file} is damaged: it does not hold the sampling settings "
                       f"`python -m ml preprocess` writes ({_one_line(exc)})") from None


# --------------------------------------------------------------------------- preprocess


def _add_preprocess(commands) -> None:
    p = commands.add_parser(
        "preprocess", help="cut every video in a folder into subclips and store their sampled frames",
        description="Cut every video in VIDEO_DIR into subclips and store each subclip's sampled frames as "
                    "DATA_DIR/<video stem>/<subclip index>.npy. A file that cannot serve is reported with its "
                    "reason and skipped. Defaults are the seed's: 3 subclips of 30 s from 10 s in, every 45th frame, "
                    "224×224.",
    )
    p.add_argument("video_dir", metavar="VIDEO_DIR", type=Path, help="folder of trailer videos")
    p.add_argument("--out", metavar="DATA_DIR", type=Path, required=True, help="where the frame arrays go")
    p.add_argument("--subclips", type=int, default=3, metavar="N", help="subclips per trailer (default 3)")
    p.add_argument("--subclip-duration", type=float, default=30.0, metavar="S", help="seconds (default 30)")
    p.add_argument("--offset", type=float, default=10.0, metavar="S", help="first subclip starts here (default 10)")
    p.add_argument("--min-duration", type=float, default=1.0, metavar="S", help="shortest usable video (default 1)")
    frames = p.add_mutually_exclusive_group()
    frames.add_argument("--frame-step", type=int, metavar="N", help="keep every Nth frame (default 45, the seed's)")
    frames.add_argument("--frames-per-subclip", type=int, metavar="T", help="keep T frames evenly spaced in time")
    p.add_argument("--size", type=int, default=224, metavar="PX", help="frame side after resize + centre crop (default 224)")
    p.add_argument("--fast", action="store_true", help="take the nearest keyframes: much faster, inexact")
    p.add_argument("--contact-sheets", action="store_true", help="also write a JPEG contact sheet per subclip")
    p.add_argument("-v", "--verbose", action="store_true", help="say what each video gave")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(handler=run_preprocess)


def run_preprocess(args) -> int:
    from ml.frames import save_frames, write_contact_sheet
    from ml.video import sample_trailer

    if not args.video_dir.is_dir():
        raise CliError(f"{args.video_dir} is not a folder")
    _check_output(args.out, "--out", folder=True)
    options = {
        "n_subclips": args.subclips, "subclip_duration": args.subclip_duration, "offset": args.offset,
        "min_duration": args.min_duration, "size": args.size, "fast": args.fast,
    }
    if args.frames_per_subclip is not None:
        options["frames_per_subclip"] = args.frames_per_subclip
    elif args.frame_step is not None:
        options["frame_step"] = args.frame_step
    try:
        config = SamplingConfig(**options)
    except ValueError as exc:
        raise CliError(f"bad sampling option: {exc}") from None

    out: Path = args.out
    previous = _read_sampling(out)
    if previous is not None and previous != config:
        raise CliError(f"{out} was prepared with other sampling settings ({previous.to_dict()}); "
                       "choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / SAMPLING_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    videos = sorted(p for p in args.video_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if not videos:
        raise CliError(f"{args.video_dir} holds no files")
    prepared, subclip_count, seen = 0, 0, set()
    for video in tqdm(videos, desc="preprocess", unit="video", disable=None if not args.quiet else True):
        if video.stem in seen:
            _warn(f"skipped {video.name}: another video named {video.stem!r} was already prepared")
            continue
        try:
            info, subclips = sample_trailer(video, config)
        except VideoError as exc:
            _warn(f"skipped {video.name}: {exc}")
            continue
        except Exception as exc:  # a decoder failure we did not foresee must not stop the rest
            _warn(f"skipped {video.name}: {type(exc).__name__}: {exc}")
            continue
        seen.add(video.stem)
        folder = out / video.stem
        if folder.exists():
            shutil.rmtree(folder)  # replace whatever an earlier run left
        folder.mkdir(parents=True)
        for subclip in subclips:
            save_frames(subclip.frames, folder / f"{subclip.plan.index}.npy")
            if args.contact_sheets:
                write_contact_sheet(subclip.frames, folder / f"{subclip.plan.index}.jpg")
        (folder / TRAILER_FILE).write_text(json.dumps({
            "source": video.name,
            "info": info.to_dict(),
            "subclips": [{**s.plan.to_dict(), "frames": int(s.frames.shape[0]), "timestamps": list(s.timestamps)}
                         for s in subclips],
        }, indent=2) + "\n")
        prepared += 1
        subclip_count += len(subclips)
        if args.verbose:
            _say(args, f"{video.name}: {info.duration:.1f} s, {len(subclips)} subclips, "
                       f"{sum(s.frames.shape[0] for s in subclips)} frames")
    _say(args, f"prepared {prepared} of {len(videos)} videos ({subclip_count} subclips) into {out}")
    return 0 if prepared else 1


# --------------------------------------------------------------------------- train


def _add_train(commands) -> None:
    from ml.model import ACTIVATIONS, PRESETS
    from ml.train import LOSSES, OPTIMIZERS, TRAIN_PRESETS

    p = commands.add_parser(
        "train", help="train a model on prepared frames and a Title/Score markup file",
        description="Train an LRCN on DATA_DIR (made by `preprocess`) with ratings from a markup file "
                    "(columns Title and Score; CSV, XLS or XLSX; Title = video file name without extension). "
                    "Prints per-epoch metrics and the mean-rating baseline; writes a checkpoint after every epoch "
                    "and the model file at the end. Training options default to the preset's "
                    f"(seed: {_train_summary(TRAIN_PRESETS['seed'])}; default: {_train_summary(TRAIN_PRESETS['default'])}).",
    )
    p.add_argument("data_dir", metavar="DATA_DIR", type=Path, help="frames made by `python -m ml preprocess`")
    p.add_argument("--markup", metavar="FILE", type=Path, required=True, help="Title/Score table (.csv, .xls, .xlsx)")
    p.add_argument("--out", metavar="MODEL_FILE", type=Path, required=True, help="where to save the trained model")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default", help="model preset (default: default)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), help="override the preset's activation")
    p.add_argument("--epochs", type=int, metavar="N")
    p.add_argument("--batch-size", type=int, metavar="N")
    p.add_argument("--lr", type=float, metavar="LR", help="learning rate")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--loss", choices=LOSSES)
    p.add_argument("--weight-decay", type=float, metavar="W")
    p.add_argument("--grad-clip", type=float, metavar="NORM", help="clip the gradient norm to NORM")
    p.add_argument("--patience", type=int, metavar="N", help="stop after N epochs without a better validation loss")
    p.add_argument("--val-fraction", type=float, metavar="F", help="share of trailers held out for validation")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (split, initialisation, shuffling)")
    p.add_argument("--device", help="auto (cuda where available), cpu, cuda or cuda:N")
    p.add_argument("--workers", type=int, metavar="N", help="data-loading worker processes")
    p.add_argument("--frames-per-sample", type=int, metavar="T", help="frames per subclip fed to the model")
    p.add_argument("--subclips", type=int, metavar="N", help="use at most the first N subclips of each trailer")
    p.add_argument("--checkpoint", type=Path, metavar="FILE", help="checkpoint path (default: MODEL_FILE.ckpt)")
    p.add_argument("--resume", type=Path, metavar="CHECKPOINT", help="carry on from a checkpoint")
    p.add_argument("--log", type=Path, metavar="FILE", help="save per-epoch metrics (.csv, else JSON lines)")
    p.add_argument("-v", "--verbose", action="store_true", help="print the configs, the split and the data used")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors and the final line only")
    p.set_defaults(handler=run_train)


def _train_summary(config) -> str:
    return f"{config.optimizer} lr {config.lr:g}, {config.loss}, batch {config.batch_size}, {config.epochs} epochs"


def run_train(args) -> int:
    from ml.markup import read_markup
    from ml.model import PRESETS
    from ml.predict import save_model_file
    from ml.train import TRAIN_PRESETS, TrainingDiverged, fit

    checkpoint = args.checkpoint or args.out.with_name(args.out.name + ".ckpt")
    _check_output(args.out, "--out")
    _check_output(checkpoint, "--checkpoint" if args.checkpoint else "the checkpoint")
    if args.log:
        _check_output(args.log, "--log")
    ratings = read_markup(args.markup)
    subclips = find_subclips(args.data_dir)
    if not subclips:
        raise CliError(f"{args.data_dir} holds no prepared trailers; run `python -m ml preprocess` first")
    titles = [t for t in subclips if t in ratings]
    unrated = [t for t in subclips if t not in ratings]
    missing = [t for t in ratings if t not in subclips]
    if unrated:
        _warn(f"warning: {len(unrated)} prepared trailer(s) have no score in the markup and are left out: "
              f"{', '.join(unrated[:5])}{' …' if len(unrated) > 5 else ''}")
    if missing:
        _warn(f"warning: {len(missing)} markup title(s) have no prepared frames: "
              f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    if len(titles) < 2:
        raise CliError(f"need at least 2 prepared trailers with a score, found {len(titles)}")
    limit = args.subclips
    if limit is not None and limit < 1:
        raise CliError("--subclips must be at least 1")
    samples = [(t, [str(p) for p in subclips[t][:limit]], ratings[t]) for t in titles]

    overrides = {
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "optimizer": args.optimizer,
        "loss": args.loss, "weight_decay": args.weight_decay, "grad_clip": args.grad_clip,
        "early_stopping_patience": args.patience, "val_fraction": args.val_fraction, "seed": args.seed,
        "device": args.device, "num_workers": args.workers, "frames_per_sample": args.frames_per_sample,
    }
    base = TRAIN_PRESETS.get(args.preset, TRAIN_PRESETS["default"])
    try:
        config = base.replace(**{k: v for k, v in overrides.items() if v is not None})
        model_config = PRESETS[args.preset]
        if args.activation:
            model_config = model_config.replace(activation=args.activation)
    except ValueError as exc:
        raise CliError(str(exc)) from None

    sampling = _read_sampling(args.data_dir)
    if args.verbose:
        _say(args, f"model: {json.dumps(model_config.to_dict())}")
        _say(args, f"training: {json.dumps(config.to_dict())}")
        _say(args, f"sampling: {json.dumps(sampling.to_dict() if sampling else None)}")
        _say(args, f"{len(samples)} trailers, {sum(len(s[1]) for s in samples)} subclips; checkpoint: {checkpoint}")

    bar = None

    def on_progress(progress) -> None:
        nonlocal bar
        if progress.kind == "step":
            if bar is None:
                bar = tqdm(total=progress.steps, desc=f"epoch {progress.epoch}/{progress.epochs}", unit="step",
                           leave=False, disable=None if not args.quiet else True)
            bar.update(1)
            bar.set_postfix(loss=f"{progress.metrics['train_loss']:.4f}")
            return
        if bar is not None:
            bar.close()
            bar = None
        _say(args, _epoch_line(progress.metrics, progress.epochs))
        if args.log:
            _write_log(args.log, progress.history)  # every epoch, those before a --resume too

    try:
        result = fit(samples, config, model_config, callback=on_progress, checkpoint_path=checkpoint,
                     resume_from=args.resume)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        _warn(f"interrupted; the last finished epoch is in {checkpoint} (carry on with --resume {checkpoint})")
        raise
    except TrainingDiverged as exc:
        raise CliError(f"{exc}; try a lower --lr, or --grad-clip") from None
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    if args.verbose:
        _say(args, f"split: {len(result.split.train)} training, {len(result.split.val)} validation trailers")
    save_model_file(args.out, result, sampling=sampling)
    best = result.best_metrics
    summary = f"saved {args.out}"
    if best and best.get("val_mae") is not None:
        summary += (f" (epoch {best['epoch']}: val MAE {best['val_mae']:.3f} vs baseline {best['baseline_mae']:.3f}, "
                    f"RMSE {best['val_rmse']:.3f} vs {best['baseline_rmse']:.3f})")
    print(summary)
    return 0


def _fmt(value: Any) -> str:
    return "  n/a" if value is None else f"{value:.4f}"


def _epoch_line(m: dict[str, Any], epochs: int) -> str:
    return (f"epoch {m['epoch']}/{epochs}  train_loss {_fmt(m['train_loss'])}  val_loss {_fmt(m['val_loss'])}  "
            f"val_mae {_fmt(m['val_mae'])}  val_rmse {_fmt(m['val_rmse'])}  spearman {_fmt(m['val_spearman'])}  |  "
            f"baseline mae {_fmt(m['baseline_mae'])}  rmse {_fmt(m['baseline_rmse'])}  ({m['seconds']:.1f} s)")


def _write_log(path: Path, history: tuple[dict[str, Any], ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    else:
        path.write_text("".join(json.dumps(m) + "\n" for m in history))


# --------------------------------------------------------------------------- predict


def _add_predict(commands) -> None:
    p = commands.add_parser(
        "predict", help="score trailers with a trained model",
        description="Score trailers with MODEL_FILE: a video file, a folder of videos (sampled as the model's "
                    "training frames were), or a DATA_DIR made by `preprocess`. Writes one CSV row per trailer: "
                    "title, predicted score (the mean over its subclips), spread (their standard deviation), "
                    "number of subclips.",
    )
    p.add_argument("model_file", metavar="MODEL_FILE", type=Path)
    p.add_argument("input", metavar="VIDEO_OR_DATA_DIR", type=Path)
    p.add_argument("--out", metavar="CSV", type=Path, required=True, help="predictions file ('-' for stdout)")
    p.add_argument("--device", default="auto", help="auto (cuda where available), cpu, cuda or cuda:N")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(handler=run_predict)


def run_predict(args) -> int:
    from ml.predict import load_model, score_frame_files, score_video

    if not args.model_file.is_file():
        raise CliError(f"{args.model_file}: no such model file")
    if str(args.out) != "-":
        _check_output(args.out, "--out")
    try:
        loaded = load_model(args.model_file, device=args.device)
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    if not args.input.exists():
        raise CliError(f"{args.input}: no such file or folder")

    jobs: list[tuple[str, Any]] = []
    if args.input.is_dir() and find_subclips(args.input):
        for title, paths in find_subclips(args.input).items():
            jobs.append((title, lambda paths=paths: score_frame_files(loaded, paths)))
    else:
        videos = [args.input] if args.input.is_file() else sorted(
            p for p in args.input.iterdir() if p.is_file() and not p.name.startswith(".")
        )
        if not videos:
            raise CliError(f"{args.input} holds no videos and no prepared frames")
        for video in videos:
            jobs.append((video.stem, lambda video=video: score_video(loaded, video)))

    rows = []
    for title, score in tqdm(jobs, desc="predict", unit="trailer", disable=None if not args.quiet else True):
        try:
            scores = score()
        except Exception as exc:  # one bad trailer must not stop the rest
            _warn(f"skipped {title}: {exc}")
            continue
        rows.append([title, f"{scores.mean:.4f}", f"{scores.spread:.4f}", len(scores.per_subclip)])
    if not rows:
        raise CliError("no trailer could be scored")
    header = ["title", "predicted_score", "spread", "subclips"]
    if str(args.out) == "-":
        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        writer.writerows(rows)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        _say(args, f"scored {len(rows)} of {len(jobs)} trailers into {args.out}")
    return 0
