"""A content-addressed cache of locks, installed dependency trees and build results.

Each entry lives at `<root>/<kind>/<key>/`, where the key is a sha256 of everything that decides the
entry's content. An entry is made in a temporary directory inside the cache and renamed into place, so a
reader sees a whole entry or none; a lock file (flock) per key makes a second builder of the same key wait
for the first and reuse its work instead of installing twice. Files added to an existing entry later
(compiled .pyc, the compressed-members zip) are each written to a temporary name and renamed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from lpack.errors import ConfigError, LpackError

Kind = Literal["locks", "deps", "dists", "results"]
KINDS: tuple[Kind, ...] = ("locks", "deps", "dists", "results")
LAYOUT = "3"  # bump when an entry's layout changes: old entries are then simply never hit
# 2: every entry and side file is sealed (a sha256 of what it holds) and checked when read; no pickle.
# 3: one entry per installed distribution (dists/); nothing in an entry depends on the machine that made it
#    (no file times), so an entry can be shared between machines.
# The Cache Directory Tagging Specification (bford.info/cachedir): backup tools skip the directory, and
# `lpack cache clean` removes only a directory carrying lpack's tag.
CACHEDIR_TAG = "CACHEDIR.TAG"
_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
_TAG_TEXT = f"""{_SIGNATURE}
# This file is a cache directory tag created by lpack.
# For information about cache directory tags, see https://bford.info/cachedir/
"""


def default_root() -> Path:
    """LPACK_CACHE_DIR, else the platform's cache directory (XDG on Linux, ~/Library/Caches on macOS)."""
    explicit = os.environ.get("LPACK_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "lpack"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lpack"


def make_key(*parts: str | bytes) -> str:
    """sha256 over length-prefixed parts, so ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256(LAYOUT.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class KindInfo:
    kind: Kind
    entries: int
    bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheInfo:
    root: Path
    kinds: tuple[KindInfo, ...]

    @property
    def bytes(self) -> int:
        return sum(k.bytes for k in self.kinds)


class Remote(Protocol):
    """A shared store of entries (lpack.remote.RemoteCache: S3), held here so low levels need not import it.

    Every failure of the store is a warning and the store off for the rest of the process: never an error.
    """

    read_only: bool

    def fetch_many(
        self,
        cache: Cache,
        kind: Kind,
        wanted: Sequence[tuple[str, str]],
        verify: Callable[[Path], str | None] | None = None,
    ) -> set[str]:
        """Install the remote's entry for each (key, variant) that has no local entry; the keys installed.
        `verify(unpacked)` says why an entry must not be installed (its files do not match its manifests)."""
        ...

    def push_many(self, cache: Cache, kind: Kind, made: Sequence[tuple[str, str, Callable[[str], bool]]]) -> None:
        """Upload each local entry (key, variant, include(rel)) the remote lacks; nothing when read-only."""
        ...

    def notes(self) -> list[str]:
        """What the remote did in this process, one line each."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Cache:
    root: Path
    remote: Remote | None = None  # entries shared with other machines (fetched before work, pushed after)

    @classmethod
    def default(cls) -> Cache:
        return cls(root=default_root())

    def path(self, kind: Kind, key: str) -> Path:
        return self.root.resolve() / kind / key

    def get(self, kind: Kind, key: str) -> Path | None:
        entry = self.path(kind, key)
        return entry if entry.is_dir() else None

    @contextmanager
    def locked(self, kind: Kind, key: str) -> Iterator[None]:
        """Hold the key's lock: other processes (and threads) building the same key wait here."""
        locks = self._mkdir(self.root / "locks")
        with (locks / f"{kind}-{key}.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def obtain(self, kind: Kind, key: str, make: Callable[[Path], object]) -> tuple[Path, bool]:
        """The entry for `key`, made by `make(tmpdir)` if missing; also whether it was already there."""
        found = self.get(kind, key)
        if found is not None:
            return found, True
        with self.locked(kind, key):
            found = self.get(kind, key)  # made by another builder while we waited
            if found is not None:
                return found, True
            tmp = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self._mkdir(self.root / "tmp")))
            try:
                make(tmp)
                self._mkdir(self.root / kind)
                tmp.rename(self.path(kind, key))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return self.path(kind, key), False

    def obtain_many(self, kind: Kind, keys: Sequence[str], make: Callable[[dict[str, Path]], object]) -> frozenset[str]:
        """Entries for all `keys`: the missing ones made together by `make({key: tmpdir})`, each renamed into
        place when `make` returns. Returns the keys made by this call.

        One lock per kind serializes these batches (a lock per key would hold an open file per entry: hundreds
        for a big lock); an entry another builder renamed into place meanwhile (a remote fetch) is kept."""
        missing = sorted({k for k in keys if self.get(kind, k) is None})
        if not missing:
            return frozenset()
        with self.locked(kind, "batch"):
            missing = [k for k in missing if self.get(kind, k) is None]  # made by another builder meanwhile
            if not missing:
                return frozenset()
            base = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self._mkdir(self.root / "tmp")))
            try:
                tmps = {key: base / key for key in missing}
                for tmp in tmps.values():
                    tmp.mkdir()
                make(tmps)
                return frozenset(key for key, tmp in tmps.items() if self.place(kind, key, tmp))
            finally:
                shutil.rmtree(base, ignore_errors=True)

    def place(self, kind: Kind, key: str, made: Path) -> bool:
        """Rename the finished directory `made` (inside the cache) into place as the entry for `key`, unless
        another builder put one there first: theirs stands. Whether `made` was placed."""
        with self.locked(kind, key):
            if self.get(kind, key) is not None:
                return False
            self._mkdir(self.root / kind)
            made.rename(self.path(kind, key))
        return True

    def discard(self, kind: Kind, key: str) -> None:
        """Remove one entry (found damaged): moved aside first, so no reader sees half of it."""
        entry = self.path(kind, key)
        with self.locked(kind, key):
            if not entry.is_dir():
                return
            trash = Path(tempfile.mkdtemp(prefix="discarded-", dir=self._mkdir(self.root / "tmp")))
            try:
                entry.rename(trash / "entry")
            except OSError as err:
                raise damaged(entry, f"cannot remove it ({err.strerror})") from None
            finally:
                shutil.rmtree(trash, ignore_errors=True)

    def discard_entry(self, entry: Path) -> None:
        """discard() for an entry given by its path (from CorruptEntry)."""
        if entry.parent.parent != self.root.resolve():
            raise damaged(entry, "it is not an entry of this cache")
        self.discard(entry_kind(entry), entry.name)

    def write_file(self, dest: Path, write: Callable[[Path], None]) -> None:
        """Replace `dest` (inside an entry) atomically with what `write(tmp_path)` produces."""
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        os.close(fd)
        try:
            write(Path(tmp))
            Path(tmp).replace(dest)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def info(self) -> CacheInfo:
        return CacheInfo(root=self.root, kinds=tuple(_kind_info(self.root / k, k) for k in KINDS))

    def clean(self) -> int:
        """Remove every entry; returns the bytes freed. Builds running meanwhile redo their work.

        Only a directory lpack marked as its own (its CACHEDIR.TAG) is touched: ConfigError otherwise.
        """
        if not self.root.exists():
            return 0
        if not is_marked(self.root):
            raise _not_a_cache(self.root)
        # Everything lpack keeps here: entries, memos, downloaded interpreters (python/) and tools (esbuild).
        names = (*KINDS, "interpreters", "python", "tools", "tmp", "locks")
        freed = sum(
            _du(self.root / name)
            for name in names
            if (self.root / name).is_dir() and not (self.root / name).is_symlink()
        )
        for name in names:
            path = self.root / name
            if path.is_symlink():
                path.unlink()  # a link lpack never made: removed, never followed
            else:
                shutil.rmtree(path, ignore_errors=True)
        return freed

    def ensure(self, name: str) -> Path:
        """The cache's subdirectory `name`, made (and the cache marked as lpack's) when missing."""
        return self._mkdir(self.root / name)

    def _mkdir(self, path: Path) -> Path:
        try:
            _mark_if_new(self.root)
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LpackError(
                f"cache directory {path}: {err.strerror}",
                hint="set LPACK_CACHE_DIR to a writable directory",
            ) from None
        return path


