"""The remote cache against real S3 servers on 127.0.0.1 (moto and SeaweedFS): round trips, write-once,
read-only, tampering, and every way the server can fail (the build goes on with its local cache)."""

from __future__ import annotations

import filecmp
import http.server
import json
import logging
import os
import socket
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lpack.cache import Cache
from lpack.remote import RemoteCache, RemoteSettings, store
from lpack.remote.store import pointer_bytes
from tests.integration._servers import CuttingProxy, SeaweedFS, client

KEY = "a" * 64
OTHER = "b" * 64
VARIANT = "v1"
FAST = 5.0  # seconds: what a dead server may cost


@pytest.fixture(scope="module")
def seaweed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    # With identities: a wrong secret key is refused, as on S3 (moto accepts any key).
    root = tmp_path_factory.mktemp("weed")
    identity = {
        "name": "ci",
        "credentials": [{"accessKey": "testing", "secretKey": "testing-secret"}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [identity]}))
    saved = {k: os.environ.pop(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if k in os.environ}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing-secret")
    server = SeaweedFS(root / "data", extra_args=(f"-s3.config={config}",))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.pop(k, None)
        os.environ.update(saved)


@pytest.fixture(params=["moto", "seaweedfs"])
def s3(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(endpoint URL, a new empty bucket) on each server; the remote finds the endpoint in AWS_ENDPOINT_URL_S3."""
    bucket = f"cache-{uuid.uuid4().hex[:12]}"
    if request.param == "moto":
        server: Any = request.getfixturevalue("moto_server")
        client("s3", server.url).create_bucket(Bucket=bucket)
    else:
        server = request.getfixturevalue("seaweed_server")
        server.create_bucket(bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
    return server.url, bucket


def _remote(bucket: str, *, read_only: bool = False) -> RemoteCache:
    return RemoteCache(RemoteSettings(url=f"s3://{bucket}/ci", read_only=read_only))


def _entry(cache: Cache, key: str = KEY, *, big: int = 0) -> Path:
    def make(tmp: Path) -> None:
        (tmp / "site" / "pkg").mkdir(parents=True)
        (tmp / "site" / "pkg" / "__init__.py").write_text("VALUE = 1\n")
        (tmp / "site" / "pkg" / "data.bin").write_bytes(os.urandom(big or 3000))
        (tmp / "bin").mkdir()
        (tmp / "bin" / "tool").write_text("#!/bin/sh\necho hi\n")
        (tmp / "bin" / "tool").chmod(0o755)
        (tmp / "pyc-cpython-312-empty").mkdir()  # a distribution without modules: an empty directory
        (tmp / "local-only.txt").write_text("left out by include\n")

    path, _ = cache.obtain("dists", key, make)
    return path


def _include(rel: str) -> bool:
    return rel != "local-only.txt"


def _objects(endpoint: str, bucket: str) -> dict[str, str]:
    listed = client("s3", endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listed}


def _same_tree(a: Path, b: Path, *, ignore: tuple[str, ...] = ()) -> None:
    compared = filecmp.dircmp(a, b, ignore=list(ignore))
    assert not compared.left_only and not compared.right_only and not compared.funny_files, (a, b)
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    assert not mismatch and not errors
    for sub in compared.common_dirs:
        _same_tree(a / sub, b / sub)
    for name in compared.common_files:
        assert (a / name).stat().st_mode & 0o111 == (b / name).stat().st_mode & 0o111, name


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lpack" and r.levelno == logging.WARNING]


def _clean_tmp(cache: Cache) -> None:
    tmp = cache.root / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir()), "a partial download or entry was left behind"


def test_push_then_fetch_into_an_empty_cache_is_byte_identical(
    s3: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint, bucket = s3
    a, b = Cache(root=tmp_path / "a"), Cache(root=tmp_path / "b")
    made = _entry(a)
    pusher = _remote(bucket)
    pusher.push_many(a, "dists", [(KEY, VARIANT, _include)])
    assert pusher.notes() == [f"remote cache s3://{bucket}/ci: 0 entries fetched (0 B), 1 pushed"]
    keys = sorted(_objects(endpoint, bucket))
    assert len(keys) == 2
    assert keys[0].startswith("ci/lpack-cache-3/blobs/sha256/") and keys[1] == f"ci/lpack-cache-3/dists/{KEY}/v1.json"

    fetcher = _remote(bucket)
    assert fetcher.fetch_many(b, "dists", [(KEY, VARIANT), (OTHER, VARIANT)]) == {KEY}
    _same_tree(made, b.path("dists", KEY), ignore=("local-only.txt",))
    assert not (b.path("dists", KEY) / "local-only.txt").exists()
    assert (b.path("dists", KEY) / "pyc-cpython-312-empty").is_dir()
    assert fetcher.notes()[0].startswith(f"remote cache s3://{bucket}/ci: 1 entry fetched (")
    assert fetcher.fetch_many(b, "dists", [(KEY, VARIANT)]) == set()  # present locally: not fetched again
    assert _warnings(caplog) == []
    _clean_tmp(b)


def test_write_once_a_second_push_does_not_overwrite(s3: tuple[str, str], tmp_path: Path) -> None:
    endpoint, bucket = s3
    first, second = Cache(root=tmp_path / "a"), Cache(root=tmp_path / "c")
    _entry(first)
    _entry(second)  # the same key, other random bytes: what a poisoner would try
    _remote(bucket).push_many(first, "dists", [(KEY, VARIANT, _include)])
    before = _objects(endpoint, bucket)
    again = _remote(bucket)
    again.push_many(second, "dists", [(KEY, VARIANT, _include)])
    assert _objects(endpoint, bucket) == before
    assert "0 pushed" in again.notes()[0]
    fetched = Cache(root=tmp_path / "b")
    _remote(bucket).fetch_many(fetched, "dists", [(KEY, VARIANT)])
    _same_tree(first.path("dists", KEY), fetched.path("dists", KEY), ignore=("local-only.txt",))


def test_read_only_fetches_and_never_writes(s3: tuple[str, str], tmp_path: Path) -> None:
    endpoint, bucket = s3
    a = Cache(root=tmp_path / "a")
    _entry(a)
    reader = _remote(bucket, read_only=True)
    reader.push_many(a, "dists", [(KEY, VARIANT, _include)])
    assert _objects(endpoint, bucket) == {}
    assert reader.notes() == [f"remote cache s3://{bucket}/ci (read-only): 0 entries fetched (0 B)"]
    _remote(bucket).push_many(a, "dists", [(KEY, VARIANT, _include)])
    assert reader.fetch_many(Cache(root=tmp_path / "b"), "dists", [(KEY, VARIANT)]) == {KEY}


def _put(endpoint: str, bucket: str, key: str, body: bytes) -> None:
    client("s3", endpoint).put_object(Bucket=bucket, Key=key, Body=body)


def _pushed(endpoint: str, bucket: str, tmp_path: Path) -> tuple[str, str]:
    a = Cache(root=tmp_path / "a")
    _entry(a)
    _entry(a, OTHER)
    _remote(bucket).push_many(a, "dists", [(KEY, VARIANT, _include), (OTHER, VARIANT, _include)])
    pointer = f"ci/lpack-cache-3/dists/{KEY}/v1.json"
    doc = json.loads(client("s3", endpoint).get_object(Bucket=bucket, Key=pointer)["Body"].read())
    return pointer, f"ci/lpack-cache-3/blobs/sha256/{doc['sha256'][:2]}/{doc['sha256']}.zip"


@pytest.mark.parametrize("what", ["blob", "pointer-digest", "pointer-garbage", "blob-truncated"])
def test_a_tampered_blob_or_pointer_is_refused_and_nothing_installed(
    s3: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture, what: str
) -> None:
    endpoint, bucket = s3
    pointer, blob = _pushed(endpoint, bucket, tmp_path)
    data = client("s3", endpoint).get_object(Bucket=bucket, Key=blob)["Body"].read()
    if what == "blob":
        _put(endpoint, bucket, blob, data[:-10] + b"0123456789")
    elif what == "blob-truncated":
        _put(endpoint, bucket, blob, data[: len(data) // 2])
    elif what == "pointer-digest":
        _put(endpoint, bucket, pointer, pointer_bytes("0" * 64, len(data)))
    else:
        _put(endpoint, bucket, pointer, b"<html>not a pointer</html>")
    b = Cache(root=tmp_path / "b")
    remote = _remote(bucket)
    # The tampered entry is refused; the breaker stays on, so the intact one still comes.
    assert remote.fetch_many(b, "dists", [(KEY, VARIANT), (OTHER, VARIANT)]) == {OTHER}
    assert b.get("dists", KEY) is None
    [warning] = _warnings(caplog)
    assert f"ci/lpack-cache-3/dists/{KEY}/v1.json" in warning or blob in warning
    assert "not used" in warning
    assert "1 refused" in remote.notes()[0]
    _clean_tmp(b)


def test_a_hostile_zip_matching_its_pointer_is_refused(
    s3: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint, bucket = s3
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as zf:
        zf.writestr(".lpack-remote-dirs", "")
        zf.writestr("../escaped.txt", "x")
    import hashlib  # noqa: PLC0415

    data = hostile.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    _put(endpoint, bucket, f"ci/lpack-cache-3/blobs/sha256/{sha[:2]}/{sha}.zip", data)
    _put(endpoint, bucket, f"ci/lpack-cache-3/dists/{KEY}/v1.json", pointer_bytes(sha, len(data)))
    b = Cache(root=tmp_path / "cache" / "b")
    assert _remote(bucket).fetch_many(b, "dists", [(KEY, VARIANT)]) == set()
    [warning] = _warnings(caplog)
    assert "../escaped.txt" in warning and sha in warning
    assert not list(tmp_path.rglob("escaped.txt"))
    _clean_tmp(b)


def _fails_fast(remote: RemoteCache, cache: Cache, caplog: pytest.LogCaptureFixture) -> str:
    """Every call returns, quickly, with nothing; one warning; the remote is off afterwards."""
    _entry(cache, OTHER)
    start = time.monotonic()
    assert remote.fetch_many(cache, "dists", [(KEY, VARIANT), ("c" * 64, VARIANT)]) == set()
    remote.push_many(cache, "dists", [(OTHER, VARIANT, _include)])
    assert remote.fetch_many(cache, "dists", [(KEY, VARIANT)]) == set()
    assert time.monotonic() - start < FAST
    [warning] = _warnings(caplog)
    assert "using the local cache only" in warning
    assert "testing-secret" not in warning and "Signature=" not in warning and "X-Amz" not in warning
    assert "switched off" in remote.notes()[0]
    assert cache.get("dists", KEY) is None
    _clean_tmp(cache)
    return warning


def test_a_missing_bucket_switches_the_remote_off(
    s3: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warning = _fails_fast(_remote("no-such-bucket-here"), Cache(root=tmp_path / "b"), caplog)
    assert "NoSuchBucket" in warning


def test_a_refused_port_switches_the_remote_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    warning = _fails_fast(_remote("cache"), Cache(root=tmp_path / "b"), caplog)
    assert "EndpointConnectionError" in warning


def test_no_credentials_switch_the_remote_off(
    s3: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probe on this machine
    warning = _fails_fast(_remote(s3[1]), Cache(root=tmp_path / "b"), caplog)
    assert "no AWS credentials" in warning


def test_a_wrong_secret_key_switches_the_remote_off(
    seaweed_server: SeaweedFS, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"cache-{uuid.uuid4().hex[:12]}"
    seaweed_server.create_bucket(bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", seaweed_server.url)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    warning = _fails_fast(_remote(bucket), Cache(root=tmp_path / "b"), caplog)
    assert "SignatureDoesNotMatch" in warning or "AccessDenied" in warning
    assert "not-the-secret" not in warning


def test_a_server_dying_mid_transfer_installs_nothing_and_switches_off(
    s3: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, bucket = s3
    a = Cache(root=tmp_path / "a")
    _entry(a, big=6 << 20)  # random bytes: the blob stays about as large
    _remote(bucket).push_many(a, "dists", [(KEY, VARIANT, _include)])
    host, _, port = endpoint.removeprefix("http://").partition(":")
    proxy = CuttingProxy((host, int(port)), cut_after=1 << 20)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        b = Cache(root=tmp_path / "b")
        remote = _remote(bucket)
        start = time.monotonic()
        assert remote.fetch_many(b, "dists", [(KEY, VARIANT)]) == set()
        assert time.monotonic() - start < FAST
        assert proxy.cuts >= 1
        [warning] = _warnings(caplog)
        assert "downloading ci/lpack-cache-3/blobs/sha256/" in warning
        assert b.get("dists", KEY) is None
        _clean_tmp(b)
        connections = proxy.connections
        assert remote.fetch_many(b, "dists", [(KEY, VARIANT)]) == set()  # the breaker: not tried again
        assert proxy.connections == connections
        assert len(_warnings(caplog)) == 1
    finally:
        proxy.close()


def test_put_once_never_replaces_an_object(s3: tuple[str, str]) -> None:
    from lpack.remote.store import Store  # noqa: PLC0415

    endpoint, bucket = s3
    store = Store(RemoteSettings(url=f"s3://{bucket}/ci"), workers=2)
    assert store.put_once("ci/x", b"first", {}) is True
    etag = _objects(endpoint, bucket)["ci/x"]
    assert store.put_once("ci/x", b"second", {}) is False
    assert _objects(endpoint, bucket)["ci/x"] == etag
    assert client("s3", endpoint).get_object(Bucket=bucket, Key="ci/x")["Body"].read() == b"first"


def test_concurrent_writers_leave_one_whole_entry(s3: tuple[str, str], tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    endpoint, bucket = s3
    caches = [Cache(root=tmp_path / f"w{i}") for i in range(4)]
    for cache in caches:
        _entry(cache)  # the same key, different bytes in each: only one may win
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: _remote(bucket).push_many(c, "dists", [(KEY, VARIANT, _include)]), caches))
    pointers = [k for k in _objects(endpoint, bucket) if k.endswith(".json")]
    assert pointers == [f"ci/lpack-cache-3/dists/{KEY}/v1.json"]
    fetched = Cache(root=tmp_path / "b")
    assert _remote(bucket).fetch_many(fetched, "dists", [(KEY, VARIANT)]) == {KEY}
    winners = [
        c
        for c in caches
        if filecmp.cmp(
            c.path("dists", KEY) / "site/pkg/data.bin", fetched.path("dists", KEY) / "site/pkg/data.bin", shallow=False
        )
    ]
    assert len(winners) == 1
    _same_tree(winners[0].path("dists", KEY), fetched.path("dists", KEY), ignore=("local-only.txt",))


class _Answering(http.server.BaseHTTPRequestHandler):
    """Every request answered 503 with S3's error document: an overloaded or broken server."""

    def _reply(self) -> None:
        body = b"<Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = _reply

    def log_message(self, *_args: object) -> None:
        pass


def test_a_server_answering_5xx_switches_the_remote_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answering)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.server_address[1]}")
        warning = _fails_fast(_remote("cache"), Cache(root=tmp_path / "b"), caplog)
        assert "ServiceUnavailable" in warning
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_accepts_and_never_answers_costs_two_read_timeouts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "READ_TIMEOUT", 1.0)  # 10 s in use; the same path, sooner
    with socket.create_server(("127.0.0.1", 0)) as listener:  # the kernel accepts; nobody ever reads
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{listener.getsockname()[1]}")
        warning = _fails_fast(_remote("cache"), Cache(root=tmp_path / "b"), caplog)
    assert "ReadTimeoutError" in warning
