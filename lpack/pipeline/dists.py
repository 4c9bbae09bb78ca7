"""Dependencies from one cache entry per installed distribution (`dists/<key>/`), so a lock that shares most
of its wheels with earlier builds installs, compiles and compresses only the new ones.

A hash-pinned lock (lpack's own, or a committed one of the same shape, resolve.pins) is split into its pins;
each pin's key covers the files its hashes allow and the target (resolve.keys.dist_keys). The missing pins are
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
from lpack.cache import Cache, CorruptEntry, make_key, read_sealed, write_sealed
from lpack.config.model import FunctionConfig
from lpack.pipeline.entries import (
    MEMOS,
    entry_digests,
    pyc_dir_name,
    sealed_json,
    shared_files,
    site_digests,
    site_manifest,
    strings,
    walk_files,
)
from lpack.pipeline.store import members_agree
from lpack.resolve import _inputs
from lpack.resolve import keys as _keys
from lpack.resolve.locks.base import target_environment
from lpack.resolve.pins import Pin, read_pins, write_lock
from lpack.resolve.python import install, installer_state
from lpack.resolve.result import Deps, Resolved
from lpack.resolve.runner import Runner
from lpack.staging.tree import file_sha256

log = logging.getLogger("lpack")


class _Unsplittable(Exception):
    """The scratch install cannot be cut into one directory per distribution (why, for the debug log)."""


def resolve_dists(fn: FunctionConfig, inputs: _inputs.Inputs, work: Path, runner: Runner, cache: Cache) -> Deps | None:
    """`inputs.lock` installed from (and into) per-distribution entries; None when the lock does not qualify."""
    assert inputs.lock is not None
    pins = read_pins(inputs.lock)
    if fn.installer == "pip" or pins is None or not pins.pins:
        return None  # pip's RECORD names scripts outside the target (../../bin): installed whole
    if cache.get("deps", _keys.deps_key(fn, inputs.lock)) is not None:
        return None  # installed whole before (it could not be cut, or is not complete): no second try each build
    keys = _keys.dist_keys(fn, pins)
    notes: list[str] = []

    def make(tmps: dict[str, Path]) -> None:
        todo = [p for p in pins.pins if keys[p.name] in tmps]
        notes.extend(
            _install_new(fn, inputs, work, runner, options=pins.options, tmps={p: tmps[keys[p.name]] for p in todo})
        )

    fetched = _fetch(fn, cache, list(keys.values()))
    try:
        made = cache.obtain_many("dists", list(keys.values()), make)
    except _Unsplittable as why:
        log.debug("installing the lock whole: %s", why)
        return None
    entries = tuple(cache.path("dists", keys[p.name]) for p in pins.pins)
    installers = {
        _dist_meta(entry, pin, notes if entry.name not in made else None)
        for pin, entry in zip(pins.pins, entries, strict=True)
    }
    gap = _fits_together(fn, pins.pins, entries, cache)
    if gap is not None:  # installed whole: the installer decides, and refuses a lock that is not whole as always
        log.debug("installing the lock whole: %s", gap)
        return None
    resolved = Resolved(
        lock=inputs.lock,
        direct=inputs.direct,
        installer="pip" if "pip" in installers else "uv",
        notes=(*inputs.notes, *dict.fromkeys(notes), _how(len(entries), len(made), len(fetched))),
        warnings=inputs.warnings,
    )
    fresh = frozenset(e for e in entries if e.name in made)
    return Deps(resolved=resolved, directory=work / "deps", entries=entries, made=fresh)


def _install_new(
    fn: FunctionConfig,
    inputs: _inputs.Inputs,
    work: Path,
    runner: Runner,
    *,
    options: tuple[str, ...],
    tmps: dict[Pin, Path],
) -> tuple[str, ...]:
    """Install the pins of `tmps` with --no-deps, each into its entry's temporary directory; the install's notes."""
    sub = work / "resolve" / "new-distributions.txt"
    write_lock(sub, options, list(tmps))
    scratch = next(iter(tmps.values())).parent / ".scratch"  # beside the entries: renamed, never copied
    done = install(fn, replace(inputs, lock=sub, notes=()), scratch, runner, no_deps=True)
    if done.installer != "uv":  # pip stood in (uv fell short): its INSTALLER and RECORD differ from uv's
        raise _Unsplittable("pip installed the new distributions")
    _split(scratch, {p.name: tmp for p, tmp in tmps.items()})
    for pin, tmp in tmps.items():
        own = [n for n in done.notes if n.startswith(f"{pin.name}:")]
        meta = {"name": pin.name, "version": pin.version, "installer": done.installer, "notes": own}
        write_sealed(tmp / "dist.json", json.dumps(meta).encode())
    return done.notes


def _how(total: int, made: int, fetched: int) -> str:
    how = f"{made} of {total} distributions installed into the cache, the others from it"
    if made in (0, total):
        count = f"{total} distribution{'s' if total > 1 else ''}"
        how = f"dependencies {'installed into' if made else 'from'} the cache ({count})"
    return how + (f"; {fetched} fetched from the remote cache" if fetched else "")


def _fetch(fn: FunctionConfig, cache: Cache, keys: list[str]) -> set[str]:
    """The entries the remote cache has of those missing here (fetch_many skips the others), installed into the
    local cache first."""
    if cache.remote is None:
        return set()
    return cache.remote.fetch_many(cache, "dists", [(k, variant(fn)) for k in keys], verify=verify_copied)


_PUSH_BATCH = 32  # entries locked (an open file each) and pushed at a time


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
    ready.sort()
    for start in range(0, len(ready), _PUSH_BATCH):
        batch = ready[start : start + _PUSH_BATCH]
        with ExitStack() as held:  # no build adds pyc or members to them while they are packed
            for entry in batch:
                held.enter_context(cache.locked("dists", entry.name))
            files = {entry: shared_files(entry, pyc, members) for entry in batch}
            remote.push_many(cache, "dists", [(e.name, variant(fn), files[e].__contains__) for e in batch])


def verify_copied(entry: Path) -> str | None:
    """Why an entry copied from another machine must not be used, or None: every site/ file and every listed
    pyc hashes to what its manifest says, site/ holds nothing else, and (store.members_agree) every compressed
    member is the file it stands for. Memos are dropped: this machine computes its own."""
    digests = entry_digests(entry)
    if digests is None:
        return "manifest.json is missing or damaged"
    if {f"site/{rel}" for rel in walk_files(entry / "site")} != {rel for rel in digests if rel.startswith("site/")}:
        return "site/ does not hold exactly the files manifest.json lists"
    for rel, want in digests.items():
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts or not (entry / rel).is_file():
            return f"{rel}: listed, but not a file of the entry"
        if file_sha256(entry / rel) != want:
            return f"{rel} does not match its manifest"
    for memo in MEMOS:
        (entry / memo).unlink(missing_ok=True)
    return members_agree(entry, digests)


def variant(fn: FunctionConfig) -> str:
    """What a shared entry holds besides the installed files: pyc for one interpreter and run root, members
    compressed in one mode. A remote copy is kept per variant."""
    return make_key("variant", repr(fn.runtime.version), fn.bytecode, layers.run_root(fn), fn.compression)[:24]


def _fits_together(fn: FunctionConfig, pins: tuple[Pin, ...], entries: tuple[Path, ...], cache: Cache) -> str | None:
    """Why these entries do not make one installed tree of the lock (_overlapping, _closure_gap), or None; a
    None is kept in the cache for this set of entries (a rebuild reads one directory, not every manifest)."""
    key = make_key("fits", *(e.name for e in entries))
    kept = cache.get("results", key)
    if kept is not None and read_sealed(kept / "fits.json") == b"{}":
        return None
    if kept is not None:  # damaged: checked again, and kept anew when it holds
        cache.discard("results", key)
    gap = _overlapping(entries) or _closure_gap(fn, pins, entries)
    if gap is None:
        cache.obtain("results", key, lambda tmp: write_sealed(tmp / "fits.json", b"{}"))
    return gap


def _closure_gap(fn: FunctionConfig, pins: tuple[Pin, ...], entries: tuple[Path, ...]) -> str | None:
    """What the lock lacks that its distributions require on the target (a name not pinned, a pin outside a
    specifier), or None. --no-deps installs trust the lock to be whole; a whole install would refuse one that
    is not, so this says so before the pieces are used."""
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415 - only when checking
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    env = target_environment(fn)
    pinned = {p.name: p.version for p in pins}
    wanted: dict[str, set[str]] = {p.name: {""} for p in pins}
    todo = list(zip(pins, entries, strict=True))
    while todo:
        pin, entry = todo.pop()
        for line in _requires(entry, pin):
            try:
                req = Requirement(line)
            except InvalidRequirement:
                return f"{pin.name}: unreadable Requires-Dist {line!r}"
            if req.marker is not None and not any(req.marker.evaluate({**env, "extra": e}) for e in wanted[pin.name]):
                continue
            name = str(canonicalize_name(req.name))
            if name not in pinned:
                return f"{pin.name} requires {name}, which the lock does not pin"
            try:
                fits = req.specifier.contains(Version(pinned[name]), prereleases=True)
            except InvalidVersion:
                fits = False
            if not fits:
                return f"{pin.name} requires {req}, the lock pins {name}=={pinned[name]}"
            if not set(req.extras) <= wanted[name]:
                wanted[name] |= set(req.extras)
                todo += [(p, e) for p, e in zip(pins, entries, strict=True) if p.name == name]
    return None


def _requires(entry: Path, pin: Pin) -> list[str]:
    from email.parser import HeaderParser  # noqa: PLC0415 - only when checking

    for meta in (entry / "site").glob("*.dist-info/METADATA"):
        text = meta.read_text(encoding="utf-8", errors="replace")
        return HeaderParser().parsestr(text).get_all("Requires-Dist") or []
    raise CorruptEntry(entry, f"no METADATA for {pin.name}")


def _dist_meta(entry: Path, pin: Pin, notes: list[str] | None) -> str:
    """The entry's installer; its own notes are added to `notes` when given (an entry this run did not make)."""
    meta = sealed_json(entry / "dist.json")
    if site_manifest(entry) is None:
        raise CorruptEntry(entry, "manifest.json is missing or damaged")
    ok = isinstance(meta, dict) and meta.get("name") == pin.name and meta.get("version") == pin.version
    if not ok or meta.get("installer") not in ("uv", "pip") or not strings(meta.get("notes")):
        raise CorruptEntry(entry, "dist.json is missing, damaged or not this distribution's")
    if notes is not None:
        notes.extend(meta["notes"])
    return str(meta["installer"])


def _overlapping(entries: tuple[Path, ...]) -> str | None:
    """Why the entries do not fit together as one tree (a path with two contents, a file where another entry
    has a directory), or None."""
    seen: dict[str, str] = {}
    for entry in entries:
        for rel, digest in (site_manifest(entry) or {}).items():
            if seen.setdefault(rel, digest) != digest:
                return f"two distributions install {rel} with different content"
    dirs = {rel[:i] for rel in seen for i, c in enumerate(rel) if c == "/"}
    clash = next((rel for rel in seen if rel in dirs), None)
    return f"{clash} is a file in one distribution and a directory in another" if clash else None


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
