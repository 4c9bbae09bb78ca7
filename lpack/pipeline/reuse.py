"""What a build takes from the cache: locks, installed dependencies (entries.py has their layout), their pyc,
and whole results when no input changed. The pipeline decides when; this module knows how:

    locks/<key>/requirements.lock.txt  a lock made for one target
    locks/<key>/notes.json           (sealed) how it was made, and the lock's sha256
    dists/<key>/                     one installed distribution (dists.py), or
    deps/<key>/                      a whole lock installed together, with resolved.json (sealed): installer, notes
    results/<key>/result.json        (sealed) a FunctionResult as JSON, keyed on every input of the artifact
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from pathlib import Path
from typing import TypeVar

from lpack import runtimes
from lpack.audit import elf
from lpack.bytecode import BytecodeResult, Interpreter, compile_tree, provide_interpreter, pyc_path
from lpack.cache import Cache, CorruptEntry, entry_kind, read_sealed, write_sealed
from lpack.config.model import FunctionConfig
from lpack.pipeline import stored
from lpack.pipeline.dists import resolve_dists
from lpack.pipeline.entries import (
    Entries,
    FileMemo,
    check_entry_files,
    pyc_dir_name,
    pyc_manifest,
    sealed_json,
    site_digests,
    site_manifest,
    strings,
)
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
    by_dist = resolve_dists(fn, inputs, work, runner, cache)
    if by_dist is not None:
        return by_dist

    def make(entry: Path) -> None:
        done = install(fn, inputs, entry / "site", runner)
        own = list(done.notes[len(inputs.notes) :])
        write_sealed(entry / "resolved.json", json.dumps({"installer": done.installer, "notes": own}).encode())
        write_sealed(entry / "manifest.json", json.dumps(site_digests(entry / "site")).encode())

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
    made = frozenset() if hit else frozenset({entry})
    return Deps(resolved=resolved, directory=entry / "site", entries=(entry,), made=made)


def _resolved_meta(entry: Path) -> tuple[str, list[str]]:
    meta = sealed_json(entry / "resolved.json")
    if site_manifest(entry) is None:
        raise CorruptEntry(entry, "manifest.json is missing or damaged")
    if not isinstance(meta, dict) or not isinstance(meta.get("installer"), str) or not strings(meta.get("notes")):
        raise CorruptEntry(entry, "resolved.json is missing or damaged")
    return meta["installer"], list(meta["notes"])


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
        remote = cache.remote
        if remote is not None:  # asks the server only when this cache has no such lock
            remote.fetch_many(cache, "locks", [(key, "lock")], verify=_lock_refused)
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
        if remote is not None and not hit and not _USERINFO.search(lock.read_text(encoding="utf-8", errors="replace")):
            # A lock naming an index with a login in its URL stays on this machine: it would publish the secret.
            remote.push_many(cache, "locks", [(key, "lock", lambda rel: rel in _LOCK_FILES)])
        return [*notes, f"lock for {what} from the cache"] if hit else notes

    return locked


_LOCK_FILES = ("requirements.lock.txt", "notes.json")
_USERINFO = re.compile(r"://[^/\s@]+@")


def _lock_refused(entry: Path) -> str | None:
    return None if _lock_notes(entry) is not None else "requirements.lock.txt does not match notes.json"


def _lock_notes(entry: Path) -> list[str] | None:
    meta = sealed_json(entry / "notes.json")
    if not isinstance(meta, dict) or not strings(meta.get("notes")) or not isinstance(meta.get("sha256"), str):
        return None
    try:
        ok = file_sha256(entry / "requirements.lock.txt") == meta["sha256"]
    except OSError:
        return None
    return list(meta["notes"]) if ok else None


def interpreter(cache: Cache, version: tuple[int, int], explicit: Path | None) -> Interpreter:
    """provide_interpreter with the cache's directories: found (remembered), or downloaded into the cache."""
    return provide_interpreter(version, explicit, memo_dir=cache.ensure("interpreters"), store=cache.ensure("python"))


