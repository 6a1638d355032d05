"""Stored files as a task sees them: local copies to read, local outputs to publish.

``ml`` reads and writes local paths; the media may live in a folder (the filesystem backend, on one
machine or a shared mount) or in an object store that the web process and each worker reach over the
network. This module is the one place that tells the two apart:

- ``local_copies(names)``: paths ``ml`` can open. A folder store gives its own paths; an object store, the
  worker's cache (``trailers.storage_cache``), fetching what is missing.
- ``work_folder()`` and ``publish(local, name)``: a task writes its outputs locally, then puts each in the
  store under its final name. Only then are rows written that point at them, so a row never points at
  an object that is not there.
- ``Mirror``: a folder kept in step with the store (a training run's checkpoints), so that a run whose
  worker died resumes on another machine.

An object store that cannot be reached raises ``StoreUnavailable``: the work waits and is tried again,
it is never failed for it.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from storages.utils import clean_name

from .storage_cache import ObjectCache, Remote

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024

# What a stored file is served as (``trailers.media``) and stored as in an object store, by its stored name's
# suffix: the videos' (``VIDEO_SUFFIXES``) and the site's pictures'. Any other suffix, which only an uploader
# could have chosen, is served as bytes to download, never as a page of the site.
SERVED_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
    ".webm": "video/webm", ".avi": "video/x-msvideo", ".ts": "video/mp2t", ".mts": "video/mp2t", ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg", ".flv": "video/x-flv", ".wmv": "video/x-ms-wmv", ".ogv": "video/ogg", ".3gp": "video/3gpp",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
}
DOWNLOAD_TYPE = "application/octet-stream"


def served_type(name: str) -> str:
    """The type the stored file ``name`` is served as: one of :data:`SERVED_TYPES`, else bytes to download."""
    return SERVED_TYPES.get(PurePosixPath(name).suffix.lower(), DOWNLOAD_TYPE)


class StoreUnavailable(Exception):
    """The object store cannot be reached, or answers with a server error: try again later."""


class LocalCopyLost(StoreUnavailable):
    """A local copy vanished while a task read it (its cache folder was deleted): fetch it again and retry."""


def is_local(storage=None) -> bool:
    """Whether the storage keeps its files in a local (or mounted) folder, with paths ``ml`` can open."""
    storage = storage or default_storage
    try:
        storage.path("")
    except NotImplementedError:
        return False
    return True


@contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Turn an object store's connection failures and server errors into ``StoreUnavailable``, and a missing
    object into ``FileNotFoundError``."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # no object store installed: nothing to translate
        yield
        return
    try:
        yield
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = exc.response.get("Error", {}).get("Code", "")
        if status == 404 or code in ("NoSuchKey", "404", "NotFound"):
            raise FileNotFoundError(f"not in the object store: {exc}") from exc
        if status >= 500 or code in ("SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError"):
            raise StoreUnavailable(f"the object store answered {status or code}: {exc}") from exc
        raise
    except BotoCoreError as exc:  # connection refused, timeouts, a connection closed mid-answer
        raise StoreUnavailable(f"the object store cannot be reached: {exc}") from exc


# --- the worker's cache ---------------------------------------------------------------------------------


def _s3_remote(storage) -> Remote:
    client = storage.connection.meta.client

    def key(name: str) -> str:
        return storage._normalize_name(clean_name(name))

    def describe(name: str) -> tuple[str, int]:
        head = client.head_object(Bucket=storage.bucket_name, Key=key(name))
        return head["ETag"].strip('"'), int(head["ContentLength"])

    def download(name: str, content_hash: str, handle) -> None:
        body = client.get_object(Bucket=storage.bucket_name, Key=key(name), IfMatch=f'"{content_hash}"')["Body"]
        try:
            for chunk in body.iter_chunks(CHUNK):
                handle.write(chunk)
        finally:
            body.close()

    return Remote(describe=describe, download=download)


def _generic_remote(storage) -> Remote:
    # Any other remote storage: size and modification time stand for the content hash.
    def describe(name: str) -> tuple[str, int]:
        size = storage.size(name)
        return f"{size}-{storage.get_modified_time(name).timestamp()}", size

    def download(name: str, content_hash: str, handle) -> None:
        with storage.open(name, "rb") as source:
            shutil.copyfileobj(source, handle, CHUNK)

    return Remote(describe=describe, download=download)


def _guarded(remote: Remote) -> Remote:
    def describe(name: str) -> tuple[str, int]:
        with unavailable_as_error():
            return remote.describe(name)

    def download(name: str, content_hash: str, handle) -> None:
        with unavailable_as_error():
            remote.download(name, content_hash, handle)

    return Remote(describe=describe, download=download)


@lru_cache(maxsize=1)
def worker_cache() -> ObjectCache:
    """This process's view of the machine's cache (WORKER_CACHE_DIR, WORKER_CACHE_MAX_BYTES)."""
    storage = default_storage
    remote = _s3_remote(storage) if hasattr(storage, "bucket_name") else _generic_remote(storage)
    return ObjectCache(Path(settings.WORKER_CACHE_DIR), settings.WORKER_CACHE_MAX_BYTES, _guarded(remote))


@receiver(setting_changed)
def _forget_cache(setting, **kwargs) -> None:  # tests switch storages and cache folders
    if setting in ("STORAGES", "WORKER_CACHE_DIR", "WORKER_CACHE_MAX_BYTES"):
        worker_cache.cache_clear()


def log_cache_summary(task: str) -> None:
    """Log (and reset) this process's cache hits and misses since the last summary: one line per task."""
    if is_local() or worker_cache.cache_info().currsize == 0:
        return
    stats = worker_cache().reset_stats()
    if stats.hits or stats.misses:
        log.info("cache after %s: %s", task, stats.line())


