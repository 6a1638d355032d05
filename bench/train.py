"""Benchmark: the seed's training loop (a faithful replica) against the ``seed`` and ``scratch`` presets'
training steps, printed side by side. (What the presets learn, on trailers they never saw, is
``bench/learn.py``'s.)

Run by hand, not by the tests (about 5–10 minutes on 2 CPU cores)::

    .venv/bin/python -m bench.train
    .venv/bin/python -m bench.train --skip-original          # without the slow original

Timings: batch 10 × 16 frames, Adam, MSE, ``torch.set_num_threads(2)``, each
variant in its own process (so ``ru_maxrss`` is that variant's peak memory),
the median of a few steps after warm-up:

* ``original``: the seed's ``CNN``/``LRCN`` classes copied here as they were
  (the CNN runs in a Python loop over the sequences of the batch), and the
  batch read from JPEG folders the way its image-folder loader did (PIL open,
  resize the shorter side to 255, centre crop 224, to float tensor).
* ``seed``: ``build_model("seed")`` (same layers, same weights count), the CNN
  over all B·T frames at once, the batch from uint8 ``.npy`` through
  ``ml.data.SubclipDataset``.
* ``scratch``: ``build_model("scratch")`` (the small CNN trained from scratch) at its own
  frame size, same data path.

A step is load + forward + backward + optimiser step, loading done in the
same process (no workers) so the two data paths are compared as they cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

BATCH, FRAMES, SEED_LR = 10, 16, 3e-4
ORIGINAL_PARAMS = 379_357_456


# --------------------------------------------------------------------------- the seed's code, as it was


def activation_func(activation):
    return nn.ModuleDict({"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(), "selu": nn.SELU()})[activation]


class CNN(torch.nn.Module):
    def __init__(self, channels1=10, channels2=20, embedding_size=15, activation="relu"):
        super().__init__()
        self.layer1 = torch.nn.Sequential(torch.nn.Conv2d(3, channels1, kernel_size=5, padding=2),
                                          activation_func(activation), torch.nn.BatchNorm2d(num_features=channels1),
                                          torch.nn.MaxPool2d(2, 2))
        self.layer2 = torch.nn.Sequential(torch.nn.Conv2d(channels1, channels2, kernel_size=3, padding=1),
                                          torch.nn.Dropout2d(p=0.2), activation_func(activation),
                                          torch.nn.BatchNorm2d(num_features=channels2), torch.nn.MaxPool2d(2, 2))
        self.encoder = torch.nn.Sequential(self.layer1, self.layer2)
        self.decoder = torch.nn.Sequential(torch.nn.Linear(56 * 56 * channels2, 6000), activation_func(activation),
                                           torch.nn.Linear(6000, 500), activation_func(activation),
                                           torch.nn.Linear(500, embedding_size))

    def forward(self, x):
        x = self.encoder(x)
        x = x.view(x.size(0), x.size(1) * x.size(2) * x.size(3))
        return self.decoder(x)


class LRCN(torch.nn.Module):
    def __init__(self, channels1=10, channels2=20, embedding_size=15, LSTM_size=64, LSTM_layers=1,  # noqa: N803
                 activation="relu"):
        super().__init__()
        self.cnn = CNN(channels1, channels2, embedding_size, activation)
        self.rnn = torch.nn.LSTM(input_size=embedding_size, hidden_size=LSTM_size, num_layers=LSTM_layers,
                                 batch_first=True)
        self.linear = torch.nn.Linear(LSTM_size, 1)

    def forward(self, x):
        heatmaps = []
        for seq in x:
            heatmaps.append(self.cnn.forward(seq))
        heatmaps = torch.stack(heatmaps)
        out, (_, _) = self.rnn(heatmaps)
        out = self.linear(out)
        return out[:, -1, :]


def load_jpeg_batch(folders: list[Path]) -> torch.Tensor:
    """The seed's image-folder read: PIL, Resize(255), CenterCrop(224), ToTensor; short sequences zero-padded."""
    from PIL import Image

    batch = []
    for folder in folders:
        frames = []
        for path in sorted(folder.glob("*.jpg"))[:FRAMES]:
            image = Image.open(path).convert("RGB")
            w, h = image.size
            scale = 255 / min(w, h)
            image = image.resize((int(w * scale), int(h * scale)), Image.BILINEAR)
            w, h = image.size
            left, top = int(round((w - 224) / 2)), int(round((h - 224) / 2))
            image = image.crop((left, top, left + 224, top + 224))
            frames.append(torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1))
        while len(frames) < FRAMES:
            frames.append(torch.zeros(3, 224, 224))
        batch.append(torch.stack(frames))
    return torch.stack(batch)


# --------------------------------------------------------------------------- one variant, in its own process


