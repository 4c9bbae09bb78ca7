"""Reading zips lpack did not write (inspect, diff, verify): the central directory first, then only what is safe.

Every member name, kind, flag and declared size is checked before a byte is decompressed: names that leave the
tree, duplicates, symlinks, encryption and sizes that cannot be honest are findings. Member data is read only
through zipfile's own bound (it stops at the declared size and checks the CRC), so a member that lies about
its size is a finding too, never a gigabyte on disk.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lpack import runtimes
from lpack.archive.names import ArchiveFinding, Kind, ZipEntry, check_names
from lpack.errors import ArchiveError, SizeLimitError
from lpack.units import format_size

# Deflate cannot do better than about 1032:1, so a member claiming more is lying or a crafted bomb; a
# megabyte's floor keeps small runs of zeros (empty __init__.py padded by tools) out of it.
MAX_RATIO = 1_032
_RATIO_FLOOR = 1 << 20
_MAX_LINK = 4096  # PATH_MAX: a longer symlink target cannot be one
_CHUNK = 1 << 16
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


@dataclass(frozen=True, slots=True, kw_only=True)
class ZipListing:
    path: Path
    zipped_bytes: int
    entries: tuple[ZipEntry, ...]
    findings: tuple[ArchiveFinding, ...]

    @property
    def unzipped_bytes(self) -> int:
        return sum(e.size for e in self.entries if e.kind != "dir")

    @property
    def errors(self) -> tuple[ArchiveFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")


class SafeZip:
    """An open zip whose listing has been checked; reads and extracts only what the checks allow."""

    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self._infos: dict[str, zipfile.ZipInfo] = {}
        entries = []
        for info in archive.infolist():
            entry = _entry(info)
            entries.append(entry)
            self._infos.setdefault(entry.name, info)
        self._links = {e.name: self._link_target(e.name) for e in entries if e.kind == "symlink"}
        links = self._links
        size = path.stat().st_size
        findings = [*check_names(entries, links), *_member_findings(archive.infolist(), size)]
        if not any(e.kind != "dir" for e in entries):
            findings.append(_EMPTY)
        self.listing = ZipListing(path=path, zipped_bytes=size, entries=tuple(entries), findings=tuple(findings))
        self._bad = {f.member for f in findings if f.severity == "error"}

    def _link_target(self, name: str) -> str | None:
        try:
            data = self._bounded(self._infos[name], _MAX_LINK)
            return data.decode("utf-8")
        except (*_UNREADABLE, UnicodeDecodeError, _TooLong):
            return None

    def _bounded(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        if info.file_size > limit:
            raise _TooLong
        with self._archive.open(info) as fh:
            return fh.read(limit + 1)

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        """A regular member's bytes, or b"" when it is unsafe, unreadable or over `limit`; KeyError if absent."""
        info = self._infos[name]
        if name in self._bad or _entry(info).kind != "file":
            return b""
        try:
            return self._bounded(info, limit)
        except (*_UNREADABLE, _TooLong):
            return b""

    def head(self, name: str, size: int) -> bytes:
        """The first `size` bytes of a regular member (b"" when it is unsafe or unreadable)."""
        info = self._infos[name]
        if name in self._bad or _entry(info).kind != "file":
            return b""
        try:
            with self._archive.open(info) as fh:
                return fh.read(size)
        except _UNREADABLE:
            return b""

    def check_data(self, limit: int = runtimes.MAX_UNZIPPED) -> tuple[ArchiveFinding, ...]:
        """Decompress every member (to nowhere) and check its CRC; skipped when the sizes are already refused."""
        if self.listing.errors or self.listing.unzipped_bytes > limit:
            return ()
        found = []
        for info in self._archive.infolist():
            if info.filename.endswith("/"):
                continue
            try:
                with self._archive.open(info) as fh:
                    while fh.read(_CHUNK):
                        pass
            except _UNREADABLE as err:
                found.append(_bad_data(info.filename, err))
        self._bad |= {f.member for f in found}
        return tuple(found)

    def extract(self, dest: Path, *, limit: int = runtimes.MAX_UNZIPPED) -> None:
        """Write every member under `dest` (merging into what is there, as Lambda merges layers into /opt).

        Refuses, before writing anything, a zip with error findings or declaring more than `limit` bytes
        unzipped (Lambda's limit unless told). Files are created without following symlinks, and symlinks
        (inside the tree, or they were refused) come last, so nothing is ever written through one.
        """
        refuse_unsafe(self.listing, limit=limit)
        corrupt = self.check_data(limit)
        if corrupt:
            raise ArchiveError(f"{self.listing.path}: {corrupt[0].describe()}", hint=_HINT)
        dest.mkdir(parents=True, exist_ok=True)
        entries = [e for e in self.listing.entries if e.name]
        for entry in entries:
            if entry.kind == "dir":
                _directory(dest, _parts(entry.name))
            elif entry.kind == "file":
                self._file(dest, entry)
        for entry in entries:
            if entry.kind == "symlink":
                target = _place(dest, _parts(entry.name))
                target.symlink_to(self._links[entry.name] or "")  # checked to be inside: never empty

    def _file(self, dest: Path, entry: ZipEntry) -> None:
        target = _place(dest, _parts(entry.name))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "wb") as out, self._archive.open(self._infos[entry.name]) as fh:
            while chunk := fh.read(_CHUNK):
                out.write(chunk)
        # The mode Lambda gives the file: executable or not, as the zip records it; always readable.
        target.chmod(0o755 if entry.mode & 0o111 else 0o644)


class _TooLong(Exception):
    pass


