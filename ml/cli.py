"""``python -m ml``: the method without the web app.

    python -m ml preprocess VIDEO_DIR --out DATA_DIR [sampling options] [--embed-size PX | --no-embeddings]
    python -m ml embed DATA_DIR [--embed-size PX]
    python -m ml train DATA_DIR --markup FILE --out MODEL_FILE [--preset seed|scratch|default|single_frame]
                       [--folds K] [--epochs N] [model options: --encoder, --lstm-size, ...] ...
    python -m ml predict MODEL_FILE VIDEO_OR_DATA_DIR --out predictions.csv

DATA_DIR layout: ``DATA_DIR/sampling.json`` (the sampling settings),
``DATA_DIR/<video stem>/<subclip index>.npy`` (uint8 T×H×W×3 frames),
``DATA_DIR/<video stem>/<subclip index>.emb.npy`` (the pretrained encoder's
float16 T×1280 embeddings of those frames), ``DATA_DIR/embeddings.json`` (the
encoder, the SHA-256 of its weights and the frame side that made every
``.emb.npy`` in DATA_DIR) and ``DATA_DIR/<video stem>/trailer.json`` (the
source file, its probed metadata and the subclip plan). A markup ``Title``
matches the video's file name, without its extension or with it.

Exit status: 0 on success; 3 when preprocess, embed or predict skipped some
inputs (each named on stderr) and wrote the rest; 1 when the work failed or
nothing could be done (with one ``error:`` line on stderr saying why); 2 for a
command line that cannot be read or a value an option does not take; 130 when
interrupted. Output paths are checked before any work starts.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml.config import (
    ENCODER_SIZE_RULE,
    PRESETS,
    TRAIN_PRESETS,
    ConfigError,
    LRCNConfig,
    SamplingConfig,
    TrainConfig,
    check_value,
    encoder_reads,
    fits_single_frame_baseline,
    options,
    reading_snippets,
    sampled_snippets,
)
from ml.crossval import cross_validate
from ml.data import SAMPLING_FILE, find_subclips
from ml.embeddings import (
    EMBEDDINGS_FILE,
    SUFFIX,
    EmbeddingSpec,
    EncoderError,
    embed_subclip,
    embedding_path,
    installed_spec,
    load_embeddings,
    save_embeddings,
)
from ml.encoder import ENCODER_DIM, encoder_weights, shared_encoder
from ml.files import LEFTOVER, write_atomically
from ml.frames import load_frames, save_frames, write_contact_sheet
from ml.intervals import COVERAGE_WORDS
from ml.markup import MarkupError, match_markup, read_markup
from ml.metrics import ESTIMATE_ROLES, far_worse
from ml.predict import load_model, save_model_file, score_frame_files, score_video
from ml.train import TrainingDiverged, fit, resolve_device
from ml.video import VideoError, sample_trailer

TRAILER_FILE = "trailer.json"
# What DATA_DIR holds beside its trailers' folders: a video whose folder would take one of these names is skipped.
RESERVED_NAMES = frozenset({SAMPLING_FILE, EMBEDDINGS_FILE})
RUN_FILE = "run.json"  # in a cross-validated run's checkpoint folder: what the folds kept there were trained on
ENCODER = PRESETS["default"].encoder
DEFAULT_EMBED_SIZE = PRESETS["default"].frame_size


class CliError(Exception):
    """A problem to report in one line and exit with status 1."""


class UsageError(CliError):
    """A value given on the command line that its option does not take: exit status 2, as argparse gives for one
    it cannot read."""


def _refused_option(exc: ValueError, *classes) -> CliError:
    """A config's refusal in the command line's words: the option as typed (``--folds``), what it takes, the value
    given; a UsageError. Anything else stays the config's own message."""
    declared = {c.__name__: options(c) for c in classes}.get(getattr(exc, "owner", None), {})
    if not isinstance(exc, ConfigError) or exc.field not in declared:
        return CliError(str(exc))
    option = declared[exc.field]
    try:
        check_value(exc.field, exc.value, option)
        takes = exc.plain  # the value is one it takes alone: a rule between options refused it
    except ValueError:  # refused on its own: say every value it takes
        takes = option.describe()
    return UsageError(f"--{exc.field.replace('_', '-')} must be {takes}, got {_shown(exc.value)}")


# The exit status of a command that served some of its inputs and skipped others (each named on stderr with its
# reason): what it wrote for the rest is there, and a script can still tell that something was left out. Not 2,
# which argparse gives a command line it cannot read.
SOME_SKIPPED = 3
EXIT_WORDS = ("Exit status: 0 when every input served; 3 when some were skipped (each named on stderr with its "
              "reason; the rest are written); 1 on an error, or when none served; 2 for a command line that cannot "
              "be read, or a value an option does not take.")
TRAIN_EXIT_WORDS = ("Exit status: 0 when the model is saved; 1 on an error (one line on stderr says why); 2 for a "
                    "command line that cannot be read, or a value an option does not take; 130 when interrupted "
                    "(run it again to carry on).")


def _served(done: int, asked: int) -> int:
    """The exit status of a command that served ``done`` of ``asked`` inputs."""
    return 0 if done == asked else SOME_SKIPPED if done else 1


def main(argv: list[str] | None = None) -> int:
    """Run one command; an expected failure is reported in one ``error:`` line and exit status 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stopped_by = _stop_on_sigterm()
    try:
        return args.handler(args)
    except UsageError as exc:
        _fail(str(exc))
        return 2
    except (CliError, MarkupError, VideoError, EncoderError, FloatingPointError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(_os_error_words(exc))
    except Terminated:
        print("stopped (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if stopped_by is not None:
            signal.signal(signal.SIGTERM, stopped_by)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a process manager, ``kill``, a job scheduler's time limit): stopped as Ctrl-C stops a command, so that
    nothing is left half-written where a run can clean up after itself."""


def _stop_on_sigterm():
    """Raise Terminated on SIGTERM while a command runs; returns the handler to put back (None off the main thread,
    where no handler can be set)."""

    def terminated(signum, frame):
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, terminated)
    except ValueError:
        return None


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
    _add_embed(commands)
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
        with tempfile.NamedTemporaryFile(dir=where, prefix=LEFTOVER):
            pass
    except OSError as exc:
        raise CliError(f"{option} {path}: cannot create a file in {where} ({exc.strerror or exc})") from None


