"""Storage of sampled frames: one uint8 ``.npy`` array (T×H×W×3, RGB) per subclip.

Training reads these memory-mapped, so no image is decoded per step.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ml.files import write_atomically


def save_frames(frames: np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``frames`` (uint8, T×H×W×3) to ``path`` atomically and return the path.

    The array is written to a temporary file beside the target and renamed into
    place, so a reader never sees half a file.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 shaped (T, H, W, 3), got {frames.dtype} {frames.shape}")
    return write_atomically(path, lambda handle: np.save(handle, np.ascontiguousarray(frames), allow_pickle=False))


def load_frames(path: str | os.PathLike, *, mmap: bool = True) -> np.ndarray:
    """Read a subclip's frames; memory-mapped (read-only) unless ``mmap`` is False.

    Memory-mapped, this reads only the header: a cheap check of a frame file.
    Raises ``ValueError`` naming the file when it is not a uint8 (T, H, W, 3)
    array with T ≥ 1 (empty, truncated, or some other array), and
    ``FileNotFoundError`` when it is missing.
    """
    try:
        frames = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (EOFError, ValueError) as exc:  # empty, truncated, not an .npy file, or pickled objects
        raise ValueError(f"{path}: a damaged frame file ({exc})") from None
    if not isinstance(frames, np.ndarray):  # an .npz archive
        frames.close()
        raise ValueError(f"{path}: not a frame file (an .npz archive, not one array)")
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"{path} does not hold uint8 (T, H, W, 3) frames with T ≥ 1: {frames.dtype} {frames.shape}")
    return frames


def write_contact_sheet(
    frames: np.ndarray, path: str | os.PathLike, *, columns: int = 8, thumb_size: int = 96, quality: int = 80
) -> Path:
    """Write a JPEG grid of a subclip's frames (``columns`` per row, each ``thumb_size`` wide) for web pages."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise ValueError(f"frames must be shaped (T, H, W, 3) with T ≥ 1, got {frames.shape}")
    count, height, width = frames.shape[:3]
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    thumb_w, thumb_h = thumb_size, max(1, round(thumb_size * height / width))
    sheet = Image.new("RGB", (columns * thumb_w, rows * thumb_h), (20, 20, 20))
    for i, frame in enumerate(frames):
        thumb = Image.fromarray(np.ascontiguousarray(frame)).resize((thumb_w, thumb_h), Image.BILINEAR)
        sheet.paste(thumb, ((i % columns) * thumb_w, (i // columns) * thumb_h))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="JPEG", quality=quality)
    return path
