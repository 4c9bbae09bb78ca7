"""The cache entries a build's dependency files lie in: which entry holds a file, what each file must hash to,
and the listing of an entry's installed tree.

A build's dependencies come from one entry (a whole lock installed together: `deps/<key>/`) or from one entry
per distribution (`dists/<key>/`); either way every entry is `<cache>/<kind>/<key>/` and holds:

    site/                            the installed files (never changed once renamed into place)
    manifest.json                    (sealed) the sha256 of every file under site/
    site.json                        (sealed) the staging listing of site/, checked against the manifest
    imports.json                     (sealed) the modules each site/ module imports, for prune
    pyc-cpython-3X-<root>/           unchecked-hash pyc of site/ files for one run root, with manifest.json
    members-<mode>.zip / .json       site/ and pyc files deflated in one compression mode (store.py)

"Sealed" files carry the sha256 of their content (cache.seal). A side file that fails its check is ignored and
made again; a file of the installed tree or a pyc that differs from its manifest raises CorruptEntry, and the
pipeline discards the entry and builds again.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from lpack.cache import CorruptEntry, make_key, read_sealed, write_sealed
from lpack.staging.tree import Entry, StagingTree, file_sha256

log = logging.getLogger("lpack")
T = TypeVar("T")


class Entries:
    """Cache entries (all under one cache root), and which of them holds a given file: O(1) per file."""

    def __init__(self, entries: Sequence[Path]) -> None:
        self.paths = tuple(entries)
        self._by_name = {str(e): e for e in entries}
        self._root = f"{entries[0].parent.parent}/" if entries else "\0"

    def __bool__(self) -> bool:
        return bool(self.paths)

    def locate(self, source: Path) -> tuple[Path, str] | None:
        """(entry, path inside it) for a file under one of the entries, else None."""
        path = str(source)
        if not path.startswith(self._root):
            return None
        kind, _, rest = path[len(self._root) :].partition("/")
        key, _, rel = rest.partition("/")
        entry = self._by_name.get(f"{self._root}{kind}/{key}")
        return (entry, rel) if entry is not None and rel else None

    def group(self, files: Iterable[Entry]) -> dict[Path, list[tuple[Entry, str]]]:
        """`files` that lie in an entry, by entry, each with its path inside the entry."""
        found: dict[Path, list[tuple[Entry, str]]] = {}
        for e in files:
            where = self.locate(e.source)
            if where is not None:
                found.setdefault(where[0], []).append((e, where[1]))
        return found


class FileMemo(Generic[T]):
    """A fact about each file of the cache computed once and remembered in its entry (`<entry>/<name>`, sealed
    JSON, by path in the tree): the files never change. A file outside the entries is always computed. A memo
    that fails its seal, or a value `valid` refuses, is computed again."""

    def __init__(self, entries: Entries, name: str, compute: Callable[[Entry], T], *, valid: Callable[[Any], bool]):
        self.entries, self.name, self.compute, self.valid = entries, name, compute, valid
        self.known: dict[Path, dict[str, T]] = {}
        self.changed: set[Path] = set()

    def __call__(self, e: Entry) -> T:
        where = self.entries.locate(e.source)
        if where is None or where[1] != f"site/{e.path}":  # project code, or a file placed elsewhere: always read
            return self.compute(e)
        entry = where[0]
        known = self.known.get(entry)
        if known is None:
            data = sealed_json(entry / self.name)
            ok = isinstance(data, dict) and all(self.valid(v) for v in data.values())
            known = self.known[entry] = data if ok else {}
        if e.path not in known:
            known[e.path] = self.compute(e)
            self.changed.add(entry)
        return known[e.path]

    def save(self) -> None:
        for entry in sorted(self.changed):
            write_side_file(entry / self.name, json.dumps(self.known[entry], sort_keys=True))


def pyc_dir_name(version: tuple[int, int], root: str) -> str:
    """A pyc records the path it runs from (co_filename): one directory per interpreter version and run root."""
    return "pyc-cpython-{}{}-{}".format(*version, make_key(root)[:12])


# Shared with other machines; the memos (imports.json, elf.json) are not: each machine computes its own.
_SIDE_FILES = ("manifest.json", "dist.json", "site.json")
MEMOS = ("imports.json", "elf.json")


def shared_files(entry: Path, pyc_dir: str | None, members: str | None) -> frozenset[str]:
    """What of an entry another machine can use, by path inside it: the site/ files and the pyc its manifests
    list (never a file being written beside them), its sealed side files, and one compression mode's members."""
    shared = ("site/", f"{pyc_dir}/") if pyc_dir is not None else ("site/",)
    found = {rel for rel in entry_digests(entry) or {} if rel.startswith(shared)}
    names = [*_SIDE_FILES, *((f"{members}.zip", f"{members}.json") if members else ())]
    if pyc_dir is not None:
        names.append(f"{pyc_dir}/manifest.json")
    return frozenset(found | {name for name in names if (entry / name).is_file()})