def run_variant(variant: str, data: Path, warmup: int, steps: int) -> dict:
    from ml.data import SubclipDataset
    from ml.model import build_model, count_parameters

    torch.set_num_threads(2)
    torch.manual_seed(0)
    targets = torch.linspace(1, 10, BATCH)
    if variant == "original":
        model = LRCN()
        folders = sorted(p for p in (data / "jpeg").iterdir() if p.is_dir())[:BATCH]

        def load():
            return (load_jpeg_batch(folders).float(),)

        def forward(x):
            return model(x).view(BATCH)
    else:
        model = build_model(variant)
        size = model.config.frame_size
        files = sorted((data / f"npy{size}").glob("*.npy"))[:BATCH]
        dataset = SubclipDataset([(str(p), 0.0) for p in files], frames_per_sample=FRAMES, frame_size=size)
        loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=0)

        def load():
            frames, lengths, _ = next(iter(loader))
            return frames, lengths

        def forward(frames, lengths):
            return model(frames, lengths)

    optimizer = torch.optim.Adam(model.parameters(), lr=SEED_LR)
    loss_fn = nn.MSELoss()
    model.train()
    load_times, compute_times = [], []
    for step in range(warmup + steps):
        started = time.perf_counter()
        batch = load()
        loaded = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_fn(forward(*batch), targets)
        loss.backward()
        optimizer.step()
        done = time.perf_counter()
        if step >= warmup:
            load_times.append(loaded - started)
            compute_times.append(done - loaded)
    step_times = [a + b for a, b in zip(load_times, compute_times, strict=True)]
    return {
        "variant": variant,
        "params": count_parameters(model),
        "frame_size": 224 if variant == "original" else model.config.frame_size,
        "load_s": statistics.median(load_times),
        "compute_s": statistics.median(compute_times),
        "step_s": statistics.median(step_times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --------------------------------------------------------------------------- data


def make_timing_data(folder: Path) -> None:
    """10 subclips × 16 frames of a synthetic 640×360 trailer: as JPEG folders (seed) and as .npy (224², scratch's)."""
    from PIL import Image

    from ml.config import PRESETS
    from ml.frames import save_frames
    from ml.synth import generate_trailer
    from ml.video import plan_subclips, sample_frames

    video = generate_trailer(folder / "trailer.mp4", seed=3, duration=8.0, width=640, height=360).path
    plan = plan_subclips(8.0, n_subclips=BATCH, subclip_duration=0.75, offset=0.0)
    for size in (None, 224, PRESETS["scratch"].frame_size):
        for subclip in sample_frames(video, plan, frames_per_subclip=FRAMES, size=size):
            i = subclip.plan.index
            if size is None:  # full-size frames, one JPEG each, as the seed's video_to_frames wrote them
                out = folder / "jpeg" / f"trailer_{i}"
                out.mkdir(parents=True, exist_ok=True)
                for k, frame in enumerate(subclip.frames):
                    Image.fromarray(frame).save(out / f"{k * 45:06d}.jpg", quality=95)
            else:
                save_frames(subclip.frames, folder / f"npy{size}" / f"{i}.npy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3, help="measured training steps per variant (default 3)")
    parser.add_argument("--skip-original", action="store_true", help="leave out the 11 GB original replica")
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_variant(args.child, args.data, args.warmup, args.steps)))
        return 0

    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="reelscore-bench-train-") as tmp:
        tmp = Path(tmp)
        make_timing_data(tmp / "timing")
        results = {}
        variants = ([] if args.skip_original else ["original"]) + ["seed", "scratch"]
        for variant in variants:
            warmup, steps = (2, 2 * args.steps) if variant == "scratch" else (args.warmup, args.steps)
            done = subprocess.run(
                [sys.executable, "-m", "bench.train", "--child", variant, "--data", str(tmp / "timing"),
                 "--warmup", str(warmup), "--steps", str(steps)],
                cwd=ROOT, capture_output=True, text=True,
            )
            if done.returncode != 0:
                print(f"{variant} failed:\n{done.stderr}", file=sys.stderr)
                return 1
            results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  measured {variant}", flush=True)
        print_timings(results)

    return 0


def print_timings(r: dict) -> None:
    print("\nTraining step, batch 10 × 16 frames, Adam, MSE, 2 threads (median after warm-up)")
    print(f"{'variant':<50} {'frames':>7} {'params':>13} {'load s':>8} {'compute s':>10} {'step s':>8} {'peak RSS':>9}")
    names = {
        "original": "original (CNN loop per sequence, JPEG folders)",
        "seed": "seed preset (CNN over B·T frames, .npy)",
        "scratch": "scratch preset (.npy)",
    }
    for key, label in names.items():
        if key in r:
            v = r[key]
            print(f"{label:<50} {v['frame_size']:>5}² {v['params']:>13,} {v['load_s']:>8.3f} {v['compute_s']:>10.3f} "
                  f"{v['step_s']:>8.3f} {v['peak_rss_mb'] / 1024:>7.2f} GB")
    seed, scratch = r["seed"], r["scratch"]
    print(f"scratch has {seed['params'] / scratch['params']:,.0f}× fewer parameters than the seed preset "
          f"(target ≥ 50×: {_ok(seed['params'] / scratch['params'] >= 50)})")
    if "original" in r:
        o = r["original"]
        print(f"seed preset step {o['step_s'] / seed['step_s']:.1f}× faster than the original "
              f"(target ≥ 2×: {_ok(o['step_s'] / seed['step_s'] >= 2)})")
        print(f"scratch step {o['step_s'] / scratch['step_s']:.1f}× faster than the original "
              f"(target ≥ 10×: {_ok(o['step_s'] / scratch['step_s'] >= 10)})")
        print(f"scratch peak memory {scratch['peak_rss_mb'] / o['peak_rss_mb']:.3f} of the original's "
              f"(target ≤ 0.2: {_ok(scratch['peak_rss_mb'] / o['peak_rss_mb'] <= 0.2)})")
        print(f"batch load: JPEG folders {o['load_s']:.3f} s, .npy {seed['load_s']:.3f} s "
              f"({o['load_s'] / seed['load_s']:.0f}× faster)")


def _ok(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


if __name__ == "__main__":
    raise SystemExit(main())