# --- reading --------------------------------------------------------------------------------------------


@contextmanager
def local_copies(names: Iterable[str]) -> Iterator[list[Path]]:
    """Local paths of the stored files ``names``, valid until the block ends."""
    names = list(names)
    if is_local():
        yield [Path(default_storage.path(name)) for name in names]
        return
    with worker_cache().pinned(names) as paths:
        try:
            yield paths
        except Exception as exc:
            if not isinstance(exc, StoreUnavailable) and copies_lost(paths):
                raise LocalCopyLost(f"local copies went while they were read ({exc}); they are fetched again") from exc
            raise


def copies_lost(paths: Iterable[Path]) -> bool:
    """Whether any of these local copies is gone (someone deleted the cache folder under a running task)."""
    return not is_local() and any(not Path(p).exists() for p in paths)


@contextmanager
def local_copy(name: str) -> Iterator[Path]:
    with local_copies([name]) as (path,):
        yield path


# --- writing --------------------------------------------------------------------------------------------


def work_folder(label: str) -> Path:
    """A fresh local folder for a task's outputs, on the same filesystem as where they will be published
    (beside the folder store's files, or the worker's cache). Folders that dead processes of this machine left
    (a worker killed mid-task) are removed first."""
    base = Path(default_storage.path("incoming")) / "work" if is_local() else Path(settings.WORKER_CACHE_DIR) / "work"
    base.mkdir(parents=True, exist_ok=True)
    remove_abandoned_work(base)
    folder = base / f"{label}.{_HOST}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


_HOST = socket.gethostname().replace(".", "-") or "host"


