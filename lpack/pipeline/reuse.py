"""What a build takes from the cache: installed dependencies, their pyc, their compressed zip members,
and whole results when no input changed. The pipeline decides when; this module knows the entry layout:

    locks/<key>/requirements.lock.txt  a lock made for one target
    locks/<key>/notes.json           (sealed) how it was made, and the lock's sha256
    deps/<key>/site/                 the installed tree (never changed once renamed into place)
    deps/<key>/manifest.json         (sealed) size and sha256 of every file under site/
    deps/<key>/resolved.json         (sealed) installer and notes of the install
    deps/<key>/site.json             (sealed) the staging listing of site/, checked against the manifest
    deps/<key>/imports.json          (sealed) the modules each site/ module imports, for prune
    deps/<key>/pyc-cpython-3X-<root>/  unchecked-hash pyc of site/ files for one run root, added as needed,
                                     with manifest.json (sealed): the sha256 of each
    deps/<key>/members-<mode>.zip    site/ and pyc files deflated in that compression mode (see store.py)
    results/<key>/result.json        (sealed) a FunctionResult as JSON, keyed on every input of the artifact

"Sealed" files carry the sha256 of their content (cache.seal). Nothing read from an entry is trusted
unchecked: a side file that fails its check is ignored and made again; a file of the installed tree or a pyc
that differs from its manifest raises CorruptEntry, and the pipeline discards the entry and builds again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from lpack import runtimes
from lpack.bytecode import BytecodeResult, Interpreter, compile_tree, provide_interpreter
from lpack.cache import Cache, CorruptEntry, make_key, read_sealed, write_sealed
from lpack.config.model import FunctionConfig
from lpack.pipeline import stored
from lpack.pipeline.results import FunctionResult
from lpack.pipeline.store import inside
from lpack.prune.python import file_imports
from lpack.resolve import _inputs
from lpack.resolve import keys as _keys
from lpack.resolve.python import install
from lpack.resolve.result import Deps, Resolved
from lpack.resolve.runner import Runner
from lpack.staging.tree import Entry, StagingTree, file_sha256

T = TypeVar("T")
log = logging.getLogger("lpack")


def resolve_cached(fn: FunctionConfig, work: Path, runner: Runner, cache: Cache) -> Deps:
    """The resolved dependencies, the directory holding them, and their cache entry (None: not cached).

    A project's own wheel changes with its code, so a project built into a wheel installs afresh.
    """
    (work / "resolve").mkdir(parents=True, exist_ok=True)
    inputs = _inputs.gather(fn, work / "resolve", runner, locker=cached_locker(cache))
    if inputs.lock is None or inputs.wheels:
        return Deps(resolved=install(fn, inputs, work / "deps", runner), directory=work / "deps")

    def make(entry: Path) -> None:
        done = install(fn, inputs, entry / "site", runner)
        own = list(done.notes[len(inputs.notes) :])
        write_sealed(entry / "resolved.json", json.dumps({"installer": done.installer, "notes": own}).encode())
        write_sealed(entry / "manifest.json", json.dumps(_digests(entry / "site")).encode())

    entry, hit = cache.obtain("deps", _keys.deps_key(fn, inputs.lock), make)
    installer, notes = _resolved_meta(entry)
    how = "dependencies from the cache" if hit else "dependencies installed into the cache"
    resolved = Resolved(
        lock=inputs.lock,
        direct=inputs.direct,
        installer=installer,
        notes=(*inputs.notes, *notes, how),
        warnings=inputs.warnings,
    )
    return Deps(resolved=resolved, directory=entry / "site", entry=entry)


def _resolved_meta(entry: Path) -> tuple[str, list[str]]:
    meta = _sealed_json(entry / "resolved.json")
    if not isinstance(_sealed_json(entry / "manifest.json"), dict):
        raise CorruptEntry(entry, "manifest.json is missing or damaged")
    if not isinstance(meta, dict) or not isinstance(meta.get("installer"), str) or not _strings(meta.get("notes")):
        raise CorruptEntry(entry, "resolved.json is missing or damaged")
    return meta["installer"], list(meta["notes"])


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _sealed_json(path: Path) -> Any:
    data = read_sealed(path)
    try:
        return None if data is None else json.loads(data)
    except ValueError:
        return None


def _digests(site: Path) -> dict[str, str]:
    """sha256 of every file under `site` (links followed, as the staging walk follows them), by path from the entry."""
    return {f"site/{rel}": file_sha256(site / rel) for rel in _walk_files(site)}


def _walk_files(root: Path) -> Iterator[str]:
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


def entry_digests(entry: Path) -> dict[str, str]:
    """What every file of a dependency entry must hash to, by path from the entry: site/ files, then each pyc
    directory's. Empty when the manifest is missing or damaged."""
    site = _sealed_json(entry / "manifest.json")
    if not isinstance(site, dict):
        return {}
    found = {str(k): str(v) for k, v in site.items()}
    for pyc_dir in entry.glob("pyc-*"):
        found.update({f"{pyc_dir.name}/{k}": v for k, v in _pyc_manifest(pyc_dir).items()})
    return found


