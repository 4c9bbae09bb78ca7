"""Real OCI components for tests: Debian's docker-registry on 127.0.0.1, skopeo, umoci; synthetic base images.

Base images are written here with tarfile and json only, independently of lpack's own writers, so a bug in
lpack's OCI code cannot hide in both the base and the result.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ENTRYPOINT = ["/lambda-entrypoint.sh"]
BASE_ENV = ["PATH=/usr/local/bin:/usr/bin:/bin", "LAMBDA_TASK_ROOT=/var/task", "LANG=en_US.UTF-8"]


def require(*tools: str) -> None:
    """Skip when a tool is missing on a developer machine; fail in CI, where .ci/run installs it."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    message = f"missing {', '.join(missing)} (apt-get install docker-registry skopeo umoci)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    root: Path

    def manifest_status(self, repo: str, ref: str) -> int:
        req = urllib.request.Request(f"http://{self.host}/v2/{repo}/manifests/{ref}", method="HEAD")
        req.add_header("Accept", f"{OCI_MANIFEST}, {OCI_INDEX}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return err.code


@contextmanager
def run_registry(root: Path, *, htpasswd: bool = False, token: TokenServer | None = None) -> Iterator[Registry]:
    """A docker-registry process with its own config and storage, stopped at the end."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    auth = ""
    if token is not None:
        auth = (
            f"auth:\n  token:\n    realm: {token.realm}\n    service: {TokenServer.SERVICE}\n"
            f"    issuer: {TokenServer.ISSUER}\n    rootcertbundle: {token.cert}\n"
        )
    if htpasswd:
        # One user whose bcrypt hash matches no password we send: every login is refused.
        (root / "htpasswd").write_text(f"alice:{_NO_PASSWORD}\n")
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {root / 'htpasswd'}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_up(port, proc, root)
        yield Registry(host=f"127.0.0.1:{port}", root=root)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _wait_up(port: int, proc: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(root / 'registry.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not start within 15 s")


# --- a token service [distribution docs/spec/auth/token.md, jwt.md] -------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues RS256 JWTs the real registry verifies: pull for anyone, push only for alice:secret.

    Signed with the openssl command line, so the test needs no crypto library.
    """

    SERVICE = "test-registry"
    ISSUER = "lpack-test"
    USER = "alice:secret"

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = root / "key.pem", root / "cert.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lpack-test"),
                *("-keyout", str(self.key), "-out", str(self.cert)),
            ],
            check=True,
            capture_output=True,
        )
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True, capture_output=True
        )
        self.x5c = base64.b64encode(der.stdout).decode()
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self.requests: list[tuple[str, tuple[str, ...]]] = []  # (user or "", scopes)

    def token(self, user: str, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            allowed = [a for a in actions.split(",") if a == "pull" or user == self.USER.split(":")[0]]
            access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        claims = {"iss": self.ISSUER, "sub": user, "aud": self.SERVICE, "exp": now + 600, "nbf": now - 60}
        claims |= {"iat": now - 60, "jti": os.urandom(8).hex(), "access": access}
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
        )
        return f"{signing_input}.{_b64url(sig.stdout)}"

    @contextmanager
    def serving(self) -> Iterator[TokenServer]:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        tokens = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                auth = self.headers.get("Authorization", "")
                user = ""
                if auth.startswith("Basic "):
                    given = base64.b64decode(auth[6:]).decode()
                    if given != tokens.USER:
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = given.split(":")[0]
                tokens.requests.append((user, tuple(query.get("scope", []))))
                body = json.dumps({"token": tokens.token(user, query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


# --- synthetic base images ------------------------------------------------------------------------------------


def _tar_gz(files: dict[str, tuple[bytes, int]], evil: bool = False) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        if evil:
            info = tarfile.TarInfo("../../etc/evil")
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _image(layout: Path, arch: str, *, evil: bool, busybox: Path | None, filler: int) -> dict[str, Any]:
    script = f'#!/bin/sh\necho base-{arch} "$@"\n'.encode()
    files = {
        "lambda-entrypoint.sh": (script, 0o755),
        "etc/os-release": (f"ID=fake\nARCH={arch}\n".encode(), 0o644),
        "var/runtime/bootstrap": (b"#!/bin/sh\n", 0o755),
    }
    if busybox is not None:  # a static busybox as /bin/sh: enough for `docker run` to execute the entrypoint
        files["bin/busybox"] = files["bin/sh"] = (busybox.read_bytes(), 0o755)
    if filler:  # incompressible bytes standing in for a real base's runtime (benchmarks)
        files["usr/lib/filler.bin"] = (os.urandom(filler), 0o644)
    layer, diff_id = _tar_gz(files, evil=evil)
    config = {
        "architecture": arch,
        "os": "linux",
        **({"variant": "v8"} if arch == "arm64" else {}),
        "created": "2024-01-01T00:00:00Z",
        "config": {"Entrypoint": ENTRYPOINT, "Env": BASE_ENV, "WorkingDir": "/var/task", "Cmd": ["base.handler"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test base"}],
    }
    config_desc = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        **_blob(layout, json.dumps(config).encode()),
    }
    layer_desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(layout, layer)}
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": [layer_desc]}
    desc = {"mediaType": OCI_MANIFEST, **_blob(layout, json.dumps(manifest).encode())}
    return {**desc, "platform": {"os": "linux", "architecture": arch, **({"variant": "v8"} if arch == "arm64" else {})}}


def make_base(
    layout: Path,
    *,
    arches: tuple[str, ...] = ("amd64", "arm64"),
    tag: str = "base",
    evil: bool = False,
    busybox: Path | None = None,
    filler: int = 0,
) -> Path:
    """An OCI layout holding a multi-arch index tagged `tag`: a tiny rootfs with an entrypoint script per arch."""
    manifests = [_image(layout, arch, evil=evil, busybox=busybox, filler=filler) for arch in arches]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    desc = {"mediaType": OCI_INDEX, **_blob(layout, json.dumps(index).encode())}
    desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    return layout


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def push_base(layout: Path, registry: Registry, repo: str, *, tag: str = "base") -> str:
    """Copy the whole index (every arch) into the registry with skopeo; returns REGISTRY/REPO:TAG."""
    ref = f"{registry.host}/{repo}"
    skopeo("copy", "--all", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{ref}")
    return ref


# Well-formed bcrypt that no password matches.
_NO_PASSWORD = "$2y$05$abcdefghijklmnopqrstuuJ1Yb1v0Pp8cWmTz1m1sKq3pY0sKq3pY"


@contextmanager
def run_dockerd(root: Path) -> Iterator[str]:
    """A private dockerd (vfs storage, no iptables, no bridge) on its own socket; yields DOCKER_HOST."""
    root.mkdir(parents=True, exist_ok=True)
    sock = root / "docker.sock"
    log = (root / "dockerd.log").open("wb")
    args = ["--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none"]
    args += [f"--host=unix://{sock}", f"--data-root={root / 'data'}", f"--exec-root={root / 'exec'}"]
    args += [f"--pidfile={root / 'docker.pid'}"]
    proc = subprocess.Popen(["dockerd", *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start: {(root / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