def remove_abandoned_work(base: Path) -> int:
    """Remove the work folders under ``base`` whose process, on this machine, is gone."""
    removed = 0
    for folder in base.glob(f"*.{_HOST}.*.*"):
        try:
            pid = int(folder.name.rsplit(".", 2)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        except (ValueError, PermissionError):
            continue
    return removed


def publish(local: str | os.PathLike, name: str, *, cache: bool = True) -> str:
    """Put the local file ``local`` in the store as exactly ``name`` (replacing what was there) and return the
    name. The local file is moved away: into the folder store, or (``cache``) into this worker's cache, so
    that reading it back on this machine is a hit."""
    local = Path(local)
    if is_local():
        target = Path(default_storage.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(local, target)
        if default_storage.file_permissions_mode is not None:  # as the storage's own save would leave it
            os.chmod(target, default_storage.file_permissions_mode)
        return name
    with unavailable_as_error():
        _upload(default_storage, local, name)
    if cache:
        content_hash, _ = worker_cache().remote.describe(name)
        worker_cache().add(local, name, content_hash)
    else:
        local.unlink(missing_ok=True)
    return name


def _upload(storage, local: Path, name: str) -> None:
    """Put ``local`` in the store as ``name``: boto3 reads each part from the file as it sends it (a file object
    would be read a part at a time into memory), so a 1 GB trailer goes up holding a few MB."""
    if not hasattr(storage, "bucket_name"):
        with open(local, "rb") as handle:
            stored = storage.save(name, File(handle, name=str(local)))
        if stored != name:
            raise RuntimeError(f"the store kept {name} as {stored}")
        return
    key = storage._normalize_name(clean_name(name))
    parameters = dict(storage.object_parameters)
    parameters.setdefault("ContentType", served_type(name))
    if storage.default_acl:
        parameters.setdefault("ACL", storage.default_acl)
    storage.connection.meta.client.upload_file(str(local), storage.bucket_name, key, ExtraArgs=parameters,
                                               Config=storage.transfer_config)


def publish_folder(folder: Path, prefix: str) -> list[str]:
    """Publish every file of ``folder`` as ``prefix/<its name>``; returns their names (the folder is emptied)."""
    names = []
    for path in sorted(folder.iterdir()):
        if path.is_file():
            names.append(publish(path, f"{prefix.rstrip('/')}/{path.name}"))
    return names


def remove_work_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def exists(name: str) -> bool:
    with unavailable_as_error():
        return bool(name) and default_storage.exists(name)


# --- a folder kept in step with the store ----------------------------------------------------------------


class Mirror:
    """A local folder that mirrors the stored folder ``prefix`` (a run's checkpoints).

    ``pull()`` fetches what the store holds; ``push()`` puts there what changed locally since the last push.
    A push never deletes: a local folder lost under a running task (its cache folder deleted) must not take
    the stored checkpoints with it; the run's end removes the stored folder. With a folder store the local
    folder *is* the stored one, and both do nothing.
    """

    def __init__(self, prefix: str, label: str):
        self.prefix = prefix.rstrip("/") + "/"
        self.local = is_local()
        self.folder = Path(default_storage.path(self.prefix)) if self.local else work_folder(label)
        self._pushed: dict[str, tuple[int, int]] = {}

    def pull(self) -> int:
        """Fetch the stored folder's files; returns how many there were."""
        if self.local:
            return sum(1 for p in self.folder.glob("*") if p.is_file()) if self.folder.exists() else 0
        names = self._stored()
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = self.folder / name
            part = target.with_name(f".{name}.part")
            remote = worker_cache().remote
            with open(part, "wb") as handle:
                remote.download(self.prefix + name, remote.describe(self.prefix + name)[0], handle)
            os.replace(part, target)
            stat = target.stat()
            self._pushed[name] = (stat.st_size, stat.st_mtime_ns)
        if names:
            log.info("%s: %d file(s) fetched from the store, resuming from them", self.prefix, len(names))
        return len(names)

    def push(self) -> int:
        """Upload the files that changed since the last push; returns how many went up."""
        if self.local:
            return 0
        present = {p.name: p for p in self.folder.glob("*") if p.is_file() and not p.name.startswith(".")}
        moved = 0
        for name, path in sorted(present.items()):
            try:
                stat = path.stat()
                if self._pushed.get(name) == (stat.st_size, stat.st_mtime_ns):
                    continue
                with unavailable_as_error():
                    _upload(default_storage, path, self.prefix + name)
            except FileNotFoundError:  # replaced or removed by the training loop meanwhile: the next push
                continue
            self._pushed[name] = (stat.st_size, stat.st_mtime_ns)
            moved += 1
        return moved

    def _stored(self) -> list[str]:
        with unavailable_as_error():
            try:
                _, files = default_storage.listdir(self.prefix)
            except FileNotFoundError:
                return []
        return sorted(files)

    def remove_local(self) -> None:
        if not self.local:
            shutil.rmtree(self.folder, ignore_errors=True)
