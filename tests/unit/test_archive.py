from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from lpack import _archive
from lpack.errors import EmitError
from lpack.staging import StagingTree, scan

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # PKWARE APPNOTE 4.3.7, 30 bytes

FILES = {
    "app.py": (b"def handler(event, context):\n    return 1\n", 0o600),
    "bin/tool": (b"#!/usr/bin/env python3\nprint('hi')\n", 0o700),
    "bin/owner-only-x": (b"#!/bin/sh\n", 0o744),
    "pkg/__init__.py": (b"", 0o666),
    "pkg/sub/data.json": (b'{"a": 1}' * 200, 0o640),
    "pkg-1.0.dist-info/METADATA": (b"Name: pkg\nVersion: 1.0\n", 0o644),
    "z.txt": (b"last\n", 0o604),
}


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _tree(root: Path, files: dict[str, tuple[bytes, int]] = FILES) -> StagingTree:
    # Created in reverse order so that disk order never happens to be sorted order.
    for rel, (data, mode) in reversed(list(files.items())):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    return scan(root, "deps")


def _zip(
    tmp_path: Path, name: str = "out.zip", *, prefix: str = "", files: dict[str, tuple[bytes, int]] = FILES
) -> Path:
    dest = tmp_path / name
    _archive.write_zip(_tree(tmp_path / f"src-{name}", files), dest, prefix=prefix)
    return dest


def _mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0o7777


# --- layout -------------------------------------------------------------------------------------------------


def test_entries_are_sorted_with_a_directory_entry_for_every_parent(tmp_path: Path) -> None:
    with zipfile.ZipFile(_zip(tmp_path)) as zf:
        names = zf.namelist()
    assert names == sorted(names)
    assert names == [
        "app.py",
        "bin/",
        "bin/owner-only-x",
        "bin/tool",
        "pkg-1.0.dist-info/",  # "-" sorts before "/"
        "pkg-1.0.dist-info/METADATA",
        "pkg/",
        "pkg/__init__.py",
        "pkg/sub/",
        "pkg/sub/data.json",
        "z.txt",
    ]


def test_directory_entries_look_like_zip_r_writes_them(tmp_path: Path) -> None:
    with zipfile.ZipFile(_zip(tmp_path)) as zf:
        dirs = [i for i in zf.infolist() if i.filename.endswith("/")]
    assert dirs
    for info in dirs:
        assert info.is_dir()
        assert info.file_size == 0
        assert info.compress_type == zipfile.ZIP_STORED
        assert stat.S_ISDIR(info.external_attr >> 16), info.filename
        assert _mode(info) == 0o755
        assert info.external_attr & 0x10  # MS-DOS directory attribute


def test_prefix_puts_everything_under_it_with_its_own_directory_entries(tmp_path: Path) -> None:
    with zipfile.ZipFile(_zip(tmp_path, prefix="/python/lib/")) as zf:
        names = zf.namelist()
    assert names[:3] == ["python/", "python/lib/", "python/lib/app.py"]
    assert all(n.startswith("python/") for n in names)
    assert "python/lib/pkg/sub/" in names


def test_contents_round_trip(tmp_path: Path) -> None:
    with zipfile.ZipFile(_zip(tmp_path)) as zf:
        assert zf.testzip() is None
        for rel, (data, _) in FILES.items():
            assert zf.read(rel) == data


def test_empty_tree_gives_an_empty_valid_zip(tmp_path: Path) -> None:
    dest = tmp_path / "empty.zip"
    _archive.write_zip(StagingTree.of([]), dest)
    with zipfile.ZipFile(dest) as zf:
        assert zf.namelist() == []


# --- modes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_modes_are_0644_or_0755_whatever_the_disk_modes_and_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        dest = _zip(tmp_path)
    finally:
        os.umask(old)
    with zipfile.ZipFile(dest) as zf:
        modes = {i.filename: _mode(i) for i in zf.infolist() if not i.is_dir()}
        systems = {i.create_system for i in zf.infolist()}
        kinds = {stat.S_IFMT(i.external_attr >> 16) for i in zf.infolist() if not i.is_dir()}
    assert modes == {
        "app.py": 0o644,
        "bin/tool": 0o755,
        "bin/owner-only-x": 0o755,  # any x bit counts
        "pkg/__init__.py": 0o644,  # group/other write bits are dropped
        "pkg/sub/data.json": 0o644,
        "pkg-1.0.dist-info/METADATA": 0o644,
        "z.txt": 0o644,
    }
    assert systems == {3}  # Unix: unzip applies the modes
    assert kinds == {stat.S_IFREG}


# --- dates --------------------------------------------------------------------------------------------------


def _dates(path: Path) -> set[tuple[int, int, int, int, int, int]]:
    with zipfile.ZipFile(path) as zf:
        return {i.date_time for i in zf.infolist()}


