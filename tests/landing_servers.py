"""Real landing servers for the tests: moto's S3 server, Azurite, a TCP proxy to cut a link
mid-transfer, and Apache Airflow in its own virtual environment.

Every server listens on 127.0.0.1 on a free port and keeps its data in a temp dir. Azurite is
installed with npm, and Airflow with pip, into cache folders of the repository (git-ignored)
the first time; later sessions reuse them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
HOST = "127.0.0.1"
CACHE = Path(os.environ.get("KADA_TEST_CACHE", ROOT / ".cache"))
AZURITE_VERSION = "3"
AIRFLOW_VERSION = "3.3.2"
AIRFLOW_VENV = Path(os.environ.get("KADA_AIRFLOW_VENV", ROOT / ".venv-airflow"))
# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# What moto accepts when it does not check credentials (most tests).
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {HOST}:{port} within {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class Server:
    """A server process of ours on a free loopback port."""

    def __init__(self, name: str, command, env: dict | None = None):
        self.name, self.root = name, Path(tempfile.mkdtemp(prefix=f"kada-{name}-"))
        self.log = self.root / "server.log"
        for attempt in range(3):  # the free port may be taken before the server binds it
            self.port = free_port()
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(command(self.port, self.root), stdout=log, stderr=subprocess.STDOUT,
                                                env={**os.environ, **(env or {})}, cwd=self.root)
            try:
                _wait_for_port(self.port, self.process, name, self.log)
                return
            except RuntimeError:
                _stop(self.process)
                if attempt == 2:
                    raise

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        _stop(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


# -- S3: moto's server ---------------------------------------------------------------------------

class MotoServer(Server):
    def __init__(self):
        super().__init__("moto", lambda port, root: [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                         env=AWS_ENV)

    def client(self, service="s3", **credentials):
        import boto3
        creds = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, endpoint_url=self.url, region_name="eu-west-1", **creds)

    def enforce_auth(self) -> None:
        """From now on, check every request's credentials against moto's IAM."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10).read()

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        s3 = self.client()
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", [])]
        return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


# -- Azure: Azurite ------------------------------------------------------------------------------

def azurite_binary() -> Path:
    """``azurite-blob`` from the cache folder, installed with npm the first time."""
    folder = CACHE / "azurite"
    binary = folder / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Azurite needs Node.js and npm, which are not installed (apt-get install nodejs npm)")
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--loglevel=error",
                             f"azurite@{AZURITE_VERSION}"], capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not binary.exists():
        raise RuntimeError(f"npm install azurite failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return binary


class Azurite(Server):
    def __init__(self):
        binary = azurite_binary()
        super().__init__("azurite", lambda port, root: [
            str(binary), "--blobHost", HOST, "--blobPort", str(port), "--location", str(root / "data"),
            "--skipApiVersionCheck", "--silent", "--disableProductStyleUrl"])

    @property
    def account_url(self) -> str:
        return f"{self.url}/{AZURITE_ACCOUNT}"

    def service(self):
        from azure.storage.blob import BlobServiceClient
        return BlobServiceClient(self.account_url, credential={"account_name": AZURITE_ACCOUNT,
                                                               "account_key": AZURITE_KEY})

    def make_container(self, name: str) -> str:
        self.service().create_container(name)
        return name

    def sas(self, container: str, permission: str = "rcwl", expires_in: timedelta = timedelta(hours=2)) -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas
        return generate_container_sas(AZURITE_ACCOUNT, container, account_key=AZURITE_KEY,
                                      permission=ContainerSasPermissions.from_string(permission),
                                      expiry=datetime.now(timezone.utc) + expires_in)

    def blobs(self, container: str, prefix: str = "") -> dict[str, bytes]:
        client = self.service().get_container_client(container)
        return {b.name: client.download_blob(b.name).readall() for b in client.list_blobs(name_starts_with=prefix)}


# -- faults: a TCP proxy that can cut the link ---------------------------------------------------

class FaultProxy:
    """Forwards 127.0.0.1:<port> to a server. ``cut_after(n)``: once ``n`` more bytes went
    upstream, every connection is reset and new ones are refused, as when an endpoint dies
    mid-upload, until ``restore()``."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._budget = None  # bytes upstream before the cut; None: no cut planned
        self._conns: list[socket.socket] = []
        self._listener = None
        self.cut = False
        self.restore()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def restore(self) -> None:
        with self._lock:
            self.cut, self._budget = False, None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut_after(self, count: int) -> None:
        with self._lock:
            self._budget = count

    def close(self) -> None:
        self._cut()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((HOST, self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src, dst, upstream):
        try:
            while data := src.recv(65536):
                if upstream:
                    with self._lock:
                        budget = self._budget
                        if budget is not None:
                            self._budget = budget - len(data)
                    if budget is not None and budget - len(data) <= 0:
                        dst.sendall(data[:max(budget, 0)])
                        self._cut()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _cut(self):
        with self._lock:
            self.cut = True
            conns, self._conns = self._conns, []
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                s.close()
            except OSError:
                pass


# -- Apache Airflow in its own virtual environment --------------------------------------------------

def _airflow_stamp() -> str:
    """What the Airflow venv was built from: Airflow's version and our packages' metadata."""
    digest = hashlib.sha256(AIRFLOW_VERSION.encode())
    for name in ("kada-collectors-lib", "kada-collectors-extractors"):
        digest.update((ROOT / "packages" / name / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def airflow_venv() -> Path:
    """A venv with Apache Airflow and the collector (editable, with boto3); built once, cached."""
    marker = AIRFLOW_VENV / ".kada-stamp"
    airflow = AIRFLOW_VENV / "bin" / "airflow"
    if airflow.exists() and marker.exists() and marker.read_text() == _airflow_stamp():
        return AIRFLOW_VENV
    if sys.version_info >= (3, 14):
        pytest.skip(f"Airflow {AIRFLOW_VERSION} needs Python 3.10 to 3.13")
    shutil.rmtree(AIRFLOW_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(AIRFLOW_VENV)], check=True, capture_output=True)
    python = AIRFLOW_VENV / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"apache-airflow=={AIRFLOW_VERSION}",
         "-e", str(ROOT / "packages" / "kada-collectors-lib"),
         "-e", f"{ROOT / 'packages' / 'kada-collectors-extractors'}[s3]"],
        capture_output=True, text=True, timeout=1500)
    if result.returncode != 0:
        raise RuntimeError(f"installing Airflow failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    marker.write_text(_airflow_stamp())
    return AIRFLOW_VENV


def write_json(path: Path, document) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path
