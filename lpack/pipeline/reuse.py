"""What a build takes from the cache: installed dependencies, their pyc, their compressed zip members,
and whole results when no input changed. The pipeline decides when; this module knows the entry layout:

    locks/<key>/requirements.lock.txt  a lock made for one target, with notes.json saying how
    deps/<key>/site/                 the installed tree (never changed once renamed into place)
    deps/<key>/resolved.json         installer and notes of the install
    deps/<key>/pyc-cpython-3X-<root>/  unchecked-hash pyc of site/ files for one run root, added as needed
    deps/<key>/members-<mode>.zip    site/ and pyc files deflated in that compression mode, by entry path
    results/<key>/result.pickle      a FunctionResult, keyed on every input of the artifact
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from lpack import runtimes
from lpack.archive.deflate import Compression
from lpack.archive.writer import write_zip
from lpack.archive.zipformat import RawMember, read_members
from lpack.bytecode import BytecodeResult, Interpreter, compile_ahead, compile_tree, provide_interpreter
from lpack.cache import Cache, make_key
from lpack.config.model import FunctionConfig
from lpack.pipeline.results import FunctionResult
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
        (entry / "resolved.json").write_text(json.dumps({"installer": done.installer, "notes": own}))

    entry, hit = cache.obtain("deps", _keys.deps_key(fn, inputs.lock), make)
    meta = json.loads((entry / "resolved.json").read_text())
    how = "dependencies from the cache" if hit else "dependencies installed into the cache"
    resolved = Resolved(
        lock=inputs.lock,
        direct=inputs.direct,
        installer=str(meta["installer"]),
        notes=(*inputs.notes, *meta["notes"], how),
        warnings=inputs.warnings,
    )
    return Deps(resolved=resolved, directory=entry / "site", entry=entry)


def cached_locker(cache: Cache) -> _inputs.Locker:
    """Locks from the cache, or made and kept there: no resolver run (and no index) on a rebuild."""

    def locked(
        fn: FunctionConfig, lines: list[str], infile: Path, lock: Path, runner: Runner, *, what: str
    ) -> list[str]:
        def make(entry: Path) -> None:
            made = _inputs.lock_fresh(fn, lines, infile, entry / "requirements.lock.txt", runner, what=what)
            (entry / "notes.json").write_text(json.dumps(made))

        entry, hit = cache.obtain("locks", _keys.lock_key(fn, lines, infile), make)
        shutil.copyfile(entry / "requirements.lock.txt", lock)
        notes = list(json.loads((entry / "notes.json").read_text()))
        return [*notes, f"lock for {what} from the cache"] if hit else notes

    return locked


def site_tree(entry: Path, scan_site: Callable[[], StagingTree]) -> StagingTree:
    """The installed tree's files, listed once beside it: the tree never changes, and walking thousands of
    files costs more than reading the listing."""
    site, listing = entry / "site", entry / "site.json"
    if listing.is_file():
        rows = json.loads(listing.read_text())
        return StagingTree(
            entries=tuple(Entry(path=p, source=site / s, size=n, executable=x, origin="deps") for p, s, n, x in rows)
        )
    tree = scan_site()
    rows = [[e.path, e.source.relative_to(site).as_posix(), e.size, e.executable] for e in tree]
    _write_atomic(listing, json.dumps(rows))
    return tree


def interpreter(cache: Cache, version: tuple[int, int], explicit: Path | None) -> Interpreter:
    """provide_interpreter with the cache's directories: found (remembered), or downloaded into the cache."""
    return provide_interpreter(version, explicit, memo_dir=cache.ensure("interpreters"), store=cache.ensure("python"))


def compile_cached(
    tree: StagingTree, runtime: runtimes.Runtime, work: Path, entry: Path, *, root: str, python: Path | None
) -> tuple[StagingTree, BytecodeResult]:
    """compile_tree, where cached dependencies keep their pyc next to them: a rebuild compiles only the code."""
    assert runtime.version is not None
    cached = _from_entry(tree, entry)
    rest = tree.without(cached.paths())
    deps, done = compile_tree(
        cached, runtime, pyc_dir(entry, runtime, root), root=root, python=python, keep_existing=True
    )
    code, more = compile_tree(rest, runtime, work, root=root, python=python)
    both = dataclasses.replace(more, compiled=done.compiled + more.compiled, failed=done.failed + more.failed)
    return deps.merged(code), both


@contextmanager
def compiled_ahead(
    tree: StagingTree, runtime: runtimes.Runtime, entry: Path, *, root: str, python: Path | None
) -> Iterator[None]:
    """The entry's files compiled in the background while the caller works (prunes, audits): compile_cached
    then finds their pyc done. Files pruned meanwhile are compiled for nothing, and stay in the entry unused."""
    join = compile_ahead(_from_entry(tree, entry), runtime, pyc_dir(entry, runtime, root), root=root, python=python)
    try:
        yield
    finally:
        join()


def pyc_dir(entry: Path, runtime: runtimes.Runtime, root: str) -> Path:
    # A pyc records the path it runs from (co_filename): one directory per interpreter version and root.
    assert runtime.version is not None
    return entry / "pyc-cpython-{}{}-{}".format(*runtime.version, make_key(root)[:12])


