"""The media storage, from the environment: the filesystem (the default) or an S3-compatible object store.

Kept apart from settings.py so that the tests build an object store's settings exactly as a deployment does.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {"filesystem": "django.core.files.storage.FileSystemStorage", "s3": "storages.backends.s3.S3Storage"}


def media_storage(environ: Mapping[str, str]) -> tuple[dict, str]:
    """STORAGES["default"] for ``environ``, and the origin pages may load media from ("" for a filesystem)."""
    name = environ.get("STORAGE_BACKEND", "") or "filesystem"
    backend = BACKENDS.get(name, name)
    if backend != BACKENDS["s3"]:
        return {"BACKEND": backend}, ""

    # boto3 only with the s3 backend: settings load on every process, and it takes a third of a second.
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    bucket = environ.get("STORAGE_S3_BUCKET", "")
    if not bucket:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs STORAGE_S3_BUCKET (the bucket's name).")
    endpoint = environ.get("STORAGE_S3_ENDPOINT_URL", "") or None
    region = environ.get("STORAGE_S3_REGION", "") or None
    addressing = environ.get("STORAGE_S3_ADDRESSING_STYLE", "") or ("path" if endpoint else "auto")
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "region_name": region,
        # None: boto3's own chain (AWS_ACCESS_KEY_ID and friends, a profile, the machine's role).
        "access_key": environ.get("STORAGE_S3_ACCESS_KEY_ID", "") or None,
        "secret_key": environ.get("STORAGE_S3_SECRET_ACCESS_KEY", "") or None,
        "location": environ.get("STORAGE_S3_PREFIX", "").strip("/"),
        "default_acl": None,  # private objects: pages hand out short-lived presigned URLs
        "querystring_auth": True,
        "querystring_expire": int(environ.get("STORAGE_S3_URL_EXPIRES", "") or 3600),
        "file_overwrite": True,  # Reelscore generates every name (and checks what it wrote)
        "signature_version": "s3v4",
        "client_config": Config(
            signature_version="s3v4", s3={"addressing_style": addressing},
            # A store that is down fails a call within seconds (the work waits and is tried again), not minutes.
            connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
        ),
        # Big files go up in 8 MB parts, two at a time, with at most two more read ahead (boto3 reads ten by
        # default): a 1 GB upload holds about 32 MB of it in memory.
        "transfer_config": _transfer_config(TransferConfig),
    }
    if endpoint:
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
    else:
        origin = f"https://*.s3.{region}.amazonaws.com" if region else "https://*.amazonaws.com"
    return {"BACKEND": backend, "OPTIONS": options}, origin


def _transfer_config(transfer_config_class):
    config = transfer_config_class(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024,
                                   max_concurrency=2)
    config.max_in_memory_upload_chunks = 2  # s3transfer's own setting, which boto3's constructor does not take
    return config