def _check_distinct(outputs: dict[str, Path | None], inputs: dict[str, Path | None]) -> None:
    """Refuse, before any work, an output that is one of the command's inputs or another of its outputs (the same
    file by another name included), or a file already inside an input folder (a video, a DATA_DIR's settings or
    frames): writing it would replace that file."""
    seen: list[tuple[str, Path]] = []
    given = [(name, path) for name, path in inputs.items() if path is not None]
    for option, path in outputs.items():
        if path is None:
            continue
        for other, known in [*given, *seen]:
            if _same_file(path, known):
                what = "folder" if path.is_dir() else "file"
                raise CliError(f"{option} {path} is also {other}: writing it would replace that {what}; "
                               f"choose another {option}")
        for other, known in given:
            if known.is_dir() and path.is_file() and _inside(path, known):
                raise CliError(f"{option} {path} is a file in {other} {known}: writing it would replace what the "
                               f"command reads; choose another {option}")
        seen.append((option, path))


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2) + "\n"
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def _read_sampling(data_dir: Path) -> SamplingConfig | None:
    """The sampling settings in ``DATA_DIR/sampling.json``; None when there are none."""
    settings_file = data_dir / SAMPLING_FILE
    if not settings_file.is_file():
        return None
    try:
        return SamplingConfig.saved(json.loads(settings_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:  # bad JSON or bad text are ValueErrors too
        raise CliError(f"{settings_file} is damaged: it does not hold the sampling settings "
                       f"`python -m ml preprocess` writes ({_one_line(exc)})") from None


# --------------------------------------------------------------------------- embeddings: shared by the commands


def _read_embedding_spec(data_dir: Path) -> EmbeddingSpec | None:
    """What made DATA_DIR's cached embeddings (``DATA_DIR/embeddings.json``); None when it has none."""
    spec_file = data_dir / EMBEDDINGS_FILE
    if not spec_file.is_file():
        return None
    try:
        return EmbeddingSpec.from_dict(json.loads(spec_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise CliError(f"{spec_file} is damaged: it does not hold the embedding settings "
                       f"`python -m ml preprocess` writes ({_one_line(exc)}); delete it, and `python -m ml embed "
                       f"{data_dir}` makes the embeddings and it again") from None


def _check_embed_size(size: int) -> None:
    if not encoder_reads(size):
        raise UsageError(f"--embed-size must be {ENCODER_SIZE_RULE} (the encoder halves the picture five times), "
                         f"got {size}")


def _installed_spec(size: int) -> EmbeddingSpec:
    """The spec of the embeddings this machine's encoder makes at ``size`` (hashes its weights file)."""
    return installed_spec(ENCODER, size)


def _device(name: str) -> str:
    try:
        return str(resolve_device(name))
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None


def _load_encoder(spec: EmbeddingSpec, device: str) -> None:
    """Load (and so check) the encoder's weights now, before any work: a damaged file is one error line."""
    shared_encoder(spec.encoder, device)


def _refuse_damaged_encoder() -> None:
    """Raise the encoder's own ``EncoderError`` when its installed weights file is damaged; else nothing (a
    missing encoder package included: whatever needed it says so)."""
    try:
        weights, spec = encoder_weights(ENCODER), _installed_spec(DEFAULT_EMBED_SIZE)
    except EncoderError:
        return
    if not spec.weights_sha256.startswith(weights.sha256_prefix):
        _load_encoder(spec, "cpu")  # refuses the file, in its words


def _cached_embeddings(frames_path: Path, *, load: bool):
    """A subclip's usable cached embeddings (the array when ``load``, else the path), or None when they are
    missing, damaged, or made from other frames than the subclip has now."""
    path = embedding_path(frames_path)
    if not path.is_file():
        return None
    try:
        array = load_embeddings(path, dim=ENCODER_DIM[ENCODER], frames=load_frames(frames_path, mmap=True).shape[0])
    except (ValueError, OSError):
        return None
    return array if load else path


def _embed_advice(data_dir: Path, made_with: EmbeddingSpec | None, wanted: EmbeddingSpec) -> str:
    """Why DATA_DIR's cache did not serve, and how to fill it."""
    # embed keeps the size a DATA_DIR's cache was made at unless told: the size wanted is said whenever one was.
    size = "" if made_with is None and wanted.size == DEFAULT_EMBED_SIZE else f" --embed-size {wanted.size}"
    command = f"`python -m ml embed {data_dir}{size}`"
    if made_with is None:
        return f"{data_dir} has no cached embeddings; store them with {command}"
    if made_with != wanted:
        return (f"{data_dir}'s cached embeddings were made with {made_with.describe()}; {command} replaces them "
                "(or prepare another DATA_DIR)")
    return f"some of {data_dir}'s cached embeddings are missing or stale; {command} fills them in"


def _add_embedding_options(p, *, default_help: str) -> None:
    p.add_argument("--embed-size", type=int, metavar="PX",
                   help="side frames are resized to for the pretrained encoder, a multiple of 16 ≥ 32 "
                        f"({default_help}); a model reads the cache only if this is its --frame-size")
    p.add_argument("--device", default="auto", help="where the encoder runs: auto (cuda where available), cpu, "
                                                    "cuda or cuda:N")


# --------------------------------------------------------------------------- preprocess


def _add_preprocess(commands) -> None:
    p = commands.add_parser(
        "preprocess", epilog=EXIT_WORDS, help="cut every video in a folder into subclips and store their sampled frames",
        description="Cut every video in VIDEO_DIR into subclips and store each subclip's sampled frames as "
                    "DATA_DIR/<video stem>/<subclip index>.npy, and the pretrained encoder's embeddings of them "
                    "beside, as <subclip index>.emb.npy (what made them goes in DATA_DIR/embeddings.json). "
                    "A file that cannot serve is reported with its reason and skipped. Defaults are the seed's: "
                    "3 subclips of 30 s from 10 s in, every 45th frame, 224×224.",
    )
    p.add_argument("video_dir", metavar="VIDEO_DIR", type=Path, help="folder of trailer videos")
    p.add_argument("--out", metavar="DATA_DIR", type=Path, required=True, help="where the frame arrays go")
    add_config_options(p, SamplingConfig, "sampling_", "sampling options",
                       "how each video becomes subclips of frames (ml.config.SamplingConfig)",
                       defaults=SamplingConfig(), alternatives=("frame_step", "frames_per_subclip"))
    p.add_argument("--contact-sheets", action="store_true", help="also write a JPEG contact sheet per subclip")
    _add_embedding_options(p, default_help=f"default {DEFAULT_EMBED_SIZE}, the default preset's frame size")
    p.add_argument("--no-embeddings", action="store_true",
                   help="store frames only (`python -m ml embed` adds the embeddings later)")
    p.add_argument("--again", action="store_true",
                   help="prepare every video again; by default one DATA_DIR already holds whole, made from the "
                        "same file (its size and time), is kept, so that a run stopped half-way goes on")
    p.add_argument("-v", "--verbose", action="store_true", help="say what each video gave")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(handler=run_preprocess)


def run_preprocess(args) -> int:
    if not args.video_dir.is_dir():
        raise CliError(f"{args.video_dir} is not a folder")
    _check_output(args.out, "--out", folder=True)
    _check_distinct({"--out": args.out}, {"VIDEO_DIR": args.video_dir})
    given = config_overrides(args, SamplingConfig, "sampling_")
    try:
        config = SamplingConfig(**given)
    except ValueError as exc:
        raise _refused_option(exc, SamplingConfig) from None
    embed_size = args.embed_size if args.embed_size is not None else DEFAULT_EMBED_SIZE
    _check_embed_size(embed_size)

    out: Path = args.out
    previous = _read_sampling(out)
    # The frames' settings (min_duration only says which videos are long enough: no frame changes with it).
    differ = [] if previous is None else [
        f"--{name.replace('_', '-')} {_shown(getattr(previous, name))} there, {_shown(getattr(config, name))} now"
        for name in previous.differing(config, [*SAMPLING_COMPARED, "snippet_frames"])]
    if differ:
        raise CliError(f"{out} was prepared with other sampling settings ({', '.join(differ)}); give the same "
                       "options, or choose another --out")
    made_with = _read_embedding_spec(out)
    spec = None if args.no_embeddings else _installed_spec(embed_size)
    if spec is not None and made_with is not None and made_with != spec:
        raise CliError(f"{out} holds embeddings made with {made_with.describe()}, not {spec.describe()}; "
                       "choose another --out")
    videos, passed_over = _files_in(args.video_dir)
    if not videos:
        raise CliError(f"{args.video_dir} holds no video files" + (" it can read (see above)" if passed_over else ""))
    _remove_leftovers(out)
    if args.no_embeddings:  # new videos may come without them (`embed` adds them later); prepared ones keep theirs
        embedded = [v.name for v in videos
                    if any(not p.name.startswith(LEFTOVER) for p in (out / v.stem).glob(f"*{SUFFIX}"))]
        if embedded:
            raise CliError(f"{out} holds embeddings of {len(embedded)} of these videos ({', '.join(embedded[:3])}"
                           f"{' …' if len(embedded) > 3 else ''}); preparing them again without embeddings would "
                           "delete theirs: leave out --no-embeddings, or choose another --out")
    device = "cpu"
    if spec is not None:
        device = _device(args.device)
        _load_encoder(spec, device)

    made_out = not out.exists()
    out.mkdir(parents=True, exist_ok=True)

    def settings_written() -> None:  # with the first trailer: a DATA_DIR that holds none stays free of them
        _write_json(out / SAMPLING_FILE, config.to_dict())
        if spec is not None:
            _write_json(out / EMBEDDINGS_FILE, spec.to_dict())

    prepared, kept, subclip_count, seen = 0, 0, 0, set()
    for video in tqdm(videos, desc="preprocess", unit="video", disable=None if not args.quiet else True):
        if video.stem in seen:
            _warn(f"skipped {video.name}: another video named {video.stem!r} was already prepared")
            continue
        there = out / video.stem
        if there.exists() and not _is_trailer_folder(there):
            _warn(f"skipped {video.name}: {there} is there and is not a trailer this command prepared; "
                  "it is left as it is")
            continue
        if not args.again and _prepared_whole(there, video, spec, args.contact_sheets):
            seen.add(video.stem)
            kept += 1
            continue
        try:
            info, subclips = sample_trailer(video, config)
        except VideoError as exc:
            _warn(f"skipped {video.name}: {exc}")
            continue
        except Exception as exc:  # a decoder failure we did not foresee must not stop the rest
            _warn(f"skipped {video.name}: {type(exc).__name__}: {exc}")
            continue
        embeddings = None
        if spec is not None:
            try:
                embeddings = [embed_subclip(s.frames, spec, device=device) for s in subclips]
            except EncoderError:
                raise  # every video would fail alike: stop, with nothing of this video written
            except Exception as exc:
                _warn(f"skipped {video.name}: its frames could not be embedded: {type(exc).__name__}: {exc}")
                continue
        seen.add(video.stem)

        def write(folder: Path, info=info, subclips=subclips, embeddings=embeddings, source=video.name,
                  video=video) -> None:
            for n, subclip in enumerate(subclips):
                save_frames(subclip.frames, folder / f"{subclip.plan.index}.npy")
                if embeddings is not None:
                    save_embeddings(embeddings[n], embedding_path(folder / f"{subclip.plan.index}.npy"))
                if args.contact_sheets:
                    write_contact_sheet(subclip.frames, folder / f"{subclip.plan.index}.jpg")
            _write_json(folder / TRAILER_FILE, {
                "source": source, "source_stamp": _file_stamp(video),  # its size and time: this very file
                "info": info.to_dict(),
                "subclips": [{**s.plan.to_dict(), "frames": int(s.frames.shape[0]), "timestamps": list(s.timestamps)}
                             for s in subclips],
            })

        if not prepared:
            settings_written()
        _write_trailer_folder(out, video.stem, write)
        prepared += 1
        subclip_count += len(subclips)
        if args.verbose:
            _say(args, f"{video.name}: {info.duration:.1f} s, {len(subclips)} subclips, "
                       f"{sum(s.frames.shape[0] for s in subclips)} frames"
                       f"{', embedded' if embeddings is not None else ''}")
    embedded = f", embedded with {spec.describe()}" if spec is not None else ""
    if not prepared and not kept and made_out and not any(out.iterdir()):
        out.rmdir()  # nothing was prepared: the folder this run made for it goes again
        _say(args, f"prepared none of {len(videos)} video{'s' * (len(videos) != 1)}; {out} was not made")
        return _served(prepared, len(videos) + passed_over)
    before = (f"; {kept} {'was' if kept == 1 else 'were'} there already, made from the same file{'s' * (kept != 1)} "
              "(--again prepares them anew)") if kept else ""
    _say(args, f"prepared {prepared} of {len(videos)} videos ({subclip_count} subclips) into {out}{embedded}{before}")
    return _served(prepared + kept, len(videos) + passed_over)


def _prepared_whole(folder: Path, video: Path, spec: EmbeddingSpec | None, contact_sheets: bool) -> bool:
    """Whether ``folder`` holds ``video`` prepared whole: from this very file (its name, size and time, which folders
    made before they were kept never match), every subclip's frames, and its embeddings and contact sheets where
    this run would write them. DATA_DIR's sampling and embeddings were checked to be this run's before."""
    try:
        made = json.loads((folder / TRAILER_FILE).read_text(encoding="utf-8"))
        indices = [int(item["index"]) for item in made["subclips"]]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if made.get("source") != video.name or made.get("source_stamp") != _file_stamp(video) or not indices:
        return False
    for index in indices:
        frames = folder / f"{index}.npy"
        if not frames.is_file() or (contact_sheets and not (folder / f"{index}.jpg").is_file()):
            return False
        if spec is not None and _cached_embeddings(frames, load=False) is None:
            return False
    return True


_TRAILER_PARTS = re.compile(r"\d+(\.emb)?\.npy|\d+\.jpg")  # what a trailer's folder held before its trailer.json


def _is_trailer_folder(path: Path) -> bool:
    """Whether ``path`` is a trailer's folder this command prepared (so preparing it again may replace it): it
    holds nothing but what this command writes there (a trailer.json beside a file of someone's own is not enough),
    a half-written file an interrupted run left included."""
    if not path.is_dir():
        return False
    names = [child.name for child in path.iterdir()]
    own = [name for name in names if not name.startswith(LEFTOVER)]
    return bool(own) and all(name == TRAILER_FILE or _TRAILER_PARTS.fullmatch(name) for name in own)


LEFTOVER_AGE_S = 600  # one this old is no other run's work in progress (writing one takes seconds)


def _remove_leftovers(data_dir: Path) -> None:
    """Delete what an interrupted run (killed, or its machine stopped) left half-written in DATA_DIR and its
    trailers' folders, and say so: hidden ``.tmp-`` files and folders older than LEFTOVER_AGE_S."""
    if not data_dir.is_dir():
        return
    now, removed = time.time(), 0
    # DATA_DIR itself, and the trailers' folders the commands made there: no folder of anyone's own, and no link
    # (it may lead anywhere).
    places = [data_dir, *(folder for folder in data_dir.iterdir() if not folder.is_symlink()
                          and not folder.name.startswith(".") and _is_trailer_folder(folder))]
    for place in places:
        for path in place.glob(f"{LEFTOVER}*"):
            try:
                if now - path.lstat().st_mtime < LEFTOVER_AGE_S:
                    continue
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            except OSError:
                continue  # another run removed it, or it cannot be: left as it is
            removed += 1
    if removed:
        _warn(f"removed {removed} half-written file{'s' * (removed != 1)} an interrupted run left in {data_dir}")


def _write_trailer_folder(out: Path, stem: str, write) -> None:
    """Write a trailer's folder in a hidden staging folder, then swap it in for whatever an earlier run left:
    a failure or an interruption leaves the old folder or the new one, never half of one."""
    staging = out / f"{LEFTOVER}{uuid.uuid4().hex}"  # hidden: find_subclips skips it
    try:
        staging.mkdir()
        write(staging)
        folder = out / stem
        if folder.exists():
            # Renamed aside, not deleted, until the new one is in place: two renames, not a whole deletion, is
            # all that stands between the old folder and the new.
            old = out / f"{LEFTOVER}{uuid.uuid4().hex}"
            folder.rename(old)
            try:
                staging.rename(folder)
            except BaseException:
                old.rename(folder)  # the old one back where it was
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- embed


def _add_embed(commands) -> None:
    p = commands.add_parser(
        "embed", epilog=EXIT_WORDS, help="store the pretrained encoder's embeddings of a DATA_DIR's prepared subclips",
        description="Embed every subclip in DATA_DIR (made by `preprocess`) that has no embeddings yet, or stale "
                    "ones (damaged, or made from other frames), from its stored frames: videos are not decoded "
                    "again. For a DATA_DIR prepared with --no-embeddings or before embeddings existed. Asked for "
                    "another size than DATA_DIR's embeddings were made at (or with the encoder's weights "
                    "changed), every subclip is embedded again.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR", type=Path, help="frames made by `python -m ml preprocess`")
    _add_embedding_options(p, default_help=f"default: the size DATA_DIR's embeddings were made at, else "
                                           f"{DEFAULT_EMBED_SIZE}")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(handler=run_embed)


def run_embed(args) -> int:
    data_dir: Path = args.data_dir
    if not data_dir.is_dir():
        raise CliError(f"{data_dir} is not a folder")
    subclips = find_subclips(data_dir)
    if not subclips:
        raise CliError(f"{data_dir} holds no prepared trailers; run `python -m ml preprocess` first")
    _check_output(data_dir, "DATA_DIR", folder=True)
    _remove_leftovers(data_dir)
    made_with = _read_embedding_spec(data_dir)
    size = args.embed_size if args.embed_size is not None else (made_with.size if made_with else DEFAULT_EMBED_SIZE)
    _check_embed_size(size)
    spec = _installed_spec(size)
    device = _device(args.device)
    _load_encoder(spec, device)

    if made_with != spec:
        # Every cache in DATA_DIR is one embeddings.json describes: those made another way go before it changes.
        stale = sorted(data_dir.glob(f"*/*{SUFFIX}"))
        if made_with is not None:
            _say(args, f"replacing the embeddings made with {made_with.describe()} by {spec.describe()}")
        for path in stale:
            path.unlink()
        _write_json(data_dir / EMBEDDINGS_FILE, spec.to_dict())

    embedded, kept, failed = 0, 0, 0
    jobs = [path for paths in subclips.values() for path in paths]
    for frames_path in tqdm(jobs, desc="embed", unit="subclip", disable=None if not args.quiet else True):
        if _cached_embeddings(frames_path, load=False) is not None:
            kept += 1
            continue
        try:
            frames = load_frames(frames_path, mmap=True)
        except (ValueError, OSError) as exc:
            _warn(f"skipped {frames_path}: {exc}")
            failed += 1
            continue
        save_embeddings(embed_subclip(frames, spec, device=device), embedding_path(frames_path))
        embedded += 1
    _say(args, f"embedded {embedded} of {len(jobs)} subclips of {len(subclips)} trailers in {data_dir} with "
               f"{spec.describe()} ({kept} had embeddings already{f', {failed} skipped' if failed else ''})")
    return _served(embedded + kept, len(jobs))


# --------------------------------------------------------------------------- train

# Model and training options are made from the declarations in ml/config.py: ``--lstm-size`` overrides
# ``lstm_size``, and so on; ``Option.flags`` adds another name where the command line had a shorter one.


def add_config_options(p, cls, prefix: str, title: str, description: str, *, defaults=None,
                       alternatives: tuple[str, ...] = ()) -> None:
    """One option per field of config class ``cls``, each as ml/config.py declares it (type, choices, help,
    the values it takes); unset, each is None (``defaults``: the values to name in the help). Fields in
    ``alternatives`` exclude each other."""
    group = p.add_argument_group(title, description)
    exclusive = group.add_mutually_exclusive_group() if alternatives else None
    for name, declared in options(cls).items():
        flags = ["--" + name.replace("_", "-"), *declared.flags]
        takes = [] if declared.choices or declared.kind is bool else [declared.describe()]
        if defaults is not None:
            takes.append(f"default {_shown(getattr(defaults, name))}")
        text = declared.help + (f" [{'; '.join(takes)}]" if takes else "")
        settings: dict[str, Any] = {"dest": prefix + name, "help": text.replace("%", "%%")}
        if declared.choices:
            settings["choices"] = declared.choices
        elif declared.kind is bool:
            settings.update(action=argparse.BooleanOptionalAction, default=None)
        elif declared.kind is int:
            settings.update(type=int, metavar="N")
        elif declared.kind is float:
            settings.update(type=float, metavar="X")
        elif declared.kind is tuple:  # "100,50" as the help and the admin's form write it, or "100 50"
            settings.update(type=_whole_numbers, nargs="+", metavar="N")
        else:
            settings["metavar"] = "NAME"
        (exclusive if name in alternatives else group).add_argument(*flags, **settings)


def _whole_numbers(text: str) -> list[int]:
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        numbers = []
    if not numbers:
        raise argparse.ArgumentTypeError(f"whole numbers separated by commas or spaces, got {text!r}")
    return numbers


def config_overrides(args, cls, prefix: str) -> dict[str, Any]:
    """The options of ``cls`` given on the command line (lists as tuples; "100,50 20" is 100, 50, 20)."""
    given = {name: getattr(args, prefix + name) for name in options(cls)}
    return {name: tuple(n for part in v for n in part) if isinstance(v, list) else v
            for name, v in given.items() if v is not None}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


def _add_train(commands) -> None:
    p = commands.add_parser(
        "train", epilog=TRAIN_EXIT_WORDS, help="train a model on prepared frames and a Title/Score markup file",
        description="Train an LRCN on DATA_DIR (made by `preprocess`) with ratings from a markup file "
                    "(columns Title and Score; CSV, XLS or XLSX; Title = the video's file name, with or without its "
                    "extension). "
                    "With --folds K ≥ 2 (the presets' 5) the trailers are split into K folds (near-duplicate "
                    "trailers kept in one fold); a model is trained for each on the others and scored on it, "
                    "and the run prints the cross-validated estimate (MAE, RMSE, Spearman: mean ± sd over folds) "
                    "of the model, the mean-rating baseline and the single-frame head, and saves the K fold "
                    "models as an ensemble (with --refit, the default preset's, one more model fit on every trailer "
                    "makes the predictions; the fold models give the uncertainty and the interval). An interrupted run carries on where it stopped when run again with "
                    "the same arguments. With --folds 1, one model is trained with a validation split, printing "
                    "per-epoch metrics and the mean-rating baseline, and checkpointing every epoch (--resume). "
                    "A frozen pretrained encoder trains on DATA_DIR's cached embeddings. Training options "
                    "default to the preset's "
                    f"(seed: {_train_summary(TRAIN_PRESETS['seed'])}; scratch: {_train_summary(TRAIN_PRESETS['scratch'])}; "
                    f"default: {_train_summary(TRAIN_PRESETS['default'])}).",
    )
    p.add_argument("data_dir", metavar="DATA_DIR", type=Path, help="frames made by `python -m ml preprocess`")
    p.add_argument("--markup", metavar="FILE", type=Path, required=True, help="Title/Score table (.csv, .xls, .xlsx)")
    p.add_argument("--out", metavar="MODEL_FILE", type=Path, required=True, help="where to save the trained model")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="model and training preset (default: default, the frozen pretrained encoder + LSTM; "
                        "scratch: the CNN learnt from nothing; seed: the seed's network)")
    p.add_argument("--subclips", type=int, metavar="N", help="use at most the first N subclips of each trailer")
    p.add_argument("--checkpoint", type=Path, metavar="PATH",
                   help="checkpoint file (default: MODEL_FILE.ckpt); with folds, the folder where finished folds "
                        "are kept until the model is saved (default: MODEL_FILE.ckpt.d)")
    p.add_argument("--resume", type=Path, metavar="CHECKPOINT", help="--folds 1: carry on from a checkpoint")
    p.add_argument("--log", type=Path, metavar="FILE",
                   help="save per-epoch metrics (.csv, else JSON lines); with folds, the model's, with a fold column")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the configs, the split, the data used (and with folds, every epoch)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors and the final line only")
    add_config_options(p, TrainConfig, "train_", "training options",
                       "override the preset's training (ml.config.TrainConfig)")
    add_config_options(p, LRCNConfig, "model_", "model options", "override the preset's network (ml.config.LRCNConfig)")
    p.set_defaults(handler=run_train)


def _train_summary(config) -> str:
    return f"{config.optimizer} lr {config.lr:g}, {config.loss}, batch {config.batch_size}, {config.epochs} epochs"


def _train_configs(args):
    """The run's TrainConfig and LRCNConfig: the preset's, with the command line's overrides."""
    base = TRAIN_PRESETS.get(args.preset, TRAIN_PRESETS["default"])
    model_overrides = config_overrides(args, LRCNConfig, "model_")
    if model_overrides.get("temporal") == "mean":
        model_overrides.setdefault("deltas", False)  # mean-pooled deltas are refused: the single-frame head has none
    config, train_refusals = TrainConfig.build({**base.to_dict(), **config_overrides(args, TrainConfig, "train_")})
    model_config, model_refusals = LRCNConfig.build({**PRESETS[args.preset].to_dict(), **model_overrides})
    refused = [_refused_option(exc, TrainConfig, LRCNConfig) for exc in [*train_refusals, *model_refusals]]
    if refused:  # every refusal at once, as the start form says them
        raise UsageError("; ".join(str(error) for error in refused))
    return config, model_config


def _source_name(data_dir: Path, stem: str) -> str:
    """The file name a prepared trailer was made from (its trailer.json says), else its folder's name."""
    try:
        source = json.loads((data_dir / stem / TRAILER_FILE).read_text(encoding="utf-8")).get("source")
    except (OSError, ValueError, AttributeError):
        source = None
    return source if isinstance(source, str) and Path(source).stem == stem else stem


def run_train(args) -> int:
    config, model_config = _train_configs(args)
    folds = config.folds >= 2
    if folds and args.resume is not None:
        raise CliError("--resume is for --folds 1; a cross-validated run carries on by itself when run again "
                       "with the same arguments")
    checkpoint = args.checkpoint or args.out.with_name(args.out.name + (".ckpt.d" if folds else ".ckpt"))
    _check_output(args.out, "--out")
    _check_output(checkpoint, "--checkpoint" if args.checkpoint else "the checkpoint", folder=folds)
    if args.log:
        _check_output(args.log, "--log")
    _check_distinct({"--out": args.out, "--checkpoint": checkpoint, "--log": args.log},
                    {"--markup": args.markup, "DATA_DIR": args.data_dir})
    _check_distinct({"--out": args.out, "--log": args.log}, {"--resume": args.resume})
    markup = read_markup(args.markup)
    subclips = find_subclips(args.data_dir)
    if not subclips:
        raise CliError(f"{args.data_dir} holds no prepared trailers; run `python -m ml preprocess` first")
    matched = match_markup(markup, {t: _source_name(args.data_dir, t) for t in subclips})
    ratings = matched.scores
    titles = [t for t in subclips if t in ratings]
    unrated = [t for t in subclips if t not in ratings]
    missing = matched.unmatched
    if titles:
        _say(args, f"markup: {matched.describe()}")
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
    samples: list[tuple] = [(t, [str(p) for p in subclips[t][:limit]], ratings[t]) for t in titles]

    sampling = _read_sampling(args.data_dir)
    if limit is not None and sampling is not None and limit < sampling.n_subclips:
        sampling = sampling.replace(n_subclips=limit)  # the model file says it: predict scores as many, the first
    model_config = _reading_snippets(args, model_config, sampling)
    spec = None
    if model_config.uses_embeddings:
        samples, spec = _with_cached_embeddings(args.data_dir, samples, model_config)
    else:
        samples = _with_embeddings_for_duplicates(args.data_dir, samples)

    if args.verbose:
        _say(args, f"model: {json.dumps(model_config.to_dict())}")
        _say(args, f"training: {json.dumps(config.to_dict())}")
        _say(args, f"sampling: {json.dumps(sampling.to_dict() if sampling else None)}")
        _say(args, f"embeddings: {spec.describe() if spec else None}")
        _say(args, f"{len(samples)} trailers, {sum(len(s[1]) for s in samples)} subclips; checkpoint: {checkpoint}")
    if folds:
        return _train_folds(args, samples, config, model_config, spec, sampling, checkpoint)
    return _train_once(args, samples, config, model_config, spec, sampling, checkpoint)


def _reading_snippets(args, model_config: LRCNConfig, sampling: SamplingConfig | None) -> LRCNConfig:
    """The model reading DATA_DIR's snippets (``ml.config.reading_snippets``): a preset's value gives way to
    them, with a note; one given as --snippet-frames that differs is refused, naming both."""
    reading = reading_snippets(model_config, sampling)
    if reading == model_config:
        return model_config
    held, asked = reading.snippet_frames, model_config.snippet_frames
    if getattr(args, "model_snippet_frames", None) is not None:
        raise CliError(f"{_sampled_in(args.data_dir, held)} ({SAMPLING_FILE}), but --snippet-frames asks the model "
                       f"to read snippets of {asked}: motion is read within the snippets the frames hold. Leave "
                       f"--snippet-frames out, or preprocess again with --snippet-frames {asked}")
    _say(args, f"note: {_sampled_in(args.data_dir, held)}; the model reads them so (the {args.preset} preset's "
               f"{asked} is for frames sampled as the web app samples)")
    return reading


SAMPLING_COMPARED = ("n_subclips", "subclip_duration", "offset", "frame_step", "frames_per_subclip", "size", "fast")


def _note_other_sampling(args, sampled: SamplingConfig | None, trained: dict[str, Any] | None) -> None:
    """Warn when DATA_DIR's frames were sampled otherwise than the model's training frames (the snippets are
    refused apart): the model scores them, but not as it would score the videos themselves."""
    if sampled is None or not trained:
        return
    model = SamplingConfig.saved(trained)
    # More subclips than the model trained on are no difference: predict reads the first ones, as train did.
    differ = [f"{name} {getattr(sampled, name)} (the model's {getattr(model, name)})"
              for name in sampled.differing(model, SAMPLING_COMPARED)
              if not (name == "n_subclips" and sampled.n_subclips > model.n_subclips)]
    if differ:
        _warn(f"note: {args.input}'s frames were sampled otherwise than {args.model_file}'s training frames: "
              f"{', '.join(differ)}; the scores may differ from those of the videos themselves, which are sampled "
              "as the model's frames were")


def _sampled_in(data_dir: Path, snippets: int) -> str:
    """"DATA_DIR's frames were sampled in snippets of N frames": how the snippet refusals and note begin."""
    return f"{data_dir}'s frames were sampled in snippets of {snippets} frame{'s' * (snippets != 1)}"


def _with_cached_embeddings(data_dir: Path, samples: list[tuple], model_config: LRCNConfig):
    """The samples with each subclip's cached embeddings (None where a subclip has none that serve), and the
    spec they were made with; warns once when some will be embedded on demand."""
    wanted = installed_spec(model_config.encoder, model_config.frame_size)
    made_with = _read_embedding_spec(data_dir)
    usable = made_with == wanted
    out, lacking, total = [], 0, 0
    for title, paths, rating in samples:
        cached = [_cached_embeddings(Path(p), load=True) if usable else None for p in paths]
        lacking += sum(c is None for c in cached)
        total += len(cached)
        out.append((title, paths, rating, cached))
    if lacking:
        _load_encoder(wanted, "cpu")  # ml embeds on demand on the CPU; damaged weights are one error line, now
        _warn(f"warning: embedding {lacking} of {total} subclips now with {wanted.describe()}, for this run only: "
              + _embed_advice(data_dir, made_with, wanted))
    return out, wanted


def _with_embeddings_for_duplicates(data_dir: Path, samples: list[tuple]) -> list[tuple]:
    """A CNN learnt from scratch reads no embeddings, but those DATA_DIR holds, made by this installation's encoder,
    find the near-duplicate trailers to keep in one fold, as a web run's do. None are made for it."""
    made_with = _read_embedding_spec(data_dir)
    if made_with is None or made_with != _installed_spec(made_with.size):
        return samples
    return [(title, paths, rating, [_cached_embeddings(Path(p), load=True) for p in paths])
            for title, paths, rating in samples]


def _files_in(folder: Path) -> tuple[list[Path], int]:
    """The files of ``folder`` a command reads as videos (hidden ones left out), by name, and how many other entries
    it passed over, each named on stderr with why: a link to nothing, a folder (its files are not read: a folder of
    folders is no VIDEO_DIR), or a file named as DATA_DIR's own settings are."""
    files, passed_over = [], 0
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_symlink() and not path.exists():
            _warn(f"skipped {path.name}: a link to {os.readlink(path)}, which is not there")
        elif path.is_dir():
            _warn(f"skipped {path.name}{os.sep}: a folder; only the files in {folder} itself are read (give "
                  f"{folder / path.name} to read its own)")
        elif path.stem in RESERVED_NAMES:
            _warn(f"skipped {path.name}: its folder would have the name of DATA_DIR's own {path.stem}; rename it")
        elif path.is_file():
            files.append(path)
            continue
        else:
            continue
        passed_over += 1
    return files, passed_over


def _interrupted(checkpoint: Path, model: Path) -> bool:
    """Whether ``checkpoint`` is the last epoch of a run that saved no model after it (a finished run writes its
    model file after its last checkpoint)."""
    if not checkpoint.is_file():
        return False
    return not model.is_file() or checkpoint.stat().st_mtime_ns > model.stat().st_mtime_ns


def _train_once(args, samples, config, model_config, spec, sampling, checkpoint: Path) -> int:
    """--folds 1: one fit with a validation split, per-epoch lines, a checkpoint every epoch."""
    if args.resume is None and _interrupted(checkpoint, args.out):
        _warn(f"warning: starting over: {checkpoint}, the last epoch of a run that did not finish, is replaced by "
              f"this run's (--resume {checkpoint} carries that run on instead)")
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
                     resume_from=args.resume, embedding_spec=spec)
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
    save_model_file(args.out, result, sampling=sampling, embedding=spec)
    best = result.best_metrics
    summary = f"saved {args.out}"
    if best and best.get("val_mae") is not None:
        summary += (f" (epoch {best['epoch']}: val MAE {best['val_mae']:.3f} vs baseline {best['baseline_mae']:.3f}, "
                    f"RMSE {best['val_rmse']:.3f} vs {best['baseline_rmse']:.3f})")
    print(summary)
    if best:
        _warn_if_far_worse(best.get("val_mae"), best.get("baseline_mae"), "on its validation trailers")
    return 0


ESTIMATE_LABELS = [(role, declared.label) for role, declared in ESTIMATE_ROLES.items()]  # the table's rows, in order


def _train_folds(args, samples, config, model_config, spec, sampling, folder: Path) -> int:
    """--folds K ≥ 2: cross-validate, print the estimate, save the fold models as the ensemble."""
    finished = _prepare_checkpoint_folder(folder, _run_fingerprint(samples, config, model_config, spec))
    if finished:
        _say(args, f"carrying on from {finished} finished fold(s) in {folder}")
    per_fold = 2 if fits_single_frame_baseline(config, model_config) else 1  # the model's fit, and its baseline's
    bar = None
    live: dict[int, list[dict[str, Any]]] = {}  # fold → its model fit's epochs so far (for --log)

    def on_progress(progress) -> None:
        nonlocal bar
        role = progress.role.replace("_", "-")
        folds = (progress.fits - (1 if config.refit else 0)) // per_fold
        where = f"fold {progress.fold}/{folds} {role}" if progress.fold else "the refit on every trailer"
        if bar is None:
            bar = tqdm(total=progress.fits, unit="fit", leave=False, disable=None if not args.quiet else True,
                       bar_format="{l_bar}{bar}| {n:.1f}/{total} fits [{elapsed}<{remaining}{postfix}]")
        bar.n = round(progress.fraction * progress.fits, 3)
        bar.set_description(f"{where} epoch {progress.epoch}/{progress.epochs}", refresh=False)
        bar.set_postfix(loss=f"{progress.metrics['train_loss']:.4f}")
        if progress.kind != "epoch":
            return
        if args.verbose:
            _say(args, f"{where}: {_epoch_line(progress.metrics, progress.epochs)}")
        if args.log and role == "model":
            live[progress.fold] = [{"fold": progress.fold, **m} for m in progress.history]
            _write_log(args.log, tuple(row for fold in sorted(live) for row in live[fold]))

    try:
        result = cross_validate(samples, config, model_config, embedding_spec=spec, callback=on_progress,
                                checkpoint_dir=folder)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        _warn(f"interrupted; the finished folds and the last finished epoch are kept in {folder}: run the same "
              "command again to carry on")
        raise
    except TrainingDiverged as exc:
        raise CliError(f"{exc}; try a lower --lr, or --grad-clip") from None
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()

    estimate = result.estimate()
    if args.log:
        _write_log(args.log, tuple({"fold": m["fold"], **m} for f in result.folds for m in f.history))
    if not args.quiet:
        for line in _estimate_lines(estimate, result, verbose=args.verbose):
            _say(args, line)
    save_model_file(args.out, result, sampling=sampling, embedding=spec)
    _clear_checkpoint_folder(folder)
    model, mean = estimate["summary"]["model"]["mae"], estimate["summary"]["mean_baseline"]["mae"]
    models = f"an ensemble of {len(result.folds)} fold models" + (
        f" and a refit on all {estimate['trailers']} trailers, whose predictions it gives" if result.refit else "")
    print(f"saved {args.out} ({models}; cross-validated MAE {_mean_sd(model)} vs mean rating {_mean_sd(mean)})")
    _warn_if_far_worse(model["mean"], mean["mean"], "on trailers it never saw")
    return 0


def _warn_if_far_worse(model_mae: float | None, mean_mae: float | None, where: str) -> None:
    if far_worse(model_mae, mean_mae):
        _warn(f"warning: the model did {model_mae / mean_mae:.0f} times worse than predicting the mean rating {where}: "
              "its training most likely went astray (try a lower --lr, or --grad-clip); its predictions are saved all "
              "the same")


def _estimate_lines(estimate: dict[str, Any], result, *, verbose: bool) -> list[str]:
    """Per-fold lines, then the cross-validated estimate block."""
    lines = []
    count = estimate["folds"]
    for row in estimate["per_fold"]:
        parts = [f"{label} MAE {_fmt3(row[role]['mae'])} RMSE {_fmt3(row[role]['rmse'])} "
                 f"Spearman {_fmt3(row[role]['spearman'])}" for role, label in ESTIMATE_LABELS if row.get(role)]
        share = f", neighbours' share {row['neighbour_weight']:g}" if row.get("neighbour_weight") is not None else ""
        lines.append(f"fold {row['fold']}/{count} ({row['trailers']} held out, {row['train_trailers']} trained on"
                     f"{share}): " + "  |  ".join(parts))
    asked = result.train_config.folds
    if count < asked:
        lines.append(f"note: --folds {asked} asked for more folds than there were trailers to deal out ({count}, "
                     f"each group of near-duplicates counting as one), so there are {count}")
    lines.append(f"cross-validated estimate ({count} folds, {estimate['trailers']} trailers; "
                 "mean ± sd over folds):")
    lines.append(f"  {'':<14}{'MAE':<18}{'RMSE':<18}Spearman")
    for role, label in ESTIMATE_LABELS:
        figures = estimate["summary"].get(role)
        if figures:
            lines.append(f"  {label:<14}" + "".join(f"{_mean_sd(figures[name]):<18}" for name in ("mae", "rmse"))
                         + _mean_sd(figures["spearman"]))
    if estimate.get("neighbour_weight") is not None:
        lines.append(f"the model mixes the head with the neighbours, their share {estimate['neighbour_weight']:g} "
                     "(chosen on the folds' held-out predictions; each fold's on the other folds')")
    groups = estimate["groups"]
    if not estimate["duplicates_checked"]:
        lines.append("near-duplicate groups: not looked for (no embeddings to compare trailers with)")
    else:
        named = "; ".join(", ".join(map(str, g)) for g in groups[:5]) + (" …" if len(groups) > 5 else "")
        lines.append(f"near-duplicate groups: {len(groups)} (frame match ≥ {estimate['duplicate_threshold']:g}, or "
                     f"a distance at most {estimate['duplicate_standout']:.0%} of the run's typical one)"
                     + (f": {named}" if groups else "") + (", each kept in one fold" if groups else ""))
    if verbose:
        lines.append("held-out predictions: " + ", ".join(f"{k} {v:.3f}" for k, v in estimate["predictions"].items()))
    return lines


def _fmt3(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _mean_sd(figure: dict[str, float | None]) -> str:
    if figure["mean"] is None:
        return "n/a"
    return f"{figure['mean']:.3f} ± {figure['sd']:.3f}"


def _run_fingerprint(samples, config, model_config, spec) -> dict[str, Any]:
    """What a cross-validated run's kept folds depend on: their models, their training, their data (each subclip's
    frames file by size and time of writing: frames prepared again, or folders swapped, are other data)."""
    ignored = {"device", "num_workers"}  # where and how fast, not what
    return json.loads(json.dumps({
        "model_config": model_config.to_dict(),
        "train_config": {k: v for k, v in config.to_dict().items() if k not in ignored},
        "samples": [[s[0], s[2], [_file_stamp(path) for path in s[1]]] for s in samples],
        "embedding": spec.to_dict() if spec else None,
    }))


def _file_stamp(path) -> list[int]:
    """A file's size and time of last writing, in nanoseconds ([] when it cannot be read: the run fails on it)."""
    try:
        info = Path(path).stat()
    except OSError:
        return []
    return [info.st_size, info.st_mtime_ns]


def _our_checkpoint_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("fold-*.pt")) + sorted(folder.glob("fold-*.ckpt")) + sorted(folder.glob("refit-*.ckpt"))


def _prepare_checkpoint_folder(folder: Path, fingerprint: dict[str, Any]) -> int:
    """Keep the folds an interrupted run of the same settings left (returns how many finished); clear those of
    another run; record this run's settings."""
    kept = _our_checkpoint_files(folder) if folder.is_dir() else []
    run_file = folder / RUN_FILE
    previous = None
    if run_file.is_file():
        try:
            previous = json.loads(run_file.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
    if kept and previous != fingerprint:
        _warn(f"warning: {folder} held the folds of a run with other settings or data; starting over")
        for path in kept:
            path.unlink()
        kept = []
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(run_file, fingerprint)
    return sum(1 for p in kept if p.suffix == ".pt")


def _clear_checkpoint_folder(folder: Path) -> None:
    """The model file holds every fold model now: remove what the run kept (the folder too, when empty)."""
    for path in [*_our_checkpoint_files(folder), folder / RUN_FILE]:
        path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something else is in it


def _fmt(value: Any) -> str:
    return "  n/a" if value is None else f"{value:.4f}"


def _epoch_line(m: dict[str, Any], epochs: int) -> str:
    return (f"epoch {m['epoch']}/{epochs}  train_loss {_fmt(m['train_loss'])}  val_loss {_fmt(m['val_loss'])}  "
            f"val_mae {_fmt(m['val_mae'])}  val_rmse {_fmt(m['val_rmse'])}  spearman {_fmt(m['val_spearman'])}  |  "
            f"baseline mae {_fmt(m['baseline_mae'])}  rmse {_fmt(m['baseline_rmse'])}  ({m['seconds']:.1f} s)")


def _write_log(path: Path, history: tuple[dict[str, Any], ...]) -> None:
    if not history:
        return
    if path.suffix.lower() == ".csv":
        fields = list(dict.fromkeys(name for row in history for name in row))
        data = _csv_bytes([fields, *([row.get(name, "") for name in fields] for row in history)])
    else:
        data = "".join(json.dumps(m) + "\n" for m in history).encode("utf-8")
    write_atomically(path, lambda handle: handle.write(data))


def _csv_bytes(rows) -> bytes:
    """Rows as CSV in UTF-8; a title from a file name that is not UTF-8 keeps that name's bytes (as Python reads
    such names), so it still matches the file."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8", errors="surrogateescape")


# --------------------------------------------------------------------------- predict


def _add_predict(commands) -> None:
    p = commands.add_parser(
        "predict", epilog=EXIT_WORDS, help="score trailers with a trained model",
        description="Score trailers with MODEL_FILE: a video file, a folder of videos (sampled as the model's "
                    "training frames were), or a DATA_DIR made by `preprocess` (its cached embeddings are used "
                    "where they were made the way the model's were). Writes one CSV row per trailer: title, "
                    "predicted score (the mean over its subclips: the refit's, where the model has one, else "
                    "averaged over the ensemble's models), spread "
                    "(the standard deviation over subclips) and number of subclips, in the columns they had before folds; "
                    "then uncertainty (the standard deviation over the ensemble's models; 0 for a model trained "
                    "without folds), and low and high: the "
                    f"range the rating should fall in {COVERAGE_WORDS['odds']}, from the folds' own errors (ml.intervals; "
                    "empty for a model trained without folds, or saved before they were kept), and novelty: how "
                    "unlike the model's training trailers the trailer looks (1: as unlike as a typical trailer of "
                    "its cross-validation; empty for a model that does not read embeddings, or saved before).",
    )
    p.add_argument("model_file", metavar="MODEL_FILE", type=Path)
    p.add_argument("input", metavar="VIDEO_OR_DATA_DIR", type=Path)
    p.add_argument("--out", metavar="CSV", type=Path, required=True, help="predictions file ('-' for stdout)")
    p.add_argument("--device", default="auto", help="auto (cuda where available), cpu, cuda or cuda:N")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(handler=run_predict)


def run_predict(args) -> int:
    if not args.model_file.is_file():
        raise CliError(f"{args.model_file}: no such model file")
    if str(args.out) != "-":
        _check_output(args.out, "--out")
        _check_distinct({"--out": args.out}, {"MODEL_FILE": args.model_file, "VIDEO_OR_DATA_DIR": args.input})
    try:
        loaded = load_model(args.model_file, device=args.device)
    except ValueError as exc:
        _refuse_damaged_encoder()  # a model refused for its embeddings' weights: most likely a damaged file here
        raise CliError(str(exc)) from None
    except RuntimeError as exc:  # EncoderError is one: its words are as clear
        raise CliError(str(exc)) from None
    if not args.input.exists():
        raise CliError(f"{args.input}: no such file or folder")

    jobs: list[tuple[str, Any]] = []
    prepared = find_subclips(args.input) if args.input.is_dir() else {}
    passed_over = 0  # a VIDEO_DIR's entries that are no videos (below)
    lacking = [0]  # subclips of a frozen pretrained encoder's model scored without a cache
    if prepared:
        sampled = _read_sampling(args.input)
        _note_other_sampling(args, sampled, loaded.sampling)
        held = sampled_snippets(sampled)
        if held is not None and held != loaded.model_config.snippet_frames:
            asked = loaded.model_config.snippet_frames
            raise CliError(f"{_sampled_in(args.input, held)} ({SAMPLING_FILE}), but {args.model_file} reads motion "
                           f"within snippets of {asked}; "
                           f"score the videos themselves (they are sampled as the model's frames were), or "
                           f"preprocess them again with --snippet-frames {asked}")
        wanted = EmbeddingSpec.from_dict(loaded.embedding) if loaded.model_config.uses_embeddings else None
        made_with = _read_embedding_spec(args.input) if wanted is not None else None

        subclips = SamplingConfig.saved(loaded.sampling).n_subclips if loaded.sampling else None

        def score_prepared(paths):
            paths = paths[:subclips]  # the first ones, as many as the model trained on (train --subclips)
            if wanted is None:
                return score_frame_files(loaded, paths)
            cached = [_cached_embeddings(p, load=False) if made_with == wanted else None for p in paths]
            scores = score_frame_files(loaded, paths, embeddings=cached, embedding_spec=wanted)
            lacking[0] += sum(c is None for c in cached)  # embedded: a trailer skipped above counts none
            return scores

        for title, paths in prepared.items():
            jobs.append((title, lambda paths=paths: score_prepared(paths)))
    else:
        videos, passed_over = ([args.input], 0) if args.input.is_file() else _files_in(args.input)
        if not videos:
            raise CliError(f"{args.input} holds no videos and no prepared frames")
        stems = Counter(video.stem for video in videos)
        for video in videos:  # titled as markup titles are; by the whole file name where two share a stem
            title = video.name if stems[video.stem] > 1 else video.stem
            jobs.append((title, lambda video=video: score_video(loaded, video)))

    rows = []
    for title, score in tqdm(jobs, desc="predict", unit="trailer", disable=None if not args.quiet else True):
        try:
            scores = score()
        except EncoderError:
            raise  # every trailer would fail alike
        except Exception as exc:  # one bad trailer must not stop the rest
            _warn(f"skipped {title}: {exc}")
            continue
        rows.append([title, f"{scores.mean:.4f}", f"{scores.spread:.4f}", len(scores.per_subclip),
                     f"{scores.uncertainty:.4f}",
                     *("" if v is None else f"{v:.4f}" for v in (scores.low, scores.high, scores.novelty))])
    if prepared and lacking[0]:
        _warn(f"warning: embedded {lacking[0]} subclips now for this run only: "
              + _embed_advice(args.input, made_with, wanted))
    if not rows:
        raise CliError("no trailer could be scored")
    # The columns predict wrote before folds, where they always were; what the fold ensemble adds after them.
    header = ["title", "predicted_score", "spread", "subclips", "uncertainty", "low", "high", "novelty"]
    data = _csv_bytes([header, *rows])
    if str(args.out) == "-":  # the same bytes a file would get (a title that is not UTF-8 keeps its own)
        sys.stdout.flush()
        if hasattr(sys.stdout, "buffer"):
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data.decode("utf-8", errors="replace"))
    else:
        # Written whole beside it, then renamed: a failure (a title that cannot be written, a full disk) keeps
        # the file that was there.
        write_atomically(args.out, lambda handle: handle.write(data))
        _say(args, f"scored {len(rows)} of {len(jobs)} trailers into {args.out}")
    return _served(len(rows), len(jobs) + passed_over)
