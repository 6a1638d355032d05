"""Which preset a run's options are: the name the start-run form began from, told from a stored config.

ml.config has no torch in it, so the web side reads its presets here without loading a network.
"""

from __future__ import annotations

from ml.config import PRESETS, TRAIN_PRESETS

CUSTOM = "custom"
# The fewest ratings a trailer needs for a user_mean label, by default: the start-run form's and the demo's.
# On the demo's trailers 1 and 2 select the same 80 (bench/demo_default.py); on a sparse site 1 keeps more.
DEFAULT_MIN_RATINGS = 1
MAX_MIN_RATINGS = 1_000_000  # the start form's and the API's bound
# The options a run may change without leaving its preset: where its frames come from, not what it learns.
IGNORED = {"frame_size"}


def preset_of(model_config: dict) -> str:
    """The preset whose model options ``model_config`` has (its frame size aside: the demo and the admin set it
    to the size embeddings were made at), or "custom"."""
    wanted = {k: v for k, v in model_config.items() if k not in IGNORED}
    for name, config in PRESETS.items():
        known = {k: v for k, v in config.to_dict().items() if k not in IGNORED}
        if {**known, **wanted} == known and set(wanted) == set(known):
            return name
    return CUSTOM


PRESET_NAMES = [*PRESETS, CUSTOM]
__all__ = ["CUSTOM", "DEFAULT_MIN_RATINGS", "MAX_MIN_RATINGS", "PRESET_NAMES", "TRAIN_PRESETS", "preset_of"]
