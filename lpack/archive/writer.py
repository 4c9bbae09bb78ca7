"""Deterministic archives: sorted entries, one timestamp, normalized modes, fixed compression.

Every archive lpack writes goes through here, so the same StagingTree gives the same bytes on any
machine, umask, time zone or thread count.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from lpack.archive import zipformat as _zip
from lpack.archive.deflate import Compression
from lpack.archive.zipformat import EXEC_MODE, FILE_MODE, RawMember
from lpack.errors import EmitError
from lpack.staging.tree import Entry, StagingTree

ZIP_EPOCH_MIN = 315_532_800  # 1980-01-01T00:00:00Z: the earliest date a zip entry can hold
DEFAULT_COMPRESSION: Compression = "default"
# Marks a directory lpack writes artifacts into, so a later build never packs it, wherever it is and whatever
# --out says then (sources.py skips a directory holding this file).
OUTPUT_TAG = ".lpack-output"
_TAG_TEXT = "This directory holds lpack build output; lpack never packs it into an artifact.\n"


def mark_output_dir(directory: Path) -> None:
    """Create `directory` if needed and tag it as lpack's output (see OUTPUT_TAG)."""
    directory.mkdir(parents=True, exist_ok=True)
    tag = directory / OUTPUT_TAG
    if not tag.is_file():
        tag.write_text(_TAG_TEXT)


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH if set (clamped to 1980, zip's first year), else 1980-01-01."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if not raw:
        return ZIP_EPOCH_MIN
    try:
        value = int(raw)
    except ValueError:
        raise EmitError(
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds",
            hint="set it to a Unix time such as $(git log -1 --format=%ct), or unset it",
        ) from None
    return max(value, ZIP_EPOCH_MIN)


def zip_date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    # UTC, so the local time zone never leaks into the archive.
    t = time.gmtime(epoch)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def write_zip(
    tree: StagingTree,
    dest: Path,
    *,
    prefix: str = "",
    compression: Compression = DEFAULT_COMPRESSION,
    threads: int | None = None,
    reuse: Mapping[Path, RawMember] | None = None,
) -> None:
    """Write `tree` as a zip at `dest` (not atomically: use `atomic_output`), entries under `prefix`.

    The writer is `_zip` (our own, deflating in parallel threads). `reuse` maps an entry's source file to
    its compressed bytes in another zip written in the same `compression` mode: those are copied raw.
    """
    _zip.write_zip(
        tree, dest, epoch=source_date_epoch(), prefix=prefix, compression=compression, threads=threads, reuse=reuse
    )


# Temporary outputs live in one directory lpack owns beside the destination, one subdirectory per write, each
# flock()ed by its writer while it lives: a build killed at any moment leaves its subdirectory unlocked, and the
# next write into that directory removes it. The destination is replaced by rename only, so it is always the
# previous artifact or the new one, never half of either.
TMP_DIR = ".lpack-tmp"
_STALE_AFTER = 10.0  # seconds: a subdirectory younger than this may be one whose writer has not locked it yet


@contextmanager
def _temporary_slot(parent: Path) -> Iterator[Path]:
    """A fresh directory under `parent`/TMP_DIR, locked while the block runs and removed after it."""
    area = parent / TMP_DIR
    _clean_stale(area)
    slot = _make_slot(area)
    fd = os.open(slot, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield slot
    finally:
        shutil.rmtree(slot, ignore_errors=True)
        os.close(fd)
        with contextlib.suppress(OSError):
            area.rmdir()  # only when no other write is under way


def _make_slot(area: Path) -> Path:
    for _ in range(5):  # another writer may remove the empty area between our mkdir and mkdtemp
        area.mkdir(parents=True, exist_ok=True)
        try:
            return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=area))
        except FileNotFoundError:
            continue
    raise EmitError(f"{area}: cannot create a temporary directory", hint="check the output directory's permissions")


def _clean_stale(area: Path) -> None:
    """Remove what killed writers left under `area` (and the `.NAME.XXXX.tmp` files older lpack versions left)."""
    try:
        slots = list(area.iterdir())
    except OSError:
        slots = []
    for slot in slots:
        with contextlib.suppress(OSError):
            if time.time() - slot.lstat().st_mtime > _STALE_AFTER and not _locked(slot):
                shutil.rmtree(slot, ignore_errors=True) if slot.is_dir() else slot.unlink()
    if not (area.parent / OUTPUT_TAG).is_file():
        return  # the legacy names below are cleared only where lpack writes artifacts, never in a project
    for legacy in area.parent.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if _LEGACY.fullmatch(legacy.name) and time.time() - legacy.lstat().st_mtime > _STALE_AFTER:
                shutil.rmtree(legacy, ignore_errors=True) if legacy.is_dir() else legacy.unlink()


# What atomic_output and atomic_directory of lpack 0.1 named an artifact's temporary file: `.NAME.zip.` (or
# `.NAME.oci.`) + mkstemp's 8 characters + `.tmp`.
_LEGACY = re.compile(r"\..+\.(zip|oci)\.[a-z0-9_]{8}\.tmp")


