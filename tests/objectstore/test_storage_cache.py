"""The worker cache against a real S3 server: a miss downloads, a hit downloads nothing, bounded LRU, atomic
and safe with several processes at once, a changed object fetched anew, a deleted cache folder refilled."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path

import pytest

from trailers import store
from trailers.storage_cache import ObjectCache

pytestmark = pytest.mark.django_db


def put(name: str, data: bytes) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(data)) == name


def test_a_miss_downloads_and_a_hit_downloads_nothing(s3_settings, s3_server, caplog):
    data = os.urandom(300_000)
    put("subclips/1/a/0.npy", data)
    caplog.set_level("INFO", logger="trailers.storage_cache")
    with store.local_copies(["subclips/1/a/0.npy"]) as (path,):
        assert path.read_bytes() == data
        assert str(path).startswith(str(s3_settings.WORKER_CACHE_DIR))
    with store.local_copies(["subclips/1/a/0.npy"]) as (again,):
        assert again == path
    cache = store.worker_cache()
    assert (cache.stats.hits, cache.stats.misses, cache.stats.downloaded_bytes) == (1, 1, len(data))
    assert [r.message.split(",")[0] for r in caplog.records] == ["cache miss: subclips/1/a/0.npy",
                                                                 "cache hit: subclips/1/a/0.npy"]


def test_an_object_replaced_under_the_same_name_is_fetched_anew(s3_settings):
    put("runs/1/checkpoint.pt", b"first epoch")
    with store.local_copy("runs/1/checkpoint.pt") as path:
        assert path.read_bytes() == b"first epoch"
    put("runs/1/checkpoint.pt", b"second epoch")
    with store.local_copy("runs/1/checkpoint.pt") as path:
        assert path.read_bytes() == b"second epoch"
    assert store.worker_cache().stats.misses == 2


def test_the_cache_keeps_within_its_bound_least_recently_used_first(s3_settings):
    s3_settings.WORKER_CACHE_MAX_BYTES = 250_000
    for i in range(3):
        put(f"frames/{i}.npy", bytes([i]) * 100_000)
    for i in (0, 1):
        store.worker_cache().fetch(f"frames/{i}.npy")
    store.worker_cache().fetch("frames/0.npy")  # 0 used more recently than 1
    store.worker_cache().fetch("frames/2.npy")  # 300 KB > 250 KB: 1 goes
    cache = store.worker_cache()
    assert cache.size() <= 250_000
    assert cache.stats.evicted == 1
    cache.fetch("frames/0.npy")
    assert cache.stats.hits == 2  # 0 stayed
    cache.fetch("frames/1.npy")
    assert cache.stats.misses == 4  # 1 was evicted and is fetched again


def test_an_entry_in_use_is_not_evicted(s3_settings):
    s3_settings.WORKER_CACHE_MAX_BYTES = 150_000
    put("frames/a.npy", b"a" * 100_000)
    put("frames/b.npy", b"b" * 100_000)
    with store.local_copies(["frames/a.npy"]) as (a,):
        with store.local_copies(["frames/b.npy"]) as (b,):
            assert a.exists() and b.exists()  # over the bound, but both are being read
    store.worker_cache().evict()
    assert store.worker_cache().size() <= 150_000


def test_a_deleted_cache_folder_is_refilled(s3_settings):
    import shutil

    put("models/v1.pt", b"weights")
    store.worker_cache().fetch("models/v1.pt")
    shutil.rmtree(s3_settings.WORKER_CACHE_DIR)
    with store.local_copy("models/v1.pt") as path:
        assert path.read_bytes() == b"weights"
    assert store.worker_cache().stats.misses == 2


def _fetch_in_another_process(root: str, env: dict, name: str, queue) -> None:
    # A separate process with its own S3 client, as another worker process on the machine.
    from storages.backends.s3 import S3Storage

    from config.storage import media_storage
    from trailers.store import _guarded, _s3_remote

    storage = S3Storage(**media_storage(env)[0]["OPTIONS"])
    cache = ObjectCache(Path(root), 10**9, _guarded(_s3_remote(storage)))
    path = cache.fetch(name)
    queue.put((hashlib.sha256(path.read_bytes()).hexdigest(), cache.stats.misses))


def test_several_processes_fetching_one_object_download_it_once(s3_settings, s3_env):
    data = os.urandom(5_000_000)
    put("trailers/big.mp4", data)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_fetch_in_another_process,
                                 args=(str(s3_settings.WORKER_CACHE_DIR), s3_env, "trailers/big.mp4", queue))
                 for _ in range(4)]
    for p in processes:
        p.start()
    results = [queue.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(timeout=30)
    assert {digest for digest, _ in results} == {hashlib.sha256(data).hexdigest()}
    assert sum(misses for _, misses in results) == 1  # one downloaded, three found it there
    leftovers = list((Path(s3_settings.WORKER_CACHE_DIR) / "tmp").glob("*"))
    assert leftovers == []  # no half-written download left behind


def test_a_download_that_fails_leaves_nothing_in_the_cache(s3_settings, s3_server):
    put("trailers/gone.mp4", b"x" * 1000)
    cache = store.worker_cache()
    s3_server.stop()
    try:
        with pytest.raises(store.StoreUnavailable):
            cache.fetch("trailers/gone.mp4")
    finally:
        s3_server.start()
    assert cache.size() == 0
    assert cache.fetch("trailers/gone.mp4").read_bytes() == b"x" * 1000


def test_a_missing_object_is_file_not_found(s3_settings):
    with pytest.raises(FileNotFoundError):
        store.worker_cache().fetch("trailers/never-stored.mp4")


def test_published_outputs_go_up_and_into_the_cache(s3_settings, s3_server, s3_prefix):
    folder = store.work_folder("test")
    (folder / "0.npy").write_bytes(b"frames")
    store.publish(folder / "0.npy", "subclips/9/x/0.npy")
    assert s3_server.keys(s3_prefix) == [f"{s3_prefix}/subclips/9/x/0.npy"]
    assert not (folder / "0.npy").exists()
    with store.local_copy("subclips/9/x/0.npy") as path:
        assert path.read_bytes() == b"frames"
    assert (store.worker_cache().stats.hits, store.worker_cache().stats.misses) == (1, 0)