def check_entry_files(entry: Path, tree: StagingTree, reused: Mapping[Path, object]) -> None:
    """Raise CorruptEntry unless every file `tree` reads from `entry` (members not copied from the store)
    still hashes to what the entry recorded: a flipped byte never reaches an artifact."""
    read = [(e, rel) for e in tree if e.source not in reused and (rel := inside(entry, e.source)) is not None]
    digests = entry_digests(entry) if read else {}
    for e, rel in read:
        want = digests.get(rel)
        if want is None:
            raise CorruptEntry(entry, f"{rel} is not one of the files it recorded")
        try:
            got = file_sha256(e.source)
        except OSError:
            raise CorruptEntry(entry, f"{rel} is missing") from None
        if got != want:
            raise CorruptEntry(entry, f"{rel} changed since it was stored")


def cached_locker(cache: Cache) -> _inputs.Locker:
    """Locks from the cache, or made and kept there: no resolver run (and no index) on a rebuild."""

    def locked(
        fn: FunctionConfig, lines: list[str], infile: Path, lock: Path, runner: Runner, *, what: str
    ) -> list[str]:
        def make(entry: Path) -> None:
            made = _inputs.lock_fresh(fn, lines, infile, entry / "requirements.lock.txt", runner, what=what)
            digest = file_sha256(entry / "requirements.lock.txt")
            write_sealed(entry / "notes.json", json.dumps({"notes": made, "sha256": digest}).encode())

        key = _keys.lock_key(fn, lines, infile)
        entry, hit = cache.obtain("locks", key, make)
        notes = _lock_notes(entry)
        if notes is None:  # damaged: lock again (the resolver is the only way to a trustworthy lock)
            log.warning("cache: the lock entry %s is damaged: discarded and made again", entry)
            cache.discard("locks", key)
            entry, hit = cache.obtain("locks", key, make)
            notes = _lock_notes(entry)
            if notes is None:
                raise CorruptEntry(entry, "requirements.lock.txt does not match notes.json")
        shutil.copyfile(entry / "requirements.lock.txt", lock)
        return [*notes, f"lock for {what} from the cache"] if hit else notes

    return locked


def _lock_notes(entry: Path) -> list[str] | None:
    meta = _sealed_json(entry / "notes.json")
    if not isinstance(meta, dict) or not _strings(meta.get("notes")) or not isinstance(meta.get("sha256"), str):
        return None
    try:
        ok = file_sha256(entry / "requirements.lock.txt") == meta["sha256"]
    except OSError:
        return None
    return list(meta["notes"]) if ok else None


def site_tree(entry: Path, scan_site: Callable[[], StagingTree]) -> StagingTree:
    """The installed tree's files, listed once beside it: the tree never changes, and walking thousands of
    files costs more than reading the listing. A listing that names a file the manifest does not is redone."""
    site, listing = entry / "site", entry / "site.json"
    rows = _listing_rows(_sealed_json(listing), entry_digests(entry))
    if rows is not None:
        tree = StagingTree(
            entries=tuple(Entry(path=p, source=site / s, size=n, executable=x, origin="deps") for p, s, n, x in rows)
        )
        _check_sizes(entry, tree)
        return tree
    tree = scan_site()
    listed = [[e.path, e.source.relative_to(site).as_posix(), e.size, e.executable] for e in tree]
    _write_atomic(listing, json.dumps(listed))
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


def interpreter(cache: Cache, version: tuple[int, int], explicit: Path | None) -> Interpreter:
    """provide_interpreter with the cache's directories: found (remembered), or downloaded into the cache."""
    return provide_interpreter(version, explicit, memo_dir=cache.ensure("interpreters"), store=cache.ensure("python"))


def compile_cached(
    cache: Cache,
    tree: StagingTree,
    runtime: runtimes.Runtime,
    work: Path,
    entry: Path,
    *,
    root: str,
    python: Path | None,
) -> tuple[StagingTree, BytecodeResult]:
    """compile_tree, where cached dependencies keep their pyc next to them: a rebuild compiles only the code.

    A pyc the directory's manifest does not list (left by a killed build, or put there by something else) is
    compiled again, never shipped; the entry's lock keeps two builds from removing each other's new pyc.
    """
    assert runtime.version is not None
    site = entry / "site"
    cached = StagingTree(entries=tuple(e for e in tree if inside(site, e.source) is not None))
    rest = tree.without(cached.paths())
    # A pyc records the path it runs from (co_filename): one directory per interpreter version and root.
    pyc_dir = entry / "pyc-cpython-{}{}-{}".format(*runtime.version, make_key(root)[:12])
    tag = "cpython-{}{}".format(*runtime.version)
    with cache.locked("deps", entry.name):
        known = _pyc_manifest(pyc_dir)
        todo = [e for e in cached if e.path.endswith(".py") and _pyc_path(e.path, tag) not in known]
        for e in todo:
            (pyc_dir / _pyc_path(e.path, tag)).unlink(missing_ok=True)
        check_entry_files(entry, StagingTree(entries=tuple(todo)), {})  # a pyc of changed source is never kept
        deps, done = compile_tree(cached, runtime, pyc_dir, root=root, python=python, keep_existing=True)
        _record_pyc(pyc_dir, deps, known)
    code, more = compile_tree(rest, runtime, work, root=root, python=python)
    both = dataclasses.replace(more, compiled=done.compiled + more.compiled, failed=done.failed + more.failed)
    return deps.merged(code), both


