"""What the demo build is doing, for every page's banner: a small JSON file under VAR_DIR.

The demo is built in the background while the site already serves (``manage.py serve --demo``); the
builder writes its stage here as it goes, and the pages read it (trailers/context_processors.py). A
build whose process has gone without finishing is reported as stopped, not as still going.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

FILE = "demo-status.json"


def _path() -> Path:
    return Path(settings.VAR_DIR) / FILE


def write(stage: str, *, done: bool = False, failed: bool = False) -> None:
    """Say what the build is doing now (``done``: it finished; ``failed``: it gave up, ``stage`` says why);
    atomically, so a page never reads half of it."""
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"stage": stage, "done": done, "failed": failed, "pid": os.getpid(),
                                     "updated": time.time()}))
    temporary.replace(path)


@dataclass(frozen=True)
class BuildStatus:
    stage: str
    stopped: bool  # the builder's process is gone, the build unfinished


def current() -> BuildStatus | None:
    """The build still going (or stopped half-way), or None when there is none or it finished."""
    try:
        data = json.loads(_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("done"):
        return None
    return BuildStatus(stage=str(data.get("stage", "")), stopped=bool(data.get("failed")) or not _alive(data.get("pid")))


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
