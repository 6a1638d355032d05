"""Local files: the name FFmpeg should open them by, and atomic writes that name the user's path in errors."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def media_url(path: str | os.PathLike) -> str:
    """The URL FFmpeg (PyAV's ``av.open``) must be given to open the local file ``path``, whatever its name.

    FFmpeg reads the text before a ``:`` as a protocol, so ``Alien:Covenant.mkv``
    or ``file:x.webm`` given as they are would be looked up as protocols. The
    ``file:`` protocol with an absolute path opens exactly the named file.
    """
    return "file:" + os.fspath(Path(path).absolute())


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``path`` to write (by name) in the ``with`` block; renamed to ``path`` at its end.

    A reader never sees half a file, and a failed write leaves no temporary file
    behind. An ``OSError`` names ``path``, never the temporary file. The file gets
    the permissions a plain ``open`` would give it (0666 less the umask).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_file(path.parent, path.suffix)
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it to ``path``; return the path
    (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
    return Path(path)


LEFTOVER = ".tmp-"  # what every file and folder written whole then renamed is called until it is renamed


def _new_file(folder: Path, suffix: str) -> str:
    """Create an empty, hidden file of a name no one else has in ``folder``, with the permissions ``open`` gives
    (0666 less the umask; ``tempfile.mkstemp``'s are 0600, for this user alone)."""
    while True:
        name = os.path.join(folder, f"{LEFTOVER}{uuid.uuid4().hex}{suffix}")
        try:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return name
        except FileExistsError:
            continue


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error, about ``path`` (``OSError`` picks the subclass from the errno, as ``open`` does)."""
    return OSError(exc.errno, exc.strerror or str(exc), os.fspath(path))


def out_of_room(exc: BaseException) -> bool:
    """Whether ``exc`` says a write found no room: the disk or the quota full, or numpy's short write of an array
    (``OSError("1204224 requested and 458624 written")``, which names no errno)."""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or (
        exc.errno is None and " requested and " in str(exc) and str(exc).rstrip().endswith("written"))
