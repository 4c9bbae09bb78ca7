from __future__ import annotations

import multiprocessing
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
from typing import Any

import pytest
from zlib_ng import zlib_ng

from lpack.archive import deflate as _deflate
from lpack.archive import writer as _archive
from lpack.archive import zipformat as zip_writer
from lpack.errors import EmitError
from lpack.staging.tree import Entry, StagingTree, scan

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
    # The default mode is zlib-ng at level 6: zlib's ratio at about three times its speed.
    deflate = zlib_ng.compressobj(6, zlib.DEFLATED, -15)
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
        assert tmp.parent.parent == dest.parent / _archive.TMP_DIR  # in lpack's own directory, named like dest
        assert tmp.name == dest.name
        assert not dest.exists()
        tmp.write_bytes(b"zip")
    assert dest.read_bytes() == b"zip"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fn.zip"]
    # Readable like any file the user makes (umask 022), not mkstemp's 0600.
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def _killed_writer(dest: str) -> None:
    with _archive.atomic_output(Path(dest)) as tmp:
        tmp.write_bytes(b"half a zip")
        os._exit(9)  # killed mid-write: no cleanup runs


def _age(path: Path) -> None:
    old = time.time() - 3600
    os.utime(path, (old, old))


def test_a_killed_write_keeps_the_previous_artifact_and_the_next_write_clears_what_it_left(tmp_path: Path) -> None:
    dest = tmp_path / "dist" / "fn.zip"
    dest.parent.mkdir()
    dest.write_bytes(b"previous")
    for _ in range(3):
        child = multiprocessing.get_context("fork").Process(target=_killed_writer, args=(str(dest),))
        child.start()
        child.join()
        assert child.exitcode == 9
    assert dest.read_bytes() == b"previous"
    left = list((dest.parent / _archive.TMP_DIR).iterdir())
    assert len(left) == 3
    for slot in left:
        _age(slot)
    (dest.parent / _archive.OUTPUT_TAG).write_text("")  # an output directory: what lpack 0.1 left there goes too
    legacy = dest.parent / ".fn.zip.k2j4_x9a.tmp"
    legacy.write_bytes(b"")
    _age(legacy)
    with _archive.atomic_output(dest) as tmp:
        tmp.write_bytes(b"new")
    assert dest.read_bytes() == b"new"
    assert sorted(p.name for p in dest.parent.iterdir()) == [_archive.OUTPUT_TAG, "fn.zip"]


def _holding_a_write(dest: str, started: Any, release: Any) -> None:
    with _archive.atomic_output(Path(dest)) as tmp:
        tmp.write_bytes(b"slow")
        _age(tmp.parent)
        started.set()
        release.wait(30)


def test_a_write_under_way_in_another_process_is_left_alone(tmp_path: Path) -> None:
    dest = tmp_path / "dist" / "fn.zip"
    ctx = multiprocessing.get_context("fork")
    started, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_holding_a_write, args=(str(tmp_path / "dist" / "other.zip"), started, release))
    child.start()
    try:
        assert started.wait(30)
        with _archive.atomic_output(dest) as tmp:
            tmp.write_bytes(b"mine")
        assert len(list((dest.parent / _archive.TMP_DIR).iterdir())) == 1  # the other write's, locked
    finally:
        release.set()
        child.join()
    assert (tmp_path / "dist" / "other.zip").read_bytes() == b"slow"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fn.zip", "other.zip"]


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


# --- the parallel writer ------------------------------------------------------------------------------------


def _unzip_t(path: Path) -> None:
    proc = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("mode", _deflate.COMPRESSIONS)