_LOCAL_HEADER = 30  # a local file header's fixed part, before its name and extra field
_UTF8_FLAG = 0x800
_EMPTY = ArchiveFinding(
    severity="error", code="empty", member="", message="the zip holds no files: Lambda refuses an empty function"
)


_HINT = "rebuild it with lpack build, or unpack it yourself and look at what it holds"


@contextmanager
def open_zip(path: Path) -> Iterator[SafeZip]:
    """Open `path` and check its central directory; ArchiveError (one line) when it is not a readable zip."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such file", hint="pass a Lambda function or layer zip") from None
    except (*_UNREADABLE, UnicodeDecodeError) as err:
        raise ArchiveError(f"{path}: not a readable zip ({_reason(err)})", hint=_HINT) from None
    with archive:
        try:
            safe = SafeZip(path, archive)
        except (*_UNREADABLE, UnicodeDecodeError) as err:
            raise ArchiveError(f"{path}: not a readable zip ({_reason(err)})", hint=_HINT) from None
        yield safe


def refuse_unsafe(listing: ZipListing, *, limit: int = runtimes.MAX_UNZIPPED) -> None:
    """Raise for the first error finding, or a declared size over `limit` (Lambda's): nothing is unpacked then."""
    if listing.errors:
        first = listing.errors[0]
        more = f" (and {len(listing.errors) - 1} more)" if len(listing.errors) > 1 else ""
        raise ArchiveError(f"{listing.path}: {first.describe()}{more}", hint=_HINT + "; `lpack inspect` lists them")
    if listing.unzipped_bytes > limit and limit != runtimes.MAX_UNZIPPED:
        raise SizeLimitError(
            f"{listing.path}: declares {format_size(listing.unzipped_bytes)} unzipped, over the "
            f"{format_size(limit)} allowed here: not unpacked",
            hint="make the artifact smaller (lpack inspect shows what is big)",
        )
    if listing.unzipped_bytes > limit:
        raise SizeLimitError(
            f"{listing.path}: declares {format_size(listing.unzipped_bytes)} unzipped, over Lambda's "
            f"{format_size(runtimes.MAX_UNZIPPED)}: Lambda would refuse it, so it is not unpacked",
            hint="make the artifact smaller (lpack inspect shows what is big)",
        )


def _reason(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:200]


def _entry(info: zipfile.ZipInfo) -> ZipEntry:
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    if stat.S_ISLNK(mode):
        kind: Kind = "symlink"
    elif info.filename.endswith("/"):
        kind = "dir"
    else:
        kind = "file"
    return ZipEntry(
        name=info.filename, kind=kind, size=info.file_size, compressed=info.compress_size, mode=stat.S_IMODE(mode)
    )


def _member_findings(infos: list[zipfile.ZipInfo], zipped_bytes: int) -> Iterator[ArchiveFinding]:
    for info in infos:
        name = info.filename
        if info.header_offset + _LOCAL_HEADER + len(info.orig_filename) + info.compress_size > zipped_bytes:
            yield ArchiveFinding(
                severity="error",
                code="bad-offset",
                member=name,
                message="corrupt: its data runs past the end of the zip",
            )
        yield from _mode_findings(info)
        if not info.flag_bits & _UTF8_FLAG and not name.isascii():
            yield ArchiveFinding(
                severity="warning",
                code="legacy-name",
                member=name,
                message="a name not marked UTF-8 (read as cp437): Lambda may unpack it under another name",
            )
        if info.flag_bits & 0x1:
            yield ArchiveFinding(
                severity="error", code="encrypted", member=name, message="encrypted: Lambda cannot read it"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            yield ArchiveFinding(
                severity="error",
                code="compression",
                member=name,
                message=f"compression method {info.compress_type}: only stored and deflated members are read",
            )
        elif info.file_size >= _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            yield ArchiveFinding(
                severity="error",
                code="ratio",
                member=name,
                message=f"declares {format_size(info.file_size)} from {format_size(info.compress_size)} "
                f"({ratio:,}:1, more than deflate can do): a zip bomb?",
            )


def _mode_findings(info: zipfile.ZipInfo) -> Iterator[ArchiveFinding]:
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
        yield ArchiveFinding(
            severity="error",
            code="special-file",
            member=info.filename,
            message="a device, fifo or socket: a Lambda zip holds only files, directories and symlinks",
        )
    elif mode & (stat.S_ISUID | stat.S_ISGID):
        yield ArchiveFinding(
            severity="warning",
            code="setuid",
            member=info.filename,
            message="a setuid or setgid bit: Lambda (and lpack when it unpacks) drops it",
        )


def _bad_data(name: str, err: BaseException) -> ArchiveFinding:
    return ArchiveFinding(severity="error", code="bad-data", member=name, message=f"corrupt data ({_reason(err)})")


def _parts(name: str) -> list[str]:
    return [p for p in name.split("/") if p not in ("", ".")]


def _directory(dest: Path, parts: list[str]) -> Path:
    # Each level is made or checked without following a symlink: a previous layer's link is never gone through.
    current = dest
    for part in parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            current.mkdir(0o755)
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise ArchiveError(f"{current.relative_to(dest)}: in the way of a directory", hint=_HINT)
    return current


def _place(dest: Path, parts: list[str]) -> Path:
    # The file's directory, made safely; an earlier layer's file or link of that name is replaced, not followed.
    target = _directory(dest, parts[:-1]) / parts[-1]
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return target
    if stat.S_ISDIR(info.st_mode):
        raise ArchiveError(f"{target.relative_to(dest)}: a directory in the way of a file", hint=_HINT)
    target.unlink()
    return target
