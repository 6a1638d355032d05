"""A worker's local cache of stored objects: what its tasks read from the object store, fetched once.

An entry is keyed by the object's name and its content hash (the store's ETag, or size and modification
time where a store has none), so an object replaced under the same name (a run's checkpoint) is fetched
anew and never confused with the old one. The folder is the whole index: nothing else is kept, so a cache
folder deleted under a running worker only means the next reads are misses.

Several worker processes on one machine share a cache safely, through file locks (``flock``):

- an entry is downloaded to a temporary file and renamed into place, so nobody sees half an object;
- one process downloads an object while the others wanting it wait on its lock, then find it there;
- a task holds a shared lock on every entry it reads for as long as it reads them (``pinned``); eviction
  takes an entry's lock without waiting and skips the entries in use.

The cache is bounded (WORKER_CACHE_MAX_BYTES): after each download the least recently used entries go
until the total fits (a hit marks an entry used). Every fetch is logged as a hit or a miss, and each
task's totals once it ends (``summary``).

Layout under the cache root::

    objects/<k[:2]>/<k><suffix>    an object's copy (k: the hash of its name and content hash)
    objects/<k[:2]>/<k>.lock       its lock
    tmp/                           downloads under way
    work/                          tasks' outputs while they are written, before they go up to the store
                                   (trailers.store.work_folder)
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    downloaded_bytes: int = 0
    evicted: int = 0

    def line(self) -> str:
        return (f"{self.hits} hit{'s' if self.hits != 1 else ''}, {self.misses} miss{'es' if self.misses != 1 else ''}"
                f" ({self.downloaded_bytes / 1e6:.1f} MB downloaded), {self.evicted} evicted")


@dataclass(frozen=True)
class Remote:
    """How the cache reaches the store: ``describe(name)`` → (content hash, size); ``download(name, hash, file)``
    writes the object (refusing another content than ``hash``)."""

    describe: Callable[[str], tuple[str, int]]
    download: Callable[[str, str, object], None]


@dataclass
class ObjectCache:
    root: Path
    max_bytes: int
    remote: Remote
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._lock = threading.Lock()  # the stats, across a task's threads

    # --- reading ---------------------------------------------------------------------------------

    @contextmanager
    def pinned(self, names: Iterable[str]) -> Iterator[list[Path]]:
        """Local copies of the stored objects ``names`` (fetched where missing), kept from eviction by this
        process until the block ends."""
        with ExitStack() as stack:
            yield [stack.enter_context(self._entry(name)) for name in names]

    def fetch(self, name: str) -> Path:
        """A local copy of ``name`` (not pinned: for a read that follows at once)."""
        with self._entry(name) as path:
            return path

    @contextmanager
    def _entry(self, name: str) -> Iterator[Path]:
        content_hash, size = self.remote.describe(name)
        path = self.entry_path(name, content_hash)
        while True:
            fd = _open_lock(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
                if not _still_linked(fd, path) or not path.exists():
                    # Missing (or its lock was just evicted): take the lock alone and download, unless another
                    # process did meanwhile.
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    if not _still_linked(fd, path):
                        continue
                    if path.exists():
                        self._hit(name, path)
                    else:
                        self._download(name, content_hash, size, path)
                    fcntl.flock(fd, fcntl.LOCK_SH)  # not atomic: check that it survived the switch
                    if not _still_linked(fd, path) or not path.exists():
                        continue
                else:
                    self._hit(name, path)
                yield path
                return
            finally:
                os.close(fd)

    def entry_path(self, name: str, content_hash: str) -> Path:
        key = hashlib.sha256(f"{name}\0{content_hash}".encode()).hexdigest()
        suffix = Path(name).suffix[:16]
        return self.root / "objects" / key[:2] / f"{key}{suffix}"

    def _hit(self, name: str, path: Path) -> None:
        _mark_used(path)
        with self._lock:
            self.stats.hits += 1
        log.info("cache hit: %s", name)

    def _download(self, name: str, content_hash: str, size: int, path: Path) -> None:
        self.evict(keep_free=size, keeping=path)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        _remove_abandoned_downloads(tmp_dir)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=f".download-{os.getpid()}-")
        try:
            with os.fdopen(fd, "wb") as handle:
                self.remote.download(name, content_hash, handle)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _mark_used(path)
        with self._lock:
            self.stats.misses += 1
            self.stats.downloaded_bytes += size
        log.info("cache miss: %s, downloaded %.1f MB in %.2f s", name, size / 1e6, time.monotonic() - started)

    # --- adding outputs ------------------------------------------------------------------------

    def add(self, local: Path, name: str, content_hash: str) -> Path:
        """Move ``local`` (an output just stored as ``name``) into the cache, so that a later read on this
        machine is a hit. Where the cache lies on another filesystem, the file is simply removed."""
        path = self.entry_path(name, content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                os.replace(local, path)
            except OSError:  # another filesystem: not worth a copy
                Path(local).unlink(missing_ok=True)
                return path
            _mark_used(path)
        finally:
            os.close(fd)
        self.evict(keeping=path)
        return path

    # --- bounds ---------------------------------------------------------------------------------

    def evict(self, *, keep_free: int = 0, keeping: Path | None = None) -> int:
        """Remove least recently used entries not in use until they take at most ``max_bytes - keep_free``;
        returns how many went."""
        objects = self.root / "objects"
        entries = []
        for path in objects.glob("*/*"):
            if path.name.endswith(LOCK_SUFFIX) or path == keeping:
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        if keeping is not None and keeping.exists():
            total += keeping.stat().st_size
        budget = max(0, self.max_bytes - keep_free)
        removed = 0
        for _, size, path in sorted(entries):
            if total <= budget:
                break
            if _evict_one(path):
                total -= size
                removed += 1
        if removed:
            with self._lock:
                self.stats.evicted += removed
            log.info("cache: evicted %d least recently used object(s), %.1f MB left", removed, total / 1e6)
        if total > budget:
            log.warning("cache: %.1f MB in use is over its %.1f MB bound (the entries left are being read)",
                        total / 1e6, budget / 1e6)
        return removed

    def size(self) -> int:
        return sum(p.stat().st_size for p in (self.root / "objects").glob("*/*")
                   if not p.name.endswith(LOCK_SUFFIX) and p.exists())

    def reset_stats(self) -> CacheStats:
        with self._lock:
            stats, self.stats = self.stats, CacheStats()
        return stats


def _remove_abandoned_downloads(tmp_dir: Path) -> None:
    """Remove half-downloads whose process is gone (a worker killed mid-download)."""
    for partial in tmp_dir.glob(".download-*-*"):
        try:
            os.kill(int(partial.name.split("-")[1]), 0)
        except ProcessLookupError:
            partial.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue


def _mark_used(path: Path) -> None:
    # Explicit nanoseconds: a file's own timestamps tick too coarsely to order uses a few ms apart.
    now = time.time_ns()
    try:
        os.utime(path, ns=(now, now))
    except FileNotFoundError:
        pass


def _open_lock(path: Path) -> int:
    lock = path.with_name(path.name + LOCK_SUFFIX)
    lock.parent.mkdir(parents=True, exist_ok=True)
    return os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)


def _still_linked(fd: int, path: Path) -> bool:
    """Whether the lock ``fd`` holds is still the entry's lock file (eviction unlinks it, and a new one may be made)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path.with_name(path.name + LOCK_SUFFIX)).st_ino
    except FileNotFoundError:
        return False


def _evict_one(path: Path) -> bool:
    lock = path.with_name(path.name + LOCK_SUFFIX)
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:  # an entry whose lock went with a deleted folder, or was never made
        path.unlink(missing_ok=True)
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # in use by a task on this machine
        path.unlink(missing_ok=True)
        lock.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)