def compile_cached(
    cache: Cache,
    tree: StagingTree,
    runtime: runtimes.Runtime,
    work: Path,
    entries: Entries,
    *,
    root: str,
    python: Path | None,
    interpreter: str | None = None,
) -> tuple[StagingTree, BytecodeResult, set[Path]]:
    """compile_tree, where cached dependencies keep their pyc next to them: a rebuild compiles only the code, and
    a new lock only its new distributions. Also returns the entries that got new pyc.

    A pyc a directory's manifest does not list (left by a killed build, or put there by something else) is
    compiled again, never shipped.
    """
    assert runtime.version is not None
    groups = entries.group(tree)
    cached = StagingTree(entries=tuple(e for files in groups.values() for e, _ in files))
    rest = tree.without(cached.paths())
    name = pyc_dir_name(runtime.version, root)
    tag = "cpython-{}{}".format(*runtime.version)
    entry_of = {e.source: entry for entry, files in groups.items() for e, _ in files}
    known = {entry: pyc_manifest(entry / name) for entry in groups}
    todo = [
        (entry, e)
        for entry, files in groups.items()
        for e, _ in files
        if e.path.endswith(".py") and pyc_path(e.path, tag) not in known[entry]
    ]
    check_entry_files(entries, StagingTree(entries=tuple(e for _, e in todo)), {})  # no pyc of changed source
    listed = {entry / name / rel for entry, pyc in known.items() for rel in pyc}
    # No lock is held while compiling: a pyc is replaced atomically, and the same source always gives the same
    # bytes, so two builds compiling one file at once write one content; each entry's manifest is then merged
    # under its lock, one entry at a time.
    deps, done = compile_tree(
        cached,
        runtime,
        work,
        root=root,
        python=python,
        interpreter=interpreter,
        keep_existing=listed.__contains__,  # an unlisted pyc (a killed build's, another program's) is compiled again
        out_of=lambda e: entry_of[e.source] / name,
    )
    grown = {entry for entry, _ in todo}
    compiled = entries.group(e for e in deps if e.origin == "bytecode")  # the pyc, by entry (rel: "<name>/...")
    for entry in sorted(grown):
        with cache.locked(entry_kind(entry), entry.name):
            _record_pyc(entry / name, compiled.get(entry, []), pyc_manifest(entry / name))
    code, more = compile_tree(rest, runtime, work, root=root, python=python, interpreter=interpreter)
    both = dataclasses.replace(more, compiled=done.compiled + more.compiled, failed=done.failed + more.failed)
    return deps.merged(code), both, grown


def _record_pyc(pyc_dir: Path, files: list[tuple[Entry, str]], known: dict[str, str]) -> None:
    prefix = f"{pyc_dir.name}/"
    new = {
        rel: file_sha256(e.source)
        for e, in_entry in files
        if (rel := in_entry.removeprefix(prefix)) != in_entry and rel not in known
    }
    if new:
        try:
            write_sealed(pyc_dir / "manifest.json", json.dumps({**known, **new}, sort_keys=True).encode())
        except OSError as err:  # unlisted pyc are compiled again next time
            log.warning("could not write the pyc manifest to the cache: %s", err)


def import_memo(entries: Entries) -> FileMemo[list[str]]:
    """prune's `imports_of`, remembered in each cache entry for its files: parsing every module of a big
    dependency (pandas: seconds) is most of a code-only rebuild otherwise."""
    return FileMemo(entries, "imports.json", lambda e: sorted(file_imports(e)), valid=strings)


def elf_memo(entries: Entries) -> FileMemo[list[object] | None]:
    """The audit's ELF facts, remembered in each cache entry for its files: parsing the .so files of a big
    dependency costs more than the rest of a rebuild's audit."""

    def read(e: Entry) -> list[object] | None:
        info = elf.read(e.source)
        return None if info is None else [info.machine, list(info.glibc or []) or None, info.musl, info.program]

    def valid(value: object) -> bool:
        if value is None:
            return True
        if not isinstance(value, list) or len(value) != 4 or not isinstance(value[0], str):
            return False
        glibc, musl, program = value[1:]
        ints = glibc is None or (isinstance(glibc, list) and all(type(v) is int for v in glibc))
        return ints and type(musl) is bool and type(program) is bool

    return FileMemo(entries, "elf.json", read, valid=valid)


def elf_info(value: list[object] | None) -> elf.ElfInfo | None:
    if value is None:
        return None
    machine, glibc, musl, program = value
    versions = tuple(int(v) for v in glibc) if isinstance(glibc, list) else None
    return elf.ElfInfo(machine=str(machine), glibc=versions, musl=bool(musl), program=bool(program))


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