def _locked(slot: Path) -> bool:
    fd = os.open(slot, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextmanager
def atomic_output(dest: Path, *, check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """A temporary path (named like `dest`), renamed onto `dest` only if the block succeeds and `check(tmp)`,
    when given, returns: a file that fails it never replaces the previous one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_slot(dest.parent) as slot:
        tmp_path = slot / dest.name
        tmp_path.touch()
        yield tmp_path
        if check is not None:
            check(tmp_path)
        # An artifact is as readable as any other file the user creates.
        tmp_path.chmod(0o666 & ~_umask())
        tmp_path.replace(dest)


# --- OCI layers -----------------------------------------------------------------------------------------------
# A layer is a gzipped tar. Its two digests (the blob's, of the gzip; the diff_id, of the tar) go into the
# manifest and config, so every byte must be a function of the tree alone: sorted entries, uid/gid 0, no owner
# names, one mtime, normalized modes, GNU long-name records (deterministic, unlike PAX headers that may carry
# times), and a gzip header with mtime 0 and no file name.
GZIP_LEVEL = 6


def image_epoch() -> int:
    """SOURCE_DATE_EPOCH if set, else 0: a tar or OCI timestamp has no 1980 floor, unlike a zip entry."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if not raw:
        return 0
    try:
        return max(int(raw), 0)
    except ValueError:
        raise EmitError(
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds",
            hint="set it to a Unix time such as $(git log -1 --format=%ct), or unset it",
        ) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class TarLayer:
    diff_id: str  # "sha256:<hex>" of the uncompressed tar
    uncompressed_bytes: int


class _Hashing:
    """Counts and hashes what the tar writer produces on its way into gzip (tarfile's stream mode only writes)."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.count += len(data)
        self.sink.write(data)
        return len(data)


def _tar_info(name: str, mode: int, mtime: int, *, is_dir: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name + "/" if is_dir else name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode, info.mtime, info.size = mode, mtime, size
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_members(tar: tarfile.TarFile, members: list[tuple[str, Entry | None]], mtime: int) -> None:
    for name, entry in members:
        if entry is None:
            tar.addfile(_tar_info(name, EXEC_MODE, mtime, is_dir=True))
            continue
        mode = EXEC_MODE if entry.executable else FILE_MODE
        with entry.source.open("rb") as src:
            tar.addfile(_tar_info(name, mode, mtime, is_dir=False, size=entry.size), src)


def write_layer(tree: StagingTree, dest: Path, *, prefix: str) -> TarLayer:
    """Write `tree` under `prefix` (e.g. "var/task") as a deterministic .tar.gz at `dest`."""
    mtime = image_epoch()
    prefix = prefix.strip("/")
    parents = [prefix[:i] for i in range(len(prefix)) if prefix[i] == "/"] + ([prefix] if prefix else [])
    join = (lambda p: f"{prefix}/{p}") if prefix else (lambda p: p)
    dirs = [*parents, *(join(d) for d in tree.directories())]
    members: list[tuple[str, Entry | None]] = [(d, None) for d in dirs] + [(join(e.path), e) for e in tree]
    members.sort(key=lambda m: m[0])
    with (
        dest.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as gz,
    ):
        hashing = _Hashing(cast(BinaryIO, gz))
        with tarfile.open(fileobj=cast(IO[bytes], hashing), mode="w|", format=tarfile.GNU_FORMAT) as tar:
            _add_members(tar, members, mtime)
    return TarLayer(diff_id=f"sha256:{hashing.digest.hexdigest()}", uncompressed_bytes=hashing.count)


def write_tar(files: list[tuple[str, Path | bytes]], dest: Path) -> None:
    """A plain tar of files (and their parent directories), sorted, with the same normalized metadata."""
    mtime = image_epoch()
    dirs = {"/".join(name.split("/")[:i]) for name, _ in files for i in range(1, name.count("/") + 1)}
    members: list[tuple[str, Path | bytes | None]] = [(d, None) for d in dirs] + list(files)
    members.sort(key=lambda m: m[0])
    with tarfile.open(dest, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in members:
            if content is None:
                tar.addfile(_tar_info(name, EXEC_MODE, mtime, is_dir=True))
            elif isinstance(content, bytes):
                tar.addfile(_tar_info(name, FILE_MODE, mtime, is_dir=False, size=len(content)), io.BytesIO(content))
            else:
                with content.open("rb") as src:
                    size = content.stat().st_size
                    tar.addfile(_tar_info(name, FILE_MODE, mtime, is_dir=False, size=size), src)


@contextmanager
def atomic_directory(dest: Path) -> Iterator[Path]:
    """A temporary directory that replaces `dest` only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_slot(dest.parent) as slot:
        tmp = slot / dest.name
        tmp.mkdir()
        yield tmp
        tmp.chmod(0o777 & ~_umask())
        if dest.exists():
            dest.replace(slot / "previous")  # removed with the slot
        tmp.replace(dest)


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    # Reading the umask means setting it; two threads (--jobs) doing that at once could leave it at 0.
    with _UMASK_LOCK:
        umask = os.umask(0)
        os.umask(umask)
    return umask
