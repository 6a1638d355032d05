"""Check, on a GPU machine, what the GPU worker's set-up relies on (run by hand; needs only torch and numpy)::

    CUDA_VISIBLE_DEVICES=0 python -m bench.gpu_worker

1. Importing what a worker imports (ml.train, ml.predict, ml.crossval) initialises no CUDA: a worker's
   main process can fork its pool, or run tasks itself (solo), without a CUDA context made before a fork.
2. Why that matters: a process forked after its parent initialised CUDA cannot use CUDA (PyTorch refuses).
   A solo-pool worker never forks after CUDA starts; a prefork pool is safe only while the parent never
   touches CUDA.
3. What a run records as its GPU (``ml.train.describe_device``): name, cuda index, the machine's GPU number
   through CUDA_VISIBLE_DEVICES, UUID.
4. A run trains on the GPU (mixed precision), checkpoints, and a fresh process resumes it from the checkpoint
   (as another GPU worker does from the store), giving the same history as the epochs it did not redo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def samples(folder: Path, n: int = 12):
    import numpy as np

    from ml.frames import save_frames

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        rating = 1 + 9 * i / (n - 1)
        paths = []
        for k in range(2):
            frames = (rng.random((8, 32, 32, 3)) * 255 * (rating / 10)).astype("uint8")
            paths.append(str(save_frames(frames, folder / f"{i}-{k}.npy")))
        out.append((f"t{i}", paths, rating))
    return out


def train(folder: Path, epochs: int, resume: bool) -> dict:
    from ml.config import LRCNConfig, TrainConfig
    from ml.train import describe_device, fit

    config = TrainConfig(epochs=epochs, batch_size=4, frames_per_sample=4, device="cuda", lr=0.01,
                         mixed_precision=True, val_fraction=0.25, random_seed=3)
    model = LRCNConfig(frame_size=32, channels1=4, channels2=8, embedding_size=8, lstm_size=8)
    checkpoint = folder / "checkpoint.pt"
    started = time.perf_counter()
    result = fit(samples(folder), config, model, checkpoint_path=checkpoint,
                 resume_from=checkpoint if resume else None)
    return {"device": result.device, "gpu": describe_device(result.device), "seconds": time.perf_counter() - started,
            "history": [round(m["train_loss"], 6) for m in result.history]}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--train":
        print(json.dumps(train(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "resume")))
        return
    import torch

    import ml.crossval  # noqa: F401 - what a worker imports
    import ml.predict  # noqa: F401
    import ml.train  # noqa: F401

    print(f"torch {torch.__version__}; CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}")
    print(f"1. CUDA initialised by importing ml: {torch.cuda.is_initialized()} (must be False)")

    torch.zeros(1, device="cuda")  # this process initialises CUDA, then forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            torch.zeros(1, device="cuda")
            message = "the forked child used CUDA"
        except RuntimeError as exc:
            message = f"the forked child could not: {exc}"
        os.write(write, message.encode()[:500])
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    print(f"2. after CUDA started in the parent, {os.read(read, 500).decode()}")

    from ml.train import describe_device

    print(f"3. the run records: {describe_device('cuda')!r}")
    with tempfile.TemporaryDirectory() as folder:
        def run(epochs: int, resume: bool) -> dict:
            out = subprocess.run([sys.executable, "-m", "bench.gpu_worker", "--train", folder, str(epochs),
                                  "resume" if resume else "fresh"], cwd=ROOT, capture_output=True, text=True,
                                 timeout=600)
            if out.returncode:
                raise RuntimeError(out.stderr[-3000:])
            return json.loads(out.stdout.strip().splitlines()[-1])

        first = run(2, False)
        second = run(4, True)
        print(f"4. trained on {first['device']} ({first['gpu']}): {first['history']} in {first['seconds']:.1f} s; "
              f"a fresh process resumed it: {second['history']} in {second['seconds']:.1f} s; "
              f"the first two epochs kept: {second['history'][:2] == first['history']}")


if __name__ == "__main__":
    main()
