"""The remote cache without a server: its settings (URL, config table, environment, command line), packing an
entry and refusing hostile zips, pointers, and what happens when boto3 is missing."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

from lpack.cache import Cache
from lpack.config import load_config
from lpack.config.fields import Where
from lpack.config.model import Overrides, RemoteSettings
from lpack.config.remote import parse_remote_url, remote_settings
from lpack.errors import ArchiveError, ConfigError, LpackError, SizeLimitError
from lpack.remote import RemoteCache
from lpack.remote.pack import DIRS_MEMBER, NotPackable, pack_entry, unpack_entry
from lpack.remote.store import Refused, parse_pointer, pointer_bytes

# --- settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("s3://bkt", "s3://bkt"),
        ("s3://bkt/", "s3://bkt"),
        ("s3://my.ci-bucket/lpack/cache/", "s3://my.ci-bucket/lpack/cache"),
        ("  s3://bkt/a_b/c=d  ", "s3://bkt/a_b/c=d"),
    ],
)
def test_good_urls_are_normalized(given: str, expected: str) -> None:
    assert parse_remote_url(given, "LPACK_CACHE_REMOTE") == expected
    settings = RemoteSettings(url=expected)
    assert settings.bucket == expected.removeprefix("s3://").split("/")[0]


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("bkt/prefix", "is not an s3:// URL"),
        ("https://bkt.s3.amazonaws.com/x", "is not an s3:// URL"),
        ("s3://", "no valid bucket name"),
        ("s3://B", "no valid bucket name"),
        ("s3://Upper-Case/x", "no valid bucket name"),
        ("s3://a..b/x", "no valid bucket name"),
        ("s3://bkt//x", "empty"),
        ("s3://bkt/../x", "'..'"),
        ("s3://bkt/a b", "character"),
        ("s3://bkt/x?versionId=1", "character"),
        ("s3://AKIAIOSFODNN7EXAMPLE:secret@bkt/x", "no valid bucket name"),
    ],
)
def test_bad_urls_are_one_line_naming_the_value_and_the_fix(given: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_remote_url(given, "LPACK_CACHE_REMOTE")
    err = caught.value
    assert "\n" not in err.msg and err.msg.startswith("LPACK_CACHE_REMOTE: ")
    assert problem in err.msg
    assert err.hint is not None and "s3://BUCKET/PREFIX" in err.hint
    assert "secret" not in err.msg  # user:password in a URL is masked
    if "@" not in given:
        assert given.strip() in err.msg


def _settings(table: dict[str, object], env: dict[str, str], **cli: object) -> RemoteSettings | None:
    return remote_settings(table, Where(Path("lpack.toml"), ""), Overrides(**cli), env)  # type: ignore[arg-type]


def test_environment_overrides_config_and_the_command_line_overrides_both() -> None:
    table: dict[str, object] = {"cache": {"remote": "s3://from-config/p", "read-only": True}}
    assert _settings({}, {}) is None
    assert _settings(table, {}) == RemoteSettings(url="s3://from-config/p", read_only=True)
    env = {"LPACK_CACHE_REMOTE": "s3://from-env/q", "LPACK_CACHE_REMOTE_READ_ONLY": "0"}
    assert _settings(table, env) == RemoteSettings(url="s3://from-env/q", read_only=False)
    assert _settings(table, env, cache_remote="s3://from-cli", cache_read_only=True) == RemoteSettings(
        url="s3://from-cli", read_only=True
    )
    assert _settings({}, {"LPACK_CACHE_REMOTE_READ_ONLY": "1"}) is None  # read-only alone names no remote


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ({"cache": {"remote": "http://x"}}, {}, 'lpack.toml: [cache] remote: "http://x" is not an s3:// URL'),
        ({"cache": {"remote": 3}}, {}, "[cache] remote: expected an s3://bucket/prefix URL"),
        ({"cache": {"remot": "s3://bkt"}}, {}, '[cache] remot: unknown key; did you mean "remote"?'),
        ({"cache": {"read-only": "yes"}}, {}, "[cache] read-only: expected true or false"),
        ({"cache": "s3://bkt"}, {}, "cache: expected a table"),
        ({}, {"LPACK_CACHE_REMOTE": "bkt"}, 'LPACK_CACHE_REMOTE: "bkt" is not an s3:// URL'),
        ({}, {"LPACK_CACHE_REMOTE_READ_ONLY": "maybe"}, 'LPACK_CACHE_REMOTE_READ_ONLY: "maybe" is not a yes/no'),
    ],
)
def test_bad_settings_are_config_errors(table: dict[str, object], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        _settings(table, env)
    assert message in caught.value.msg


def test_the_cache_table_reaches_the_build_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lpack]\nruntime = "python3.12"\nhandler = "app.handler"\n'
        '[tool.lpack.cache]\nremote = "s3://team-cache/lpack/"\nread-only = true\n'
    )
    assert load_config(tmp_path).cache_remote == RemoteSettings(url="s3://team-cache/lpack", read_only=True)
    monkeypatch.setenv("LPACK_CACHE_REMOTE_READ_ONLY", "false")
    assert load_config(tmp_path).cache_remote == RemoteSettings(url="s3://team-cache/lpack", read_only=False)
    with pytest.raises(ConfigError, match=r"--cache-remote: \"s3:/x\" is not an s3:// URL"):
        load_config(tmp_path, Overrides(cache_remote="s3:/x"))


# --- packing ----------------------------------------------------------------------------------------------


def _entry(root: Path) -> Path:
    (root / "site" / "pkg").mkdir(parents=True)
    (root / "site" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "site" / "pkg" / "blob.bin").write_bytes(os.urandom(5000))
    (root / "bin").mkdir()
    (root / "bin" / "run").write_text("#!/bin/sh\n")
    (root / "bin" / "run").chmod(0o755)
    (root / "pyc-cpython-312-x" / "nested-empty").mkdir(parents=True)
    (root / "skip.me").write_text("local\n")
    return root


def test_pack_and_unpack_round_trip_regular_files_modes_and_empty_directories(tmp_path: Path) -> None:
    entry = _entry(tmp_path / "entry")
    blob = tmp_path / "one.zip"
    packed = pack_entry(entry, lambda rel: rel != "skip.me", blob, work=tmp_path)
    assert packed.files == 3
    size = unpack_entry(blob, tmp_path / "out")
    assert size == packed.bytes
    out = tmp_path / "out"
    got = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert got == [
        "bin",
        "bin/run",
        "pyc-cpython-312-x",
        "pyc-cpython-312-x/nested-empty",
        "site",
        "site/pkg",
        "site/pkg/__init__.py",
        "site/pkg/blob.bin",
    ]
    for rel in ("bin/run", "site/pkg/__init__.py", "site/pkg/blob.bin"):
        assert (out / rel).read_bytes() == (entry / rel).read_bytes()
    assert (out / "bin" / "run").stat().st_mode & 0o777 == 0o755
    assert (out / "site" / "pkg" / "blob.bin").stat().st_mode & 0o777 == 0o644
    # Deterministic: the same entry is the same blob, whatever SOURCE_DATE_EPOCH says.
    again = tmp_path / "two.zip"
    os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
    try:
        pack_entry(entry, lambda rel: rel != "skip.me", again, work=tmp_path)
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    assert again.read_bytes() == blob.read_bytes()


def test_an_entry_holding_a_symlink_is_not_packed(tmp_path: Path) -> None:
    entry = _entry(tmp_path / "entry")
    (entry / "site" / "link.py").symlink_to("pkg/__init__.py")
    with pytest.raises(NotPackable, match=r"site/link\.py is a symlink"):
        pack_entry(entry, lambda _rel: True, tmp_path / "x.zip", work=tmp_path)


def test_an_entry_over_the_fetch_limit_is_not_packed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lpack.remote.pack.MAX_ENTRY_BYTES", 1000)
    with pytest.raises(NotPackable, match="more than the"):
        pack_entry(_entry(tmp_path / "entry"), lambda _rel: True, tmp_path / "x.zip", work=tmp_path)


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]], *, marker: bool = True) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name the test writes on purpose
        if marker:
            zf.writestr(DIRS_MEMBER, "")
        for name, data in members:
            zf.writestr(name, data)
    return path


def _symlink_member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize(
    ("members", "marker", "error"),
    [
        ([("../escape.py", b"x")], True, "../escape.py"),
        ([("/etc/cron.d/x", b"x")], True, "/etc/cron.d/x"),
        ([("a/../../escape.py", b"x")], True, "escape.py"),
        ([(_symlink_member("site/link"), b"../../etc/passwd")], True, "site/link"),
        ([(_symlink_member("site/inside"), b"x.py"), ("site/x.py", b"1")], True, "site/inside is a symlink"),
        ([("site/a.py", b"1"), ("site/a.py", b"2")], True, "site/a.py"),
        ([("site/a.py", b"1")], False, "not an lpack cache entry"),
        ([(DIRS_MEMBER, b"../outside\n")], False, "outside the entry"),
        ([(DIRS_MEMBER, b"/abs\n")], False, "outside the entry"),
    ],
    ids=[
        "dotdot",
        "absolute",
        "nested-dotdot",
        "symlink-out",
        "symlink-in",
        "duplicate",
        "no-marker",
        "dirs-dotdot",
        "dirs-abs",
    ],
)
def test_hostile_zips_are_refused(
    tmp_path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]], marker: bool, error: str
) -> None:
    blob = _zip(tmp_path / "hostile.zip", members, marker=marker)
    dest = tmp_path / "area" / "entry"
    with pytest.raises(ArchiveError) as caught:
        unpack_entry(blob, dest)
    assert error in caught.value.msg
    assert str(tmp_path) not in caught.value.msg
    assert not list(tmp_path.rglob("escape.py")) and not (tmp_path / "outside").exists()


def test_an_oversize_zip_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    blob = _zip(tmp_path / "big.zip", [("site/big.bin", b"\0" * 10_000)])
    with pytest.raises(SizeLimitError, match=r"^declares 9\.8 KiB unzipped, over the 4\.0 KiB allowed here"):
        unpack_entry(blob, tmp_path / "entry", limit=4096)
    assert not (tmp_path / "entry").exists()


def test_a_broken_zip_is_refused(tmp_path: Path) -> None:
    blob = tmp_path / "broken.zip"
    blob.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(LpackError, match="not a readable zip"):
        unpack_entry(blob, tmp_path / "entry")


# --- pointers ---------------------------------------------------------------------------------------------


def test_a_pointer_round_trips() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    pointer = parse_pointer(pointer_bytes(sha, 12), "p.json")
    assert (pointer.sha256, pointer.size) == (sha, 12)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"format": "other", "sha256": "' + b"a" * 64 + b'", "size": 1}',
        b'{"format": "lpack-cache-remote-1", "sha256": "abc", "size": 1}',
        b'{"format": "lpack-cache-remote-1", "sha256": "' + b"A" * 64 + b'", "size": 1}',
        b'{"format": "lpack-cache-remote-1", "sha256": "' + b"a" * 64 + b'", "size": 0}',
        b'{"format": "lpack-cache-remote-1", "sha256": "' + b"a" * 64 + b'", "size": true}',
        b'{"format": "lpack-cache-remote-1", "sha256": "' + b"a" * 64 + b'", "size": 99999999999999}',
    ],
)
def test_bad_pointers_are_refused(data: bytes) -> None:
    with pytest.raises(Refused, match=r"^p\.json "):
        parse_pointer(data, "p.json")


# --- no boto3 ---------------------------------------------------------------------------------------------


def test_without_boto3_one_warning_and_the_build_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    cache = Cache(root=tmp_path / "cache")
    cache.obtain("dists", "k" * 64, lambda tmp: (tmp / "f").write_text("x"))
    remote = RemoteCache(RemoteSettings(url="s3://bkt/p"))
    assert remote.fetch_many(cache, "dists", [("a" * 64, "v")]) == set()
    remote.push_many(cache, "dists", [("k" * 64, "v", lambda _rel: True)])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "remote cache s3://bkt/p: boto3 is not installed: install lpack-lambda[publish] for the remote cache;"
        " using the local cache only"
    ]


def test_unsafe_names_are_never_requested(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    remote = RemoteCache(RemoteSettings(url="s3://bkt/p"))
    assert remote.fetch_many(Cache(root=tmp_path), "dists", [("../x", "v"), ("k", "a/b")]) == set()
    assert len([r for r in caplog.records if "not a safe object name" in r.getMessage()]) == 2
    assert not remote.off