def entry_kind(entry: Path) -> Kind:
    """The kind of an entry given by its path (`<root>/<kind>/<key>`)."""
    kind = next((k for k in KINDS if k == entry.parent.name), None)
    if kind is None:
        raise damaged(entry, "it is not an entry of this cache")
    return kind


def _mark_if_new(root: Path) -> None:
    # The tag goes only into a directory lpack makes, or finds empty: a directory holding anything else (a
    # project, a home directory named by mistake in LPACK_CACHE_DIR) is never claimed, so never cleaned.
    if (root / CACHEDIR_TAG).is_file():
        return
    fresh = not root.exists() or (root.is_dir() and not any(root.iterdir()))
    root.mkdir(parents=True, exist_ok=True)
    if fresh:
        fd, tmp = tempfile.mkstemp(prefix=".CACHEDIR.TAG.", dir=root)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(_TAG_TEXT)
        Path(tmp).replace(root / CACHEDIR_TAG)


def is_marked(root: Path) -> bool:
    """Whether `root` holds the CACHEDIR.TAG lpack writes when it makes a cache (a regular file, lpack's comment)."""
    tag = root / CACHEDIR_TAG
    if tag.is_symlink() or not tag.is_file():
        return False
    try:
        with tag.open("rb") as fh:
            head = fh.read(1024).decode("ascii", "replace")
    except OSError:
        return False
    return head.startswith(_SIGNATURE) and "lpack" in head