def _pyc_path(py: str, tag: str) -> str:
    # bytecode.compile_tree's naming: dir/__pycache__/name.cpython-3X.pyc
    head, _, name = py.rpartition("/")
    return f"{head + '/' if head else ''}__pycache__/{name[:-3]}.{tag}.pyc"


def _pyc_manifest(pyc_dir: Path) -> dict[str, str]:
    data = _sealed_json(pyc_dir / "manifest.json")
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return {}
    return {str(k): v for k, v in data.items()}


def _record_pyc(pyc_dir: Path, tree: StagingTree, known: dict[str, str]) -> None:
    new = {rel: file_sha256(e.source) for e in tree if (rel := inside(pyc_dir, e.source)) and rel not in known}
    if new:
        try:
            write_sealed(pyc_dir / "manifest.json", json.dumps({**known, **new}, sort_keys=True).encode())
        except OSError as err:  # unlisted pyc are compiled again next time
            log.warning("could not write the pyc manifest to the cache: %s", err)


class ImportMemo:
    """prune's `imports_of`, remembered in the cache entry for its files: parsing every module of a big
    dependency (pandas: seconds) is most of a code-only rebuild otherwise."""

    def __init__(self, entry: Path) -> None:
        self.site = entry / "site"
        self.path = entry / "imports.json"
        data = _sealed_json(self.path)
        valid = isinstance(data, dict) and all(_strings(v) for v in data.values())
        self.known: dict[str, list[str]] = data if valid else {}
        self.changed = False

    def __call__(self, e: Entry) -> frozenset[str]:
        rel = inside(self.site, e.source)
        if rel is None or rel != e.path:  # project code, or a file placed elsewhere: always read
            return file_imports(e)
        if rel not in self.known:
            self.known[rel] = sorted(file_imports(e))
            self.changed = True
        return frozenset(self.known[rel])

    def save(self) -> None:
        if self.changed:
            _write_atomic(self.path, json.dumps(self.known, sort_keys=True))


def _write_atomic(dest: Path, text: str) -> None:
    """Cache side files (listings, memos) are optional: a failure to write one only costs time later."""
    try:
        write_sealed(dest, text.encode())
    except OSError as err:
        log.warning("could not write %s to the cache: %s", dest.name, err)


def reused_result(fn: FunctionConfig, dest: Path, cache: Cache, key: str) -> FunctionResult | None:
    """The last result for these exact inputs, if its artifact is still there unchanged."""
    previous = load_result(cache, key, FunctionResult)
    if previous is None or not dest.is_file() or previous.artifact.path != dest:
        return None
    if fn.bytecode != "none" and fn.runtime.language == "python" and previous.bytecode.interpreter is None:
        assert fn.runtime.version is not None
        if interpreter(cache, fn.runtime.version, fn.python).path is not None:
            return None  # an interpreter has appeared since (or was downloaded): build with bytecode
    if file_sha256(dest) != previous.artifact.sha256:
        return None  # edited or replaced by something else
    # The earlier notes said how that build resolved ("installed into the cache"): nothing ran this time.
    return dataclasses.replace(previous, notes=(f"reused {dest.name}: no input changed",))


def load_result(cache: Cache, key: str, kind: type[T]) -> T | None:
    """The stored `kind` under `key`; a damaged or foreign entry is discarded (with a warning) and None."""
    entry = cache.get("results", key)
    if entry is None:
        return None
    data = read_sealed(entry / "result.json")
    value = stored.load(data, kind) if data is not None else None
    if value is None:
        log.warning("cache: the result entry %s is damaged or from another lpack: discarded", entry)
        cache.discard("results", key)
    return value


def store_result(cache: Cache, key: str, value: object) -> None:
    def make(entry: Path) -> None:
        write_sealed(entry / "result.json", stored.dump(value))

    try:
        cache.obtain("results", key, make)
    except OSError as err:  # the artifact is built; only the next rebuild will be slower
        log.warning("could not cache the build result in %s: %s", cache.root, err)