def sealed_json(path: Path) -> Any:
    data = read_sealed(path)
    try:
        return None if data is None else json.loads(data)
    except ValueError:
        return None


def strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def write_side_file(dest: Path, text: str) -> None:
    """Cache side files (listings, memos) are optional: a failure to write one only costs time later."""
    try:
        write_sealed(dest, text.encode())
    except OSError as err:
        log.warning("could not write %s to the cache: %s", dest.name, err)


def site_digests(site: Path) -> dict[str, str]:
    """sha256 of every file under `site` (links followed, as the staging walk follows them), by path from the entry."""
    return {f"site/{rel}": file_sha256(site / rel) for rel in walk_files(site)}


def walk_files(root: Path) -> Iterator[str]:
    seen: set[str] = set()
    for base, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(base)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        rel = Path(base).relative_to(root)
        for name in files:
            if (Path(base) / name).is_file():
                yield (rel / name).as_posix()


def site_manifest(entry: Path) -> dict[str, str] | None:
    """The sha256 of each site/ file the entry recorded, or None when its manifest is missing or damaged."""
    return _digests_file(entry / "manifest.json")


def pyc_manifest(pyc_dir: Path) -> dict[str, str]:
    """The sha256 of each pyc a pyc directory recorded; empty when none is recorded (they are compiled again)."""
    return _digests_file(pyc_dir / "manifest.json") or {}


def _digests_file(path: Path) -> dict[str, str] | None:
    data = sealed_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return {str(k): v for k, v in data.items()}


def entry_digests(entry: Path) -> dict[str, str] | None:
    """What every file of a dependency entry must hash to, by path from the entry: site/ files, then each pyc
    directory's. None when the site manifest is missing or damaged."""
    found = site_manifest(entry)
    if found is None:
        return None
    for pyc_dir in entry.glob("pyc-*"):
        found.update({f"{pyc_dir.name}/{k}": v for k, v in pyc_manifest(pyc_dir).items()})
    return found


def check_entry_files(
    entries: Entries, tree: StagingTree, reused: Mapping[Path, object], *, made: Collection[Path] = ()
) -> None:
    """Raise CorruptEntry unless every file `tree` reads from an entry (members not copied from a store) still
    hashes to what its entry recorded: a flipped byte never reaches an artifact. The site/ files of the entries
    in `made` were installed and hashed by this run: not read again (a pyc another process added to one meanwhile
    is checked like any other)."""
    for entry, files in entries.group(e for e in tree if e.source not in reused).items():
        digests = entry_digests(entry) or {}
        for e, rel in files:
            if entry in made and rel.startswith("site/"):
                continue
            want = digests.get(rel)
            if want is None:
                raise CorruptEntry(entry, f"{rel} is not one of the files it recorded")
            try:
                got = file_sha256(e.source)
            except OSError:
                raise CorruptEntry(entry, f"{rel} is missing") from None
            if got != want:
                raise CorruptEntry(entry, f"{rel} changed since it was stored")


def site_tree(entry: Path, scan_site: Callable[[], StagingTree]) -> StagingTree:
    """The installed tree's files, listed once beside it: the tree never changes, and walking thousands of
    files costs more than reading the listing. A listing that names a file the manifest does not is redone."""
    site, listing = entry / "site", entry / "site.json"
    rows = _listing_rows(sealed_json(listing), site_manifest(entry) or {})
    if rows is not None:
        tree = StagingTree(
            entries=tuple(Entry(path=p, source=site / s, size=n, executable=x, origin="deps") for p, s, n, x in rows)
        )
        _check_sizes(entry, tree)
        return tree
    tree = scan_site()
    listed = [[e.path, e.source.relative_to(site).as_posix(), e.size, e.executable] for e in tree]
    write_side_file(listing, json.dumps(listed))
    return tree


def _check_sizes(entry: Path, tree: StagingTree) -> None:
    # A stat per file (milliseconds for thousands): a deleted or truncated file is found before any stage reads
    # it; a changed byte is found by its hash when the file is read for the artifact (check_entry_files).
    for e in tree:
        try:
            size = e.source.stat().st_size
        except OSError:
            raise CorruptEntry(entry, f"site/{e.source.relative_to(entry / 'site').as_posix()} is missing") from None
        if size != e.size:
            raise CorruptEntry(entry, f"site/{e.source.relative_to(entry / 'site').as_posix()} changed size")


def _listing_rows(data: Any, digests: dict[str, str]) -> list[tuple[str, str, int, bool]] | None:
    if not isinstance(data, list):
        return None
    rows = []
    for row in data:
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str) and isinstance(row[1], str)):
            return None
        if f"site/{row[1]}" not in digests or type(row[2]) is not int or type(row[3]) is not bool:
            return None
        rows.append((row[0], row[1], row[2], row[3]))
    return rows
