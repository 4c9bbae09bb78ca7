"""The remote cache through `lpack.build()` and `lpack build`: two machines (two cache directories, two checkouts)
share entries through moto's S3 on 127.0.0.1, offline with the fixture wheelhouse.

The pipeline fetches a lock's and its distributions' entries before working and pushes what it made or
completed after the artifact is written.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from lpack import build, load_config
from lpack.archive.writer import write_zip
from lpack.cache import Cache
from lpack.pipeline import store
from lpack.pipeline.dists import variant
from lpack.pipeline.results import FunctionResult
from lpack.remote import RemoteCache, RemoteSettings
from lpack.staging.tree import Entry, StagingTree
from tests.conftest import MakeProject, copy_project
from tests.integration._helpers import lpack
from tests.integration._servers import CuttingProxy, Moto, client

BUCKET = "lpack-shared-cache"
REMOTE = f"s3://{BUCKET}/ci"


@pytest.fixture
def moto(moto_server: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    moto_server.reset()
    client("s3", moto_server.url).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.url)
    return moto_server


def _objects(moto: Moto) -> dict[str, str]:
    listed = client("s3", moto.url).list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listed}


def variant_of(root: Path) -> str:
    [fn] = load_config(root).functions
    return variant(fn)


def _machine(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, tuple[str, ...]]:
    bytes_, notes, _ = _build(root, cache, monkeypatch)
    return bytes_, notes


def _build(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, tuple[str, ...], FunctionResult]:
    monkeypatch.setenv("LPACK_CACHE_REMOTE", REMOTE)
    result = build(load_config(root), cache=Cache(root=cache))
    [fn] = result.functions
    return fn.artifact.path.read_bytes(), result.notes, fn


def test_a_fresh_machine_fetches_what_another_pushed_and_builds_the_same_bytes(
    project: MakeProject, tmp_path: Path, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, notes_a = _machine(project("hello"), tmp_path / "cache-a", monkeypatch)
    assert any(n.startswith(f"remote cache {REMOTE}:") for n in notes_a)
    pushed = _objects(moto)
    assert any(k.startswith("ci/lpack-cache-3/") and k.endswith(".json") for k in pushed), pushed

    other = copy_project("hello", tmp_path / "machine-b")  # another checkout, another cache, the same bucket
    second, notes_b, fn = _build(other, tmp_path / "cache-b", monkeypatch)
    [line] = [n for n in notes_b if n.startswith(f"remote cache {REMOTE}:")]
    assert re.search(r": [1-9]\d* (entry|entries) fetched", line), line
    assert "dependencies from the cache (3 distributions); 3 fetched from the remote cache" in fn.notes
    assert fn.bytecode.compiled > 0  # the pyc came with them: only the function's own code was compiled here
    assert second == first
    assert _objects(moto) == pushed  # nothing new to push: write-once, nothing rewritten


def test_the_cli_fetches_with_cache_remote_and_read_only_never_pushes(
    project: MakeProject, tmp_path: Path, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("hello")
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path / "cache-a"))
    made = lpack("build", root, "--cache-remote", REMOTE)
    assert made.exit_code == 0, made.output
    pushed = _objects(moto)
    assert pushed
    first = (root / "dist" / "hello.zip").read_bytes()

    other = copy_project("hello", tmp_path / "pull-request")
    (other / "app.py").write_text((other / "app.py").read_text() + "\nCHANGED = True\n")
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path / "cache-b"))
    untrusted = lpack("build", other, "--cache-remote", REMOTE, "--cache-read-only")
    assert untrusted.exit_code == 0, untrusted.output
    assert re.search(rf"remote cache {REMOTE} \(read-only\): [1-9]\d* (entry|entries) fetched", untrusted.stderr)
    assert _objects(moto) == pushed  # a read-only build writes nothing
    assert (other / "dist" / "hello.zip").read_bytes() != first


def test_a_dead_remote_costs_seconds_and_the_build_matches_a_local_one(
    project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("hello")
    local = build(load_config(root), cache=Cache(root=tmp_path / "local")).functions[0].artifact.path.read_bytes()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")  # nothing listens there
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path / "cache"))
    result = lpack("build", root, "--cache-remote", REMOTE)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "testing-secret" not in result.output
    assert (root / "dist" / "hello.zip").read_bytes() == local


def test_a_lock_made_on_one_machine_is_fetched_by_another_instead_of_resolving_again(
    project: MakeProject, tmp_path: Path, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, made = _build(project("with-tests-dir"), tmp_path / "cache-a", monkeypatch)  # requirements.in
    assert "lock for requirements.in from the cache" not in made.notes
    other = copy_project("with-tests-dir", tmp_path / "machine-b")
    second, _, fn = _build(other, tmp_path / "cache-b", monkeypatch)
    assert "lock for requirements.in from the cache" in fn.notes  # fetched: no resolver run on machine B
    assert any(n.endswith("fetched from the remote cache") for n in fn.notes)
    assert second == first


def test_an_entry_whose_members_are_not_its_files_is_refused_and_built_here(
    project: MakeProject, tmp_path: Path, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("hello")
    first, _ = _machine(root, tmp_path / "cache-a", monkeypatch)
    # A writer (or a writer's bug) puts up an entry whose compressed copy of a module is not the module: its
    # store and index agree with each other, and the blob with its pointer.
    [entry] = [e for e in (tmp_path / "cache-a" / "dists").iterdir() if (e / "site" / "lp_pure_a").is_dir()]
    module = entry / "site" / "lp_pure_a" / "__init__.py"
    poison = tmp_path / "poison.py"
    poison.write_bytes(b"raise SystemExit('poisoned')"[: module.stat().st_size].ljust(module.stat().st_size, b"#"))
    store_zip = entry / "members-default.zip"
    files = [
        Entry(
            path="site/lp_pure_a/__init__.py",
            source=poison,
            size=poison.stat().st_size,
            executable=False,
            origin="deps",
        )
    ]
    store_zip.unlink()
    write_zip(StagingTree.of(files), store_zip, compression="default")
    store._write_index(store_zip)
    monkeypatch.setenv("LPACK_CACHE_REMOTE", f"{REMOTE}-poisoned")
    remote = RemoteCache(RemoteSettings(url=f"{REMOTE}-poisoned", read_only=False))
    remote.push_many(Cache(root=tmp_path / "cache-a"), "dists", [(entry.name, variant_of(root), lambda _r: True)])
    other = copy_project("hello", tmp_path / "machine-b")
    result = build(load_config(other), cache=Cache(root=tmp_path / "cache-b"))
    assert any("refused" in n for n in result.notes), result.notes
    assert result.functions[0].artifact.path.read_bytes() == first  # the module as the wheel has it


def test_a_server_dying_mid_transfer_leaves_a_local_build_of_the_same_bytes(
    project: MakeProject, tmp_path: Path, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = _machine(project("hello"), tmp_path / "cache-a", monkeypatch)
    host, port = moto.url.removeprefix("http://").split(":")
    proxy = CuttingProxy((host, int(port)), cut_after=6000)  # pointers pass; a blob's body is cut
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    try:
        second, notes, fn = _build(copy_project("hello", tmp_path / "machine-b"), tmp_path / "cache-b", monkeypatch)
    finally:
        proxy.close()
    assert proxy.cuts >= 1
    assert second == first
    assert any("switched off after an error" in n for n in notes), notes
    assert not any("fetched from the remote cache" in n for n in fn.notes)  # installed here instead
    assert not list((tmp_path / "cache-b" / "tmp").iterdir())  # nothing half-fetched left behind


def test_no_cache_means_no_remote_either(project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project("hello")
    monkeypatch.setenv("LPACK_CACHE_REMOTE", REMOTE)
    result = build(load_config(root), use_cache=False)
    assert result.notes == ()
    with_cache = build(load_config(root))
    assert [n for n in with_cache.notes if n.startswith(f"remote cache {REMOTE}")]


def test_a_bad_remote_url_is_a_usage_error(project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project("hello")
    result = lpack("build", root, "--cache-remote", "https://bucket/x")
    assert result.exit_code == 2
    assert 'error: --cache-remote: "https://bucket/x" is not an s3:// URL' in result.stderr
    monkeypatch.setenv("LPACK_CACHE_REMOTE", "bucket/x")
    result = lpack("build", root)
    assert result.exit_code == 2
    assert 'LPACK_CACHE_REMOTE: "bucket/x" is not an s3:// URL' in result.stderr
