"""Dependencies from one cache entry per installed distribution (`dists/<key>/`), so a lock that shares most
of its wheels with earlier builds installs, compiles and compresses only the new ones.

A hash-pinned lock (lpack's own, or a committed one of the same shape, resolve.pins) is split into its pins;
each pin's key covers the files its hashes allow and the target (resolve.keys.dist_key). The missing pins are
installed together with --no-deps into a scratch directory, and each distribution's files (its dist-info's
RECORD says which) are moved into its own entry: nothing else is installed, nothing is left unclaimed. Any
surprise (a file no RECORD claims, two distributions claiming one file, a distribution that was not asked
for) makes this return None, and the lock is installed whole as before (pipeline.reuse.resolve_cached).

Each entry also holds dist.json (sealed): the distribution's name, version, installer and its own notes.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from lpack import layers
from lpack.cache import Cache, CorruptEntry, make_key, write_sealed
from lpack.config.model import FunctionConfig
from lpack.pipeline.entries import (
    pyc_dir_name,
    sealed_json,
    shared_files,
    site_digests,
    site_manifest,
    strings,
)
from lpack.resolve import _inputs
from lpack.resolve import keys as _keys
from lpack.resolve.pins import Pin, read_pins, write_lock
from lpack.resolve.python import install, installer_state
from lpack.resolve.result import Deps, Resolved
from lpack.resolve.runner import Runner

log = logging.getLogger("lpack")


class _Unsplittable(Exception):
    """The scratch install cannot be cut into one directory per distribution (why, for the debug log)."""


def resolve_dists(fn: FunctionConfig, inputs: _inputs.Inputs, work: Path, runner: Runner, cache: Cache) -> Deps | None:
    """`inputs.lock` installed from (and into) per-distribution entries; None when the lock does not qualify."""
    assert inputs.lock is not None
    pins = read_pins(inputs.lock)
    if pins is None or not pins.pins:
        return None
    keys = {pin.name: _keys.dist_key(fn, pin, pins.options) for pin in pins.pins}
    notes: list[str] = []

    def make(tmps: dict[str, Path]) -> None:
        todo = [p for p in pins.pins if keys[p.name] in tmps]
        sub = work / "resolve" / "new-distributions.txt"
        write_lock(sub, pins.options, todo)
        scratch = work / "dists"
        done = install(fn, replace(inputs, lock=sub, notes=()), scratch, runner, no_deps=True)
        _split(scratch, {p.name: tmps[keys[p.name]] for p in todo})
        notes.extend(done.notes)
        for pin in todo:
            own = [n for n in done.notes if n.startswith(f"{pin.name}:")]
            meta = {"name": pin.name, "version": pin.version, "installer": done.installer, "notes": own}
            write_sealed(tmps[keys[pin.name]] / "dist.json", json.dumps(meta).encode())

    fetched = _fetch(fn, cache, list(keys.values()))
    try:
        made = cache.obtain_many("dists", list(keys.values()), make)
    except _Unsplittable as why:
        log.debug("installing the lock whole: %s", why)
        return None
    entries = tuple(cache.path("dists", keys[p.name]) for p in pins.pins)
    installers: set[str] = set()
    for pin, entry in zip(pins.pins, entries, strict=True):
        installer, own = _dist_meta(entry, pin)
        installers.add(installer)
        if entry.name not in made:
            notes.extend(own)
    if _overlapping(entries):
        log.debug("installing the lock whole: two distributions install the same file with different content")
        return None
    how = f"{len(made)} of {len(entries)} distributions installed into the cache, the others from it"
    if len(made) in (0, len(entries)):
        count = f"{len(entries)} distribution{'s' if len(entries) > 1 else ''}"
        how = f"dependencies {'installed into' if made else 'from'} the cache ({count})"
    if fetched:
        how += f"; {len(fetched)} fetched from the remote cache"
    resolved = Resolved(
        lock=inputs.lock,
        direct=inputs.direct,
        installer="pip" if "pip" in installers else "uv",
        notes=(*inputs.notes, *dict.fromkeys(notes), how),
        warnings=inputs.warnings,
    )
    return Deps(resolved=resolved, directory=work / "deps", entries=entries, made=frozenset(made))


def _fetch(fn: FunctionConfig, cache: Cache, keys: list[str]) -> set[str]:
    """The entries the remote cache has of those missing here, installed into the local cache first."""
    missing = [k for k in keys if cache.get("dists", k) is None]
    if cache.remote is None or not missing:
        return set()
    return cache.remote.fetch_many(cache, "dists", [(k, variant(fn)) for k in missing])


def share(fn: FunctionConfig, cache: Cache, entries: tuple[Path, ...], changed: set[Path]) -> None:
    """Offer the remote cache the distributions this build installed or completed (pyc, members), once each
    holds what a build of this variant reads: a remote copy is written once and never completed later."""
    remote = cache.remote
    if remote is None or remote.read_only or not changed:
        return
    assert fn.runtime.version is not None
    pyc = pyc_dir_name(fn.runtime.version, layers.run_root(fn)) if fn.bytecode != "none" else None
    members = f"members-{fn.compression}" if fn.format != "image" else None
    ready = [
        e
        for e in entries
        if e in changed
        and e.parent.name == "dists"
        and (pyc is None or (e / pyc / "manifest.json").is_file())
        and (members is None or (e / f"{members}.zip").is_file())
    ]
    if not ready:
        return
    with ExitStack() as held:  # no build adds pyc or members to them while they are packed
        for entry in sorted(ready):
            held.enter_context(cache.locked("dists", entry.name))
        files = {entry: shared_files(entry, pyc, members) for entry in ready}
        remote.push_many(cache, "dists", [(e.name, variant(fn), files[e].__contains__) for e in ready])


def variant(fn: FunctionConfig) -> str:
    """What a shared entry holds besides the installed files: pyc for one interpreter and run root, members
    compressed in one mode. A remote copy is kept per variant."""
    return make_key("variant", repr(fn.runtime.version), fn.bytecode, layers.run_root(fn), fn.compression)[:24]


def _dist_meta(entry: Path, pin: Pin) -> tuple[str, list[str]]:
    meta = sealed_json(entry / "dist.json")
    if site_manifest(entry) is None:
        raise CorruptEntry(entry, "manifest.json is missing or damaged")
    ok = isinstance(meta, dict) and meta.get("name") == pin.name and meta.get("version") == pin.version
    if not ok or meta.get("installer") not in ("uv", "pip") or not strings(meta.get("notes")):
        raise CorruptEntry(entry, "dist.json is missing, damaged or not this distribution's")
    return str(meta["installer"]), list(meta["notes"])


def _overlapping(entries: tuple[Path, ...]) -> bool:
    seen: dict[str, str] = {}
    for entry in entries:
        for rel, digest in (site_manifest(entry) or {}).items():
            if seen.setdefault(rel, digest) != digest:
                return True
    return False


def _split(scratch: Path, targets: dict[str, Path]) -> None:
    """Move each file of `scratch` into `targets[name]/site/` of the distribution whose RECORD lists it."""
    owners = _claims(scratch, set(targets))
    for base, dirs, files in os.walk(scratch):
        for name in [*files, *(d for d in dirs if (Path(base) / d).is_symlink())]:
            path = Path(base) / name
            rel = path.relative_to(scratch).as_posix()
            owner = owners.get(rel) or owners.get(rel.split("/", 1)[0] + "/")
            if path.is_symlink() or not path.is_file():
                raise _Unsplittable(f"{rel} is not a regular file")
            if owner is None:
                if installer_state(rel, False):
                    continue
                raise _Unsplittable(f"no RECORD lists {rel}")
            dest = targets[owner] / "site" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            path.rename(dest)
    for target in targets.values():
        (target / "site").mkdir(exist_ok=True)
        write_sealed(target / "manifest.json", json.dumps(site_digests(target / "site")).encode())
    shutil.rmtree(scratch, ignore_errors=True)


def _claims(scratch: Path, wanted: set[str]) -> dict[str, str]:
    """Installed path -> distribution, from each dist-info's RECORD; "<x>.dist-info/" claims its whole directory."""
    owners: dict[str, str] = {}
    found: set[str] = set()
    for info in sorted(scratch.glob("*.dist-info")):
        name = canonicalize_name(info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        if name not in wanted or name in found:
            raise _Unsplittable(f"{info.name} was not asked for, or twice")
        found.add(name)
        owners[f"{info.name}/"] = name
        try:
            rows = list(csv.reader((info / "RECORD").read_text(encoding="utf-8").splitlines()))
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise _Unsplittable(f"{info.name}/RECORD: {err}") from None
        for row in rows:
            rel = row[0] if row else ""
            parts = PurePosixPath(rel).parts
            if not rel or rel.startswith("/") or ".." in parts:
                raise _Unsplittable(f"{info.name}/RECORD names {rel!r}")
            if owners.setdefault(PurePosixPath(rel).as_posix(), name) != name:
                raise _Unsplittable(f"{rel} belongs to two distributions")
    if found != wanted:
        raise _Unsplittable(f"no dist-info for {', '.join(sorted(wanted - found))}")
    return owners
