"""lpack's zip writer (PKWARE APPNOTE 6.3.10): deterministic, members deflated in parallel threads.

Members are compressed in batches by a thread pool (zlib-ng and ISA-L release the GIL), at most a few
batches in flight so memory stays bounded, and written in sorted order: the bytes never depend on the thread
count. Members already compressed in another zip of ours are copied raw. ZIP64 records appear only when
needed. Policy (dates, modes, which compression) is `_archive`'s; this module only writes.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from lpack.archive.deflate import BACKENDS, Compression
from lpack.errors import EmitError
from lpack.staging.tree import Entry, StagingTree

if TYPE_CHECKING:
    from concurrent.futures import Future

FILE_MODE = 0o644
EXEC_MODE = 0o755
_STORED, _DEFLATED = 0, 8
_S_IFREG, _S_IFDIR = 0o100000, 0o040000
_MADE_BY = (3 << 8) | 20  # Unix (so unzip applies external_attr's modes), spec 2.0
_VERSION, _VERSION_ZIP64 = 20, 45
_UTF8 = 0x800  # general purpose bit 11: the name is UTF-8 (set only for non-ASCII names, as zipfile does)
_LIMIT = 0xFFFFFFFF  # a 32-bit field at this value means "see the ZIP64 extra"
_COUNT_LIMIT = 0xFFFF
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")

# Batches keep thread hand-offs cheap for many small files; the window bounds memory to a few batches.
_BATCH_BYTES = 4 << 20
_BATCH_FILES = 512
_SPOOL_BYTES = 8 << 20  # compressed members bigger than this wait in a temporary file, not in memory
_READ = 1 << 20


def zip_date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    # UTC, so the local time zone never leaks into the archive.
    t = time.gmtime(epoch)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def _dos(epoch: int) -> tuple[int, int]:
    y, mo, d, h, mi, s = zip_date_time(epoch)
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


@dataclass(frozen=True, slots=True, kw_only=True)
class RawMember:
    """A member's compressed bytes inside an existing zip, to copy without recompressing."""

    zip: Path
    data_offset: int
    crc: int
    size: int
    compressed_size: int
    method: int


def read_members(path: Path) -> dict[str, RawMember]:
    """Every file member of a zip, by name, with where its compressed bytes start."""
    found: dict[str, RawMember] = {}
    with path.open("rb") as fh, zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            fh.seek(info.header_offset)
            header = _LOCAL.unpack(fh.read(_LOCAL.size))
            start = info.header_offset + _LOCAL.size + header[9] + header[10]
            found[info.filename] = RawMember(
                zip=path,
                data_offset=start,
                crc=info.CRC,
                size=info.file_size,
                compressed_size=info.compress_size,
                method=info.compress_type,
            )
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class _Packed:
    crc: int
    size: int
    method: int
    data: bytes | IO[bytes]  # compressed; a spooled file when large
    compressed_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Member:
    name: str
    entry: Entry | None  # None: a directory


