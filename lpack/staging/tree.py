"""StagingTree: the files an artifact will hold, as sorted archive paths pointing at files on disk.

Stages never edit files in place: the dependency tree may be shared (and later cached), so a stage that
changes content writes a new file into its own overlay directory and swaps the entry.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NoReturn

from lpack.errors import AuditError

Origin = Literal["deps", "code", "bytecode"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    path: str  # POSIX path inside the artifact, no leading slash
    source: Path  # where the bytes are on disk
    size: int
    executable: bool
    origin: Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class StagingTree:
    """Files sorted by archive path; directories are implied by the paths."""

    entries: tuple[Entry, ...]

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> StagingTree:
        by_path = {e.path: e for e in entries}
        return cls(entries=tuple(by_path[p] for p in sorted(by_path)))

    @property
    def unzipped_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def paths(self) -> frozenset[str]:
        return frozenset(e.path for e in self.entries)

    def without(self, paths: Iterable[str]) -> StagingTree:
        drop = set(paths)
        return StagingTree(entries=tuple(e for e in self.entries if e.path not in drop))

    def merged(self, other: Iterable[Entry]) -> StagingTree:
        """This tree plus `other`; on the same path, `other` wins."""
        return StagingTree.of([*self.entries, *other])

    def mapped(self, change: Callable[[Entry], Entry]) -> StagingTree:
        return StagingTree.of(change(e) for e in self.entries)

    def directories(self) -> list[str]:
        split = (e.path.split("/") for e in self.entries)
        dirs = {"/".join(parts[:i]) for parts in split for i in range(1, len(parts))}
        return sorted(dirs)

    def content_hash(self) -> str:
        """sha256 over paths, modes and contents: equal hashes mean equal artifacts."""
        digest = hashlib.sha256()
        for entry in self.entries:
            digest.update(f"{entry.path}\0{int(entry.executable)}\0{entry.size}\0".encode())
            digest.update(file_sha256(entry.source).encode())
        return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_executable(mode: int) -> bool:
    # Any x bit counts: a wheel or checkout may carry 0744 or 0700; Lambda gets 0755 either way.
    return bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))


def scan(root: Path, origin: Origin, *, keep: Callable[[str, bool], bool] | None = None) -> StagingTree:
    """Every file under `root`; `keep(relpath, is_dir)` may skip paths (directories with a trailing /).

    Symlinks are followed when they stay inside `root`, and refused otherwise: an artifact must not
    depend on the machine it was built on.
    """
    root = root.resolve()
    return StagingTree.of(_walk(root, root, origin, keep or (lambda _p, _d: True), set()))


def _walk(
    root: Path, directory: Path, origin: Origin, keep: Callable[[str, bool], bool], seen: set[Path]
) -> Iterator[Entry]:
    real = directory.resolve()
    if real in seen:
        rel = directory.relative_to(root).as_posix()
        raise AuditError(f"{rel}: symlink loop", hint="remove the link that points back to its parent")
    seen = seen | {real}
    with os.scandir(directory) as it:
        items = sorted(it, key=lambda d: d.name)
    for item in items:
        path = Path(item.path)
        rel = _utf8(path.relative_to(root).as_posix())
        is_dir = _is_dir(root, item)
        # Ask first: an excluded link (a .venv pointing elsewhere) must not fail the build.
        if not keep(rel + "/" if is_dir else rel, is_dir):
            continue
        target = _inside(root, path) if item.is_symlink() else path
        if is_dir:
            yield from _walk(root, path, origin, keep, seen)
        elif target.is_file():
            st = target.stat()
            yield Entry(path=rel, source=target, size=st.st_size, executable=is_executable(st.st_mode), origin=origin)


def _is_dir(root: Path, item: os.DirEntry[str]) -> bool:
    try:
        return item.is_dir()  # follows links; a dangling link is "not a directory"
    except OSError as err:
        if err.errno == errno.ELOOP:
            _loop(root, Path(item.path))
        raise


def _loop(root: Path, link: Path) -> NoReturn:
    rel = link.relative_to(root).as_posix()
    raise AuditError(f"{rel}: symlink loop", hint="replace the links with the file itself, or exclude them")


def _utf8(rel: str) -> str:
    # A name that is not UTF-8 on disk (a Latin-1 checkout) has no faithful zip name: Lambda reads names as UTF-8.
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise AuditError(f"{shown}: file name is not UTF-8", hint="rename it to a UTF-8 name, or exclude it") from None
    return rel


def _inside(root: Path, link: Path) -> Path:
    try:
        target: Path | None = link.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 says a loop this way
        target = _loop(root, link)
    except OSError as err:
        target = _loop(root, link) if err.errno == errno.ELOOP else None
    if target is None or not target.is_relative_to(root):
        rel = link.relative_to(root).as_posix()
        raise AuditError(
            f"{rel}: symlink points outside the project or nowhere",
            hint="replace the link with the file itself, or exclude it",
        )
    return target


def retarget(entry: Entry, source: Path, **changes: object) -> Entry:
    """The same entry, its bytes now at `source` (a rewritten copy)."""
    return replace(entry, source=source, size=source.stat().st_size, **changes)  # type: ignore[arg-type]
