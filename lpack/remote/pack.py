"""A cache entry as one zip and back: written by lpack's deterministic zip writer, read by the safe reader.

Only regular files travel: an entry holding a symlink, a device or anything else is not packed, and a zip
holding a link, an absolute or `..` name, a duplicate or more bytes than allowed is not unpacked. Empty
directories (an entry's `pyc-*` directory for a distribution without modules) go in a small list member,
since the writer records only the directories files imply.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lpack.archive import zipformat
from lpack.archive.reader import open_zip
from lpack.archive.writer import ZIP_EPOCH_MIN
from lpack.errors import ArchiveError, LpackError
from lpack.staging.tree import Entry, StagingTree, is_executable

# An entry is one distribution or one dependency set: a few hundred MB at most. These bound what a hostile
# or broken store can make a build download and write.
MAX_ENTRY_BYTES = 2 << 30
DIRS_MEMBER = ".lpack-remote-dirs"  # the entry's empty directories, one per line


class NotPackable(Exception):
    """An entry lpack will not share: why, in a few words."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Packed:
    files: int
    bytes: int  # unzipped


def pack_entry(entry: Path, include: Callable[[str], bool], dest: Path, *, work: Path) -> Packed:
    """Write the files of `entry` for which `include(rel)` holds as a zip at `dest`; NotPackable for a link."""
    files, empty = _regular_files(entry, include)
    if sum(e.size for e in files) > MAX_ENTRY_BYTES:
        raise NotPackable(f"it holds more than the {MAX_ENTRY_BYTES >> 30} GiB a fetch accepts")
    listing = work / DIRS_MEMBER
    listing.write_text("".join(f"{d}\n" for d in empty), encoding="utf-8")
    entries = [Entry(path=DIRS_MEMBER, source=listing, size=listing.stat().st_size, executable=False, origin="deps")]
    entries += files
    # A fixed date, whatever SOURCE_DATE_EPOCH says: the same entry is the same blob on every machine.
    zipformat.write_zip(StagingTree.of(entries), dest, epoch=ZIP_EPOCH_MIN, compression="fast", threads=2)
    return Packed(files=len(files), bytes=sum(e.size for e in files))


def _regular_files(entry: Path, include: Callable[[str], bool]) -> tuple[list[Entry], list[str]]:
    found: list[Entry] = []
    empty: list[str] = []
    for base, dirs, names in os.walk(entry):
        here = Path(base)
        rel_base = here.relative_to(entry).as_posix()
        if not dirs and not names and rel_base != ".":
            empty.append(rel_base)  # truly empty on disk; a directory whose files are left out is not made
        for name in sorted([*dirs, *names]):
            path = here / name
            rel = f"{rel_base}/{name}" if rel_base != "." else name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise NotPackable(f"{rel} is a symlink")
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise NotPackable(f"{rel} is not a regular file")
            if include(rel):
                found.append(
                    Entry(
                        path=rel, source=path, size=info.st_size, executable=is_executable(info.st_mode), origin="deps"
                    )
                )
    return found, empty


def unpack_entry(blob: Path, dest: Path, *, limit: int = MAX_ENTRY_BYTES) -> int:
    """Unpack a zip pack_entry wrote into the new directory `dest`; the files' bytes. ArchiveError (or
    SizeLimitError) for anything but regular files with safe names within `limit`; messages name no path."""
    try:
        return _unpack(blob, dest, limit)
    except LpackError as err:
        # The blob's local temporary path says nothing to the reader (and is this machine's).
        raise type(err)(err.msg.removeprefix(f"{blob}: "), hint=err.hint) from None


def _unpack(blob: Path, dest: Path, limit: int) -> int:
    with open_zip(blob) as safe:
        links = [e.name for e in safe.listing.entries if e.kind == "symlink"]
        if links:
            raise ArchiveError(f"{links[0]} is a symlink; an entry holds regular files only")
        if DIRS_MEMBER not in {e.name for e in safe.listing.entries}:
            raise ArchiveError(f"not an lpack cache entry (no {DIRS_MEMBER})")
        safe.extract(dest, limit=limit)
    listing = dest / DIRS_MEMBER
    text = listing.read_text(encoding="utf-8")
    listing.unlink()
    for line in text.splitlines():
        _empty_directory(dest, line)
    return sum(e.size for e in safe.listing.entries if e.kind == "file" and e.name != DIRS_MEMBER)


def _empty_directory(dest: Path, name: str) -> None:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or "\\" in name or any(p in ("..", ".") for p in parts):
        raise ArchiveError(f"{DIRS_MEMBER} names {name!r}, outside the entry")
    current = dest
    for part in parts:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise ArchiveError(f"{DIRS_MEMBER} names {name!r}, which is not a directory")
        current.mkdir(exist_ok=True)