def write_zip(
    tree: StagingTree,
    dest: Path,
    *,
    epoch: int,
    prefix: str = "",
    compression: Compression,
    threads: int | None = None,
    reuse: Mapping[Path, RawMember] | None = None,
) -> None:
    """Write `tree` as a zip at `dest`, entries under `prefix`, every entry dated `epoch`.

    `reuse` maps an entry's source file to its compressed bytes in another zip written in the same
    `compression` mode: those are copied raw.
    """
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    dirs = [prefix[:i] for i in range(len(prefix)) if prefix[i] == "/"] + [prefix + d for d in tree.directories()]
    members = [_Member(name=d + "/", entry=None) for d in dirs] + [_Member(name=prefix + e.path, entry=e) for e in tree]
    members.sort(key=lambda m: m.name)
    workers = threads or _cpus()
    pack = _Packer(compression=compression, reuse=reuse or {})
    try:
        with dest.open("wb") as fh:
            writer = _Writer(fh, epoch)
            for member, packed in _in_order(_batches(members), pack, workers):
                writer.add(member, packed)
            writer.finish()
    finally:
        pack.close()


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _batches(members: list[_Member]) -> Iterator[list[_Member]]:
    batch: list[_Member] = []
    size = 0
    for member in members:
        batch.append(member)
        size += member.entry.size if member.entry else 0
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class _Packer:
    def __init__(self, *, compression: Compression, reuse: Mapping[Path, RawMember]) -> None:
        self.backend = BACKENDS[compression]
        self.reuse = reuse
        self.crc32 = self.backend.crc32()
        self.backend.compressor()  # fail here, with the hint, if the backend is missing
        # One descriptor per source zip, shared by the threads: pread needs no seek, so no lock per read.
        self.fds: dict[Path, int] = {}
        self.fds_lock = threading.Lock()

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)

    def _fd(self, path: Path) -> int:
        with self.fds_lock:
            if path not in self.fds:
                self.fds[path] = os.open(path, os.O_RDONLY)
            return self.fds[path]

    def __call__(self, batch: list[_Member]) -> list[_Packed | None]:
        return [self._one(m.entry) if m.entry else None for m in batch]

    def _one(self, entry: Entry) -> _Packed:
        raw = self.reuse.get(entry.source)
        if raw is not None:
            return _copied(raw, self._fd(raw.zip))
        compressor = self.backend.compressor()
        crc = size = 0
        out: IO[bytes] | None = tempfile.TemporaryFile() if entry.size > _SPOOL_BYTES else None  # noqa: SIM115 - the writer closes it
        parts: list[bytes] = []
        with entry.source.open("rb") as src:
            for chunk in iter(lambda: src.read(_READ), b""):
                crc = self.crc32(chunk, crc)
                size += len(chunk)
                parts.append(compressor.compress(chunk))
                if out is not None:
                    out.write(b"".join(parts))
                    parts.clear()
        parts.append(compressor.flush())
        if out is None:
            data = b"".join(parts)
            return _Packed(crc=crc, size=size, method=_DEFLATED, data=data, compressed_size=len(data))
        out.write(b"".join(parts))
        length = out.tell()
        out.seek(0)
        return _Packed(crc=crc, size=size, method=_DEFLATED, data=out, compressed_size=length)


def _copied(raw: RawMember, fd: int) -> _Packed:
    def read(offset: int, length: int) -> bytes:
        chunk = os.pread(fd, length, offset)
        if len(chunk) != length:
            raise EmitError(f"{raw.zip.name}: a cached zip member ended early", hint="run `lpack cache clean`")
        return chunk

    if raw.compressed_size <= _SPOOL_BYTES:
        data: bytes | IO[bytes] = read(raw.data_offset, raw.compressed_size)
    else:
        data = tempfile.TemporaryFile()  # noqa: SIM115 - the writer closes it
        for start in range(0, raw.compressed_size, _READ):
            data.write(read(raw.data_offset + start, min(_READ, raw.compressed_size - start)))
        data.seek(0)
    return _Packed(crc=raw.crc, size=raw.size, method=raw.method, data=data, compressed_size=raw.compressed_size)


def _copy(src: IO[bytes], dst: IO[bytes], length: int) -> None:
    while length > 0:
        chunk = src.read(min(_READ, length))
        if not chunk:
            raise EmitError("a cached zip member ended early", hint="run `lpack cache clean` and build again")
        dst.write(chunk)
        length -= len(chunk)


def _in_order(
    batches: Iterable[list[_Member]], pack: _Packer, workers: int
) -> Iterator[tuple[_Member, _Packed | None]]:
    """Batches packed by `workers` threads, yielded in submission order with at most a few in flight."""
    # concurrent.futures when a zip is written: every build imports this module, a reused one writes nothing.
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    window = 2 * workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lpack-zip") as pool:
        pending: deque[tuple[list[_Member], Future[list[_Packed | None]]]] = deque()
        for batch in batches:
            pending.append((batch, pool.submit(pack, batch)))
            if len(pending) >= window:
                yield from _done(*pending.popleft())
        while pending:
            yield from _done(*pending.popleft())