def _from_entry(tree: StagingTree, entry: Path) -> StagingTree:
    return StagingTree(entries=tuple(e for e in tree if e.source.is_relative_to(entry / "site")))


class ImportMemo:
    """prune's `imports_of`, remembered in the cache entry for its files: parsing every module of a big
    dependency (pandas: seconds) is most of a code-only rebuild otherwise."""

    def __init__(self, entry: Path) -> None:
        self.site = entry / "site"
        self.path = entry / "imports.json"
        try:
            self.known: dict[str, list[str]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    def __call__(self, e: Entry) -> frozenset[str]:
        rel = _inside(self.site, e.source)
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
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        tmp.write_text(text)
        tmp.replace(dest)
    except OSError as err:
        log.warning("could not write %s to the cache: %s", dest.name, err)
        tmp.unlink(missing_ok=True)


def _inside(entry: Path, source: Path) -> str | None:
    try:
        return source.relative_to(entry).as_posix()
    except ValueError:
        return None


def _store(entry: Path, mode: Compression) -> Path:
    return entry / f"members-{mode}.zip"


def reusable_members(entry: Path, tree: StagingTree, mode: Compression) -> dict[Path, RawMember]:
    """Compressed bytes already in the entry's store for `tree`'s files that come from the entry."""
    store = _store(entry, mode)
    if not store.is_file():
        return {}
    raw = _indexed_members(store)
    found: dict[Path, RawMember] = {}
    for e in tree:
        rel = _inside(entry, e.source)
        member = raw.get(rel) if rel else None
        if member is not None and member.size == e.size:
            found[e.source] = member
    return found


def remember_members(
    cache: Cache, entry: Path, tree: StagingTree, *, artifact: Path, mode: Compression, reused: dict[Path, RawMember]
) -> None:
    """Add the entry's files that `artifact` had to compress to the store, copied raw from `artifact`."""
    new = [(rel, e) for e in tree if e.source not in reused and (rel := _inside(entry, e.source)) is not None]
    if not new:
        return
    try:
        _add_to_store(cache, entry, new, artifact=artifact, mode=mode)
    except OSError as err:  # the artifact is fine; the next code-only rebuild compresses these again
        log.warning("could not add compressed members to the cache: %s", err)


def _add_to_store(
    cache: Cache, entry: Path, new: list[tuple[str, Entry]], *, artifact: Path, mode: Compression
) -> None:
    with cache.locked("deps", entry.name):
        store = _store(entry, mode)
        members = read_members(store) if store.is_file() else {}
        fresh = read_members(artifact)
        members.update({rel: fresh[e.path] for rel, e in new})
        reuse = {entry / rel: raw for rel, raw in members.items()}
        files = [
            Entry(path=rel, source=entry / rel, size=m.size, executable=False, origin="deps")
            for rel, m in members.items()
        ]
        cache.write_file(store, lambda tmp: write_zip(StagingTree.of(files), tmp, compression=mode, reuse=reuse))
        _write_index(store)


def _indexed_members(store: Path) -> dict[str, RawMember]:
    """read_members(store), from the index beside it when the index is the store's (same size and mtime).

    Parsing thousands of headers with zipfile takes longer than a code-only rebuild should.
    """
    index = store.with_suffix(".json")
    try:
        data = json.loads(index.read_text())
    except (OSError, ValueError):
        data = None
    st = store.stat()
    if not data or data.get("stamp") != [st.st_size, st.st_mtime_ns]:
        return read_members(store)
    return {
        n: RawMember(zip=store, data_offset=o, crc=c, size=s, compressed_size=z, method=m)
        for n, (o, c, s, z, m) in data["members"].items()
    }


def _write_index(store: Path) -> None:
    st = store.stat()
    members = {n: [m.data_offset, m.crc, m.size, m.compressed_size, m.method] for n, m in read_members(store).items()}
    _write_atomic(store.with_suffix(".json"), json.dumps({"stamp": [st.st_size, st.st_mtime_ns], "members": members}))


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
    # pickle: the cache is the user's own directory, as trusted as the dependency trees it also holds.
    entry = cache.get("results", key)
    if entry is None:
        return None
    try:
        value = pickle.loads((entry / "result.pickle").read_bytes())
    except (OSError, pickle.UnpicklingError, AttributeError, EOFError, ImportError, TypeError):
        return None  # written by another lpack version, or damaged: build afresh
    if not isinstance(value, kind) or not all(hasattr(value, f.name) for f in dataclasses.fields(value)):  # type: ignore[arg-type]
        return None  # another layout of the class: build afresh
    return value


def store_result(cache: Cache, key: str, value: object) -> None:
    def make(entry: Path) -> None:
        (entry / "result.pickle").write_bytes(pickle.dumps(value))

    try:
        cache.obtain("results", key, make)
    except OSError as err:  # the artifact is built; only the next rebuild will be slower
        log.warning("could not cache the build result in %s: %s", cache.root, err)
