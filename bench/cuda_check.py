"""Check the CUDA paths of ml/ on a machine with a GPU, and time them against its CPU.

Run by hand on a GPU machine (the tests run on CPU machines, where these paths cannot run)::

    python -m bench.cuda_check                 # prints one line per check, PASS or FAIL, with figures
    python -m bench.cuda_check --json out.json

What it checks, on frames it makes itself (no video decoding, so PyAV is not needed):

* the frozen encoder's embeddings on CUDA under autocast match the CPU's (cosine), and their speed;
* the ``default`` preset cross-validated on CUDA (cached embeddings, mixed precision), its model file
  loaded on CUDA and on the CPU giving the same scores;
* ``finetune_blocks``: the encoder's last blocks learn on CUDA while the others stay as shipped, and a
  checkpoint resumes;
* the ``scratch`` preset trains on CUDA with mixed precision;
* one training step of the ``seed`` preset (379 M parameters at 224²): its time and peak GPU memory.

Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml.config import PRESETS, TRAIN_PRESETS, TrainConfig  # noqa: E402
from ml.crossval import cross_validate  # noqa: E402
from ml.data import TrailerSample, resize_frames  # noqa: E402
from ml.embeddings import embed_subclip, installed_spec  # noqa: E402
from ml.frames import save_frames  # noqa: E402
from ml.model import build_model  # noqa: E402
from ml.predict import load_model, save_model_file, score_frame_files  # noqa: E402
from ml.train import fit  # noqa: E402

RESULTS: list[dict] = []


def record(name: str, ok: bool, **figures) -> None:
    RESULTS.append({"check": name, "ok": bool(ok), **figures})
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {shown}", flush=True)


def synthetic_frames(rating: float, rng: np.random.Generator, count: int, size: int,
                     scene: np.ndarray | None = None) -> np.ndarray:
    """A subclip whose brightness and square's speed follow ``rating``, over a scene of its own (a photograph
    from the scikit-image wheel, so that trailers do not all look alike): something for a model to learn."""
    if scene is None:
        scene = photo_scene(int(rng.integers(1000)), size)
    frames = np.empty((count, size, size, 3), np.uint8)
    start = rng.uniform(0, size / 2)
    for t in range(count):
        frame = scene * 0.7 + 10 * rating + rng.normal(0, 4, size=(size, size, 3))
        x = int(start + t * rating * size / 80) % (size - size // 6)
        frame[size // 3: size // 3 + size // 6, x:x + size // 6] = 250
        frames[t] = np.clip(frame, 0, 255)
    return frames


def _photo_files() -> list[Path]:
    # Read straight from the scikit-image wheel's data folder: ml.synth, which catalogues these photos,
    # imports PyAV, which a GPU machine's image may lack.
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the photos come from the scikit-image wheel: pip install -r requirements-dev.txt")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg") and p.stat().st_size > 20_000)


def photo_scene(index: int, size: int) -> np.ndarray:
    from PIL import Image

    files = _photo_files()
    with Image.open(files[index % len(files)]) as image:
        photo = np.array(image.convert("RGB"))
    return resize_frames(np.ascontiguousarray(photo[None]), size)[0].numpy().astype(np.float32)


def make_samples(folder: Path, n: int, size: int, frames: int, *, embed_device: str | None) -> tuple[list, object]:
    rng = np.random.default_rng(0)
    spec = installed_spec("efficientnet_lite0", size) if embed_device else None
    samples = []
    for i in range(n):
        rating = float(rng.uniform(1, 10))
        scene = photo_scene(i, size)
        paths, embeddings = [], []
        for j in range(2):
            array = synthetic_frames(rating, rng, frames, size, scene)
            path = folder / f"t{i}-{j}-{size}.npy"
            save_frames(array, path)
            paths.append(str(path))
            if spec is not None:
                embeddings.append(embed_subclip(array, spec, device=embed_device))
        samples.append(TrailerSample(f"t{i}", tuple(paths), rating, tuple(embeddings) if spec else None))
    return samples, spec


DEVICE = "cuda"


def sync() -> None:
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, repeats: int = 5) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def check_embeddings(rng) -> None:
    from ml.encoder import embed_frames

    frames = np.stack([synthetic_frames(float(r), rng, 1, 112)[0] for r in rng.uniform(1, 10, 48)])
    for size in (112, 224):
        cpu = embed_frames(frames, size=size, device="cpu").astype(np.float32)
        gpu = embed_frames(frames, size=size, device=DEVICE).astype(np.float32)
        cosine = (cpu * gpu).sum(1) / (np.linalg.norm(cpu, axis=1) * np.linalg.norm(gpu, axis=1))
        started = time.perf_counter()
        embed_frames(frames, size=size, device="cpu")
        cpu_seconds = time.perf_counter() - started
        gpu_seconds = timed(lambda size=size: embed_frames(frames, size=size, device=DEVICE))
        record(f"embeddings at {size}² on CUDA (autocast fp16) match the CPU's", cosine.min() > 0.995,
               min_cosine=float(cosine.min()), cpu_s_48_frames=cpu_seconds, cuda_s_48_frames=gpu_seconds,
               speedup=cpu_seconds / gpu_seconds)


def check_default(folder: Path) -> None:
    samples, spec = make_samples(folder, 24, 112, 32, embed_device=DEVICE)
    config = TRAIN_PRESETS["default"].replace(device=DEVICE, folds=3, epochs=15)
    started = time.perf_counter()
    result = cross_validate(samples, config, PRESETS["default"], embedding_spec=spec)
    seconds = time.perf_counter() - started
    estimate = result.estimate()["summary"]
    model_mae, base_mae = estimate["model"]["mae"]["mean"], estimate["mean_baseline"]["mae"]["mean"]
    on_device = str(next(result.members[0].model.parameters()).device).startswith(DEVICE.split(":")[0])
    # A path check: the figures are printed, not judged (24 trailers of made-up frames teach little).
    record("default preset cross-validates on CUDA (3 folds, cached embeddings, mixed precision)",
           on_device and np.isfinite(model_mae) and len(result.folds) == 3, seconds=seconds, cv_mae=model_mae, mean_baseline_mae=base_mae,
           device=str(next(result.members[0].model.parameters()).device))
    path = save_model_file(folder / "default.pt", result, embedding=spec)
    on_gpu, on_cpu = load_model(path, device=DEVICE), load_model(path, device="cpu")
    diffs = []
    for sample in samples[:6]:
        a = score_frame_files(on_gpu, sample.subclips)
        b = score_frame_files(on_cpu, sample.subclips)
        diffs.append(abs(a.mean - b.mean))
        diffs.append(abs(a.uncertainty - b.uncertainty))
    record("a model file trained on CUDA scores alike on CUDA and on the CPU", max(diffs) < 0.05,
           max_difference=float(max(diffs)))


def check_finetune(folder: Path) -> None:
    from ml.encoder import FrameEncoder

    samples, _ = make_samples(folder, 12, 112, 8, embed_device=None)
    model_config = PRESETS["default"].replace(finetune_blocks=2)
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-3, device=DEVICE, num_workers=2, frames_per_sample=8,
                         restore_best=False, mixed_precision=True)
    checkpoint = folder / "finetune.ckpt"
    started = time.perf_counter()
    fit(samples, config, model_config, checkpoint_path=checkpoint)
    seconds = time.perf_counter() - started
    resumed = fit(samples, config.replace(epochs=3), model_config, resume_from=checkpoint)
    shipped = FrameEncoder().state_dict()
    learnt = {k: v.detach().cpu() for k, v in resumed.model.encoder.state_dict().items()}
    blocks = len(resumed.model.encoder.net._blocks)
    frozen_same = all(torch.equal(shipped[k], learnt[k]) for k in shipped
                      if k.startswith("net._blocks.") and int(k.split(".")[2]) < blocks - 2
                      and not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    last_changed = any(not torch.equal(shipped[k], learnt[k]) for k in shipped
                       if k.startswith(f"net._blocks.{blocks - 1}.") and k.endswith("weight"))
    losses = [m["train_loss"] for m in resumed.history]
    record("finetune_blocks=2 trains the encoder's last blocks on CUDA, the rest stay as shipped, and resumes",
           frozen_same and last_changed and len(losses) == 3 and all(np.isfinite(losses)),
           seconds_2_epochs=seconds, epochs_after_resume=len(losses), frozen_blocks_unchanged=frozen_same,
           last_block_changed=last_changed, train_loss_first=losses[0], train_loss_last=losses[-1])


def check_scratch(folder: Path) -> None:
    samples, _ = make_samples(folder, 16, 64, 16, embed_device=None)
    config = TRAIN_PRESETS["scratch"].replace(device=DEVICE, epochs=6, num_workers=2)
    started = time.perf_counter()
    result = fit(samples, config, PRESETS["scratch"])
    losses = [m["train_loss"] for m in result.history]
    record("scratch preset trains on CUDA with mixed precision", all(np.isfinite(losses)) and losses[-1] < losses[0],
           seconds=time.perf_counter() - started, train_loss_first=losses[0], train_loss_last=losses[-1])


def check_seed_step() -> None:
    model = build_model("seed").to(DEVICE).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    frames = torch.randint(0, 256, (10, 16, 224, 224, 3), dtype=torch.uint8, device=DEVICE)
    targets = torch.randn(10, device=DEVICE)
    torch.cuda.reset_peak_memory_stats()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(torch.device(DEVICE).type, dtype=torch.bfloat16):
            out = model(frames)
        loss = torch.nn.functional.mse_loss(out.float(), targets)
        loss.backward()
        optimizer.step()

    seconds = timed(step, repeats=3)
    peak = torch.cuda.max_memory_allocated() / 2**30
    record("seed preset: one training step on CUDA (batch 10 × 16 frames at 224², bf16 autocast)", True,
           seconds_per_step=seconds, peak_gib=peak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--device", default="cuda",
                        help="cuda (default), or cpu to try this script itself where there is no GPU")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: nothing to check (--device cpu runs the script on the CPU)", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(0) if DEVICE.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__}, {name}", flush=True)
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix="reelscore-cuda-") as tmp:
        folder = Path(tmp)
        checks = [("embeddings", lambda: check_embeddings(rng)), ("default", lambda: check_default(folder)),
                  ("finetune", lambda: check_finetune(folder)), ("scratch", lambda: check_scratch(folder))]
        if DEVICE.startswith("cuda"):  # 10 GB and ten seconds a step on a CPU: only where it means something
            checks.append(("seed step", check_seed_step))
        for name, check in checks:
            try:
                check()
            except Exception as exc:  # one broken path should not hide the others
                record(name, False, error=f"{type(exc).__name__}: {exc}")
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2))
    return 0 if all(r["ok"] for r in RESULTS) else 1


if __name__ == "__main__":
    raise SystemExit(main())