def test_every_compression_mode_round_trips_in_zipfile_and_unzip(tmp_path: Path, mode: _deflate.Compression) -> None:
    files = {**FILES, "big.bin": (os.urandom(300_000) + b"x" * 3_000_000, 0o644)}
    tree = _tree(tmp_path / "src", files)
    dest = tmp_path / f"{mode}.zip"
    _archive.write_zip(tree, dest, compression=mode)
    with zipfile.ZipFile(dest) as zf:
        assert zf.testzip() is None
        assert {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")} == {k: v for k, (v, _) in files.items()}
    if shutil.which("unzip"):
        _unzip_t(dest)


def test_modes_trade_size_for_speed_in_the_expected_order(tmp_path: Path) -> None:
    # Real Python source: lpack's own modules.
    sources = {p.name: (p.read_bytes(), 0o644) for p in Path(_archive.__file__).parent.glob("*.py")}
    text = b"".join(data for data, _ in sources.values())
    tree = _tree(tmp_path / "src", sources)
    sizes = {}
    for mode in _deflate.COMPRESSIONS:
        _archive.write_zip(tree, tmp_path / f"{mode}.zip", compression=mode)
        sizes[mode] = (tmp_path / f"{mode}.zip").stat().st_size
    # On many small files zlib-ng 9 and 6 come out within a few bytes; ISA-L 2 is clearly bigger.
    assert sizes["small"] <= sizes["default"] * 1.005
    assert sizes["default"] * 1.05 < sizes["fast"] < len(text) // 2


def test_same_bytes_whatever_the_thread_count_and_batching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"pkg/m{i:03}.py": (os.urandom(64) * (i + 1), 0o644) for i in range(300)}
    tree = _tree(tmp_path / "src", {**FILES, **files, "huge.so": (os.urandom(40_000) * 100, 0o755)})
    _archive.write_zip(tree, tmp_path / "one.zip", threads=1)
    # Small batches, small spool threshold: every code path, many hand-offs, out-of-order completion.
    monkeypatch.setattr(zip_writer, "_BATCH_FILES", 3)
    monkeypatch.setattr(zip_writer, "_SPOOL_BYTES", 1000)
    _archive.write_zip(tree, tmp_path / "many.zip", threads=8)
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "many.zip").read_bytes()


def test_raw_reuse_copies_members_and_gives_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path / "src", {**FILES, "huge.so": (os.urandom(20_000) * 100, 0o755)})
    first = tmp_path / "first.zip"
    _archive.write_zip(tree, first)
    raw = zip_writer.read_members(first)
    reuse = {e.source: raw[e.path] for e in tree if e.path != "app.py"}
    monkeypatch.setattr(zip_writer, "_SPOOL_BYTES", 1000)  # large members copied through a temporary file
    _archive.write_zip(tree, tmp_path / "second.zip", reuse=reuse)
    assert first.read_bytes() == (tmp_path / "second.zip").read_bytes()
    # A reused member really is copied, not recompressed: corrupt it in the source zip and see it travel.
    data = bytearray(first.read_bytes())
    data[raw["z.txt"].data_offset] ^= 0xFF
    first.write_bytes(bytes(data))
    _archive.write_zip(tree, tmp_path / "third.zip", reuse=reuse)
    with zipfile.ZipFile(tmp_path / "third.zip") as zf:
        assert zf.read("app.py") == FILES["app.py"][0]
        with pytest.raises((zipfile.BadZipFile, zlib.error)):
            zf.read("z.txt")


def test_more_than_65535_entries_use_zip64_end_records(tmp_path: Path) -> None:
    # 70,000 paths over one small file: fast to set up, and past the 16-bit entry count.
    source = tmp_path / "tiny.txt"
    source.write_bytes(b"t\n")
    entries = [
        Entry(path=f"d{i // 1000:02}/f{i:05}.txt", source=source, size=2, executable=False, origin="deps")
        for i in range(70_000)
    ]
    dest = tmp_path / "many.zip"
    _archive.write_zip(StagingTree.of(entries), dest, compression="fast")
    raw = dest.read_bytes()
    assert b"PK\x06\x06" in raw[-200:] and b"PK\x06\x07" in raw[-200:]  # ZIP64 end record and locator
    with zipfile.ZipFile(dest) as zf:
        infos = zf.infolist()
        assert len(infos) == 70_000 + 70
        assert zf.read("d69/f69999.txt") == b"t\n"
    if shutil.which("unzip"):
        _unzip_t(dest)


def test_small_archives_have_no_zip64_records(tmp_path: Path) -> None:
    raw = _zip(tmp_path).read_bytes()
    assert b"PK\x06\x06" not in raw and b"PK\x06\x07" not in raw