def _not_a_cache(root: Path) -> ConfigError:
    named = f"LPACK_CACHE_DIR={root}" if os.environ.get("LPACK_CACHE_DIR") else str(root)
    return ConfigError(
        f"{named} is not an lpack cache (no {CACHEDIR_TAG} written by lpack): nothing removed",
        hint=(
            "point LPACK_CACHE_DIR at lpack's cache; a cache made by an lpack older than this check has no tag:"
            " delete that directory by hand"
        ),
    )


class CorruptEntry(LpackError):
    """A cache entry (or a file in one) does not hold what it recorded: discard it and build again."""

    def __init__(self, entry: Path, why: str) -> None:
        super().__init__(f"cache entry {entry} is damaged: {why}", hint=_CLEAN_HINT)
        self.entry = entry


_CLEAN_HINT = "`lpack cache clean` empties the cache (LPACK_CACHE_DIR); the next build fills it again"


def damaged(entry: Path, why: str) -> LpackError:
    """The error for an entry that could not be repaired: one line naming it, and `lpack cache clean`."""
    return LpackError(f"cache entry {entry} is damaged: {why}", hint=_CLEAN_HINT)


# Every file lpack reads back from the cache starts with this line and the sha256 of the rest: a flipped
# byte, a truncated write or a file another program put there reads as "no entry", never as data.
_SEAL = b"lpack-cache-2"


def seal(data: bytes) -> bytes:
    return _SEAL + b" " + hashlib.sha256(data).hexdigest().encode() + b"\n" + data


def unseal(blob: bytes) -> bytes | None:
    """The data `seal` wrapped, or None when the digest does not match (or it was never sealed)."""
    head, newline, data = blob.partition(b"\n")
    if not newline or head != _SEAL + b" " + hashlib.sha256(data).hexdigest().encode():
        return None
    return data


def read_sealed(path: Path) -> bytes | None:
    try:
        return unseal(path.read_bytes())
    except OSError:
        return None


def write_sealed(path: Path, data: bytes) -> None:
    """Write `seal(data)` to a temporary name beside `path`, then rename: readers see all or nothing."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(seal(data))
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _kind_info(directory: Path, kind: Kind) -> KindInfo:
    entries = [p for p in directory.iterdir() if p.is_dir()] if directory.is_dir() else []
    return KindInfo(kind=kind, entries=len(entries), bytes=sum(_du(e) for e in entries))


def _du(directory: Path) -> int:
    return sum(f.stat().st_size for f in _files(directory))


def _files(directory: Path) -> Iterable[Path]:
    for base, _dirs, files in os.walk(directory):
        for name in files:
            path = Path(base) / name
            if not path.is_symlink():
                yield path
