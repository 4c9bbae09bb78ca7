"""What a build takes from the cache: installed dependencies, their pyc, their compressed zip members,
and whole results when no input changed. build.py decides when; this module knows the entry layout:

    deps/<key>/site/                 the installed tree (never changed once renamed into place)
    deps/<key>/resolved.json         installer and notes of the install
    deps/<key>/pyc-cpython-3X/       unchecked-hash pyc of site/ files, added as builds need them
    deps/<key>/members-<mode>.zip    site/ and pyc files deflated in that compression mode, by entry path
    results/<key>/result.pickle      a FunctionResult, keyed on every input of the artifact
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import TypeVar

from lpack import _keys
from lpack._archive import RawMember, read_members, write_zip
from lpack._deflate import Compression
from lpack.cache import Cache
from lpack.config import FunctionConfig
from lpack.resolve import _inputs
from lpack.resolve._run import Runner
from lpack.resolve.python import Resolved, install
from lpack.staging import Entry, StagingTree

T = TypeVar("T")


def resolve_cached(fn: FunctionConfig, work: Path, runner: Runner, cache: Cache) -> tuple[Resolved, Path, Path | None]:
    """The resolved dependencies, the directory holding them, and their cache entry (None: not cached).

    A project's own wheel changes with its code, so a project built into a wheel installs afresh.
    """
    (work / "resolve").mkdir(parents=True, exist_ok=True)
    inputs = _inputs.gather(fn, work / "resolve", runner, cache=cache)
    if inputs.lock is None or inputs.wheels:
        return install(fn, inputs, work / "deps", runner), work / "deps", None

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
    )
    return resolved, entry / "site", entry


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
    raw = read_members(store)
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


def load_result(cache: Cache, key: str, kind: type[T]) -> T | None:
    # pickle: the cache is the user's own directory, as trusted as the dependency trees it also holds.
    entry = cache.get("results", key)
    if entry is None:
        return None
    try:
        value = pickle.loads((entry / "result.pickle").read_bytes())
    except (OSError, pickle.UnpicklingError, AttributeError, EOFError, ImportError, TypeError):
        return None  # written by another lpack version, or damaged: build afresh
    return value if isinstance(value, kind) else None


def store_result(cache: Cache, key: str, value: object) -> None:
    def make(entry: Path) -> None:
        (entry / "result.pickle").write_bytes(pickle.dumps(value))

    cache.obtain("results", key, make)