def _done(batch: list[_Member], future: Future[list[_Packed | None]]) -> Iterator[tuple[_Member, _Packed | None]]:
    yield from zip(batch, future.result(), strict=True)


class _Writer:
    """Local headers and data as members arrive, then the central directory and end records."""

    def __init__(self, fh: BinaryIO, epoch: int) -> None:
        self.fh = fh
        self.time, self.date = _dos(epoch)
        self.central: list[bytes] = []
        self.offset = 0

    def add(self, member: _Member, packed: _Packed | None) -> None:
        name = member.name.encode()
        flags = 0 if member.name.isascii() else _UTF8
        if packed is None:  # a directory: stored, empty, 0755 plus the MS-DOS directory bit, as zip -r writes it
            packed = _Packed(crc=0, size=0, method=_STORED, data=b"", compressed_size=0)
            attr = ((_S_IFDIR | EXEC_MODE) << 16) | 0x10
        else:
            assert member.entry is not None
            attr = (_S_IFREG | (EXEC_MODE if member.entry.executable else FILE_MODE)) << 16
        big = packed.size >= _LIMIT or packed.compressed_size >= _LIMIT
        local_extra = struct.pack("<HHQQ", 1, 16, packed.size, packed.compressed_size) if big else b""
        fields = (flags, packed.method, self.time, self.date, packed.crc)
        sizes = (_LIMIT, _LIMIT) if big else (packed.compressed_size, packed.size)
        version = _VERSION_ZIP64 if big else _VERSION
        header = _LOCAL.pack(0x04034B50, version, *fields, *sizes, len(name), len(local_extra))
        self.fh.write(header + name + local_extra)
        self._data(packed)
        self.central.append(self._central(name, fields, packed, attr))
        self.offset += len(header) + len(name) + len(local_extra) + packed.compressed_size

    def _data(self, packed: _Packed) -> None:
        if isinstance(packed.data, bytes):
            self.fh.write(packed.data)
            return
        with packed.data as spooled:
            _copy(spooled, self.fh, packed.compressed_size)

    def _central(self, name: bytes, fields: tuple[int, ...], packed: _Packed, attr: int) -> bytes:
        # ZIP64 extra: only the values that overflow, in the spec's order (size, compressed size, offset).
        values = [packed.size, packed.compressed_size, self.offset]
        wide = [v for v in values if v >= _LIMIT]
        extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
        usize, csize, offset = (min(v, _LIMIT) for v in values)
        version = _VERSION_ZIP64 if wide else _VERSION
        made_by = (_MADE_BY & 0xFF00) | version
        header = _CENTRAL.pack(
            0x02014B50, made_by, version, *fields, csize, usize, len(name), len(extra), 0, 0, 0, attr, offset
        )
        return header + name + extra

    def finish(self) -> None:
        directory = b"".join(self.central)
        count, size, start = len(self.central), len(directory), self.offset
        self.fh.write(directory)
        if count >= _COUNT_LIMIT or size >= _LIMIT or start >= _LIMIT:
            end64 = self.offset + size
            made_by = (_MADE_BY & 0xFF00) | _VERSION_ZIP64
            self.fh.write(_END64.pack(0x06064B50, 44, made_by, _VERSION_ZIP64, 0, 0, count, count, size, start))
            self.fh.write(_LOCATOR64.pack(0x07064B50, 0, end64, 1))
        short = min(count, _COUNT_LIMIT)
        self.fh.write(_END.pack(0x06054B50, 0, 0, short, short, min(size, _LIMIT), min(start, _LIMIT), 0))