def test_without_source_date_epoch_every_entry_is_dated_1980(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert _dates(_zip(tmp_path)) == {(1980, 1, 1, 0, 0, 0)}


def test_source_date_epoch_is_used_in_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    try:
        dates = _dates(_zip(tmp_path))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert dates == {(2023, 11, 14, 22, 13, 20)}


@pytest.mark.parametrize("value", ["0", "315532799", "-5"])
def test_source_date_epoch_before_1980_is_clamped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert _archive.source_date_epoch() == _archive.ZIP_EPOCH_MIN == 315_532_800
    assert _dates(_zip(tmp_path)) == {(1980, 1, 1, 0, 0, 0)}


def test_source_date_epoch_that_is_not_a_number_is_an_emit_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(EmitError, match="SOURCE_DATE_EPOCH") as info:
        _archive.source_date_epoch()
    assert info.value.hint is not None


def test_file_mtimes_do_not_leak_into_the_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    tree = _tree(tmp_path / "src")
    for entry in tree:
        os.utime(entry.source, (1_600_000_000, 1_600_000_000))
    _archive.write_zip(tree, tmp_path / "a.zip")
    assert _dates(tmp_path / "a.zip") == {(1980, 1, 1, 0, 0, 0)}


# --- bytes --------------------------------------------------------------------------------------------------


def test_no_extra_fields_in_local_or_central_headers(tmp_path: Path) -> None:
    dest = _zip(tmp_path)
    raw = dest.read_bytes()
    with zipfile.ZipFile(dest) as zf:
        infos = zf.infolist()
    for info in infos:
        assert info.extra == b"", info.filename
        header = _LOCAL_HEADER.unpack_from(raw, info.header_offset)
        assert header[0] == b"PK\x03\x04"
        assert header[-1] == 0, f"{info.filename}: local extra field of {header[-1]} bytes"


def test_files_are_deflated_at_the_fixed_level(tmp_path: Path) -> None:
    dest = _zip(tmp_path)
    raw = dest.read_bytes()
    with zipfile.ZipFile(dest) as zf:
        info = zf.getinfo("pkg/sub/data.json")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    header = _LOCAL_HEADER.unpack_from(raw, info.header_offset)
    start = info.header_offset + _LOCAL_HEADER.size + header[-2] + header[-1]
    stored = raw[start : start + info.compress_size]
    deflate = zlib.compressobj(_archive.COMPRESS_LEVEL, zlib.DEFLATED, -15)
    assert stored == deflate.compress(FILES["pkg/sub/data.json"][0]) + deflate.flush()


def test_same_tree_gives_the_same_bytes_whatever_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: None
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = _zip(tmp_path, "first.zip")
    # Other directory, other disk modes (still executable or not), other mtimes, other umask.
    other = {rel: (data, 0o755 if mode & 0o111 else 0o644) for rel, (data, mode) in FILES.items()}
    os.umask(0o077)
    second = _zip(tmp_path, "second.zip", files=other)
    for entry in scan(tmp_path / "src-second.zip", "deps"):
        os.utime(entry.source, (2_000_000_000, 2_000_000_000))
    third = tmp_path / "third.zip"
    _archive.write_zip(scan(tmp_path / "src-second.zip", "deps"), third)
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs Info-ZIP unzip")
def test_unzip_tests_the_archive_cleanly(tmp_path: Path) -> None:
    dest = _zip(tmp_path, prefix="python")
    proc = subprocess.run(["unzip", "-t", str(dest)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No errors detected" in proc.stdout


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs Info-ZIP unzip")
def test_unzip_extracts_the_normalized_modes(tmp_path: Path, umask: None) -> None:
    dest = _zip(tmp_path)
    out = tmp_path / "x"
    subprocess.run(["unzip", "-q", str(dest), "-d", str(out)], check=True)
    assert stat.S_IMODE((out / "bin" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "app.py").stat().st_mode) == 0o644


# --- atomic_output ------------------------------------------------------------------------------------------


def test_atomic_output_moves_the_file_into_place(tmp_path: Path, umask: None) -> None:
    dest = tmp_path / "dist" / "fn.zip"  # the parent is created
    with _archive.atomic_output(dest) as tmp:
        assert tmp.parent == dest.parent
        assert tmp != dest
        assert not dest.exists()
        tmp.write_bytes(b"zip")
    assert dest.read_bytes() == b"zip"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fn.zip"]
    # Readable like any file the user makes (umask 022), not mkstemp's 0600.
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_atomic_output_leaves_nothing_on_exception(tmp_path: Path) -> None:
    dest = tmp_path / "dist" / "fn.zip"

    class Boom(Exception):
        pass

    with pytest.raises(Boom), _archive.atomic_output(dest) as tmp:
        tmp.write_bytes(b"half a zip")
        raise Boom
    assert list(dest.parent.iterdir()) == []


def test_atomic_output_keeps_the_previous_artifact_on_exception(tmp_path: Path) -> None:
    dest = tmp_path / "fn.zip"
    dest.write_bytes(b"old")
    with pytest.raises(EmitError), _archive.atomic_output(dest) as tmp:
        tmp.write_bytes(b"new")
        raise EmitError("emitter failed")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fn.zip"]
