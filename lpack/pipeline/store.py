"""A dependency entry's compressed members: `<entry>/members-<mode>.zip`, the entry's files deflated in one
compression mode, so a rebuild copies them instead of compressing again.

The store is trusted only through its index (`members-<mode>.json`, sealed), which records the store's size
and sha256 (no time: an entry copied from another machine keeps its index valid); a store that does not match
its index is removed with a warning, never copied from.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from lpack.archive.deflate import Compression
from lpack.archive.writer import write_zip
from lpack.archive.zipformat import RawMember, read_members
from lpack.cache import Cache, entry_kind, read_sealed, write_sealed
from lpack.pipeline.entries import Entries
from lpack.staging.tree import Entry, StagingTree, file_sha256

log = logging.getLogger("lpack")


def inside(entry: Path, source: Path) -> str | None:
    """`source` relative to `entry` (POSIX), or None when it is not under it."""
    # String prefixes, not Path.relative_to: this runs for every file of every rebuild, and pathlib's
    # parsing made it a tenth of a code-only rebuild. Both paths come from the same resolved cache root.
    prefix, path = f"{entry}/", str(source)
    return path[len(prefix) :] if path.startswith(prefix) else None


def _store(entry: Path, mode: Compression) -> Path:
    return entry / f"members-{mode}.zip"


@contextlib.contextmanager
def reusable_members(
    cache: Cache, entries: Entries, tree: StagingTree, mode: Compression
) -> Iterator[dict[Path, RawMember]]:
    """Compressed bytes already in the entries' stores for `tree`'s files that come from the entries.

    They are read from a hard link to each store taken under its entry's lock: another build of the same
    dependencies may replace a store (by rename) while this one copies from it, and offsets into the new
    file would copy the wrong bytes. The link keeps this build's inode; it goes when the block ends.
    """
    snapshots: list[Path] = []
    try:
        found: dict[Path, RawMember] = {}
        for entry, files in entries.group(tree).items():
            snapshot, raw = _snapshot(cache, entry, mode)
            if snapshot is not None:
                snapshots.append(snapshot)
            for e, rel in files:
                member = raw.get(rel)
                if member is not None and member.size == e.size:
                    found[e.source] = member
        yield found
    finally:
        for snapshot in snapshots:
            snapshot.unlink(missing_ok=True)


def _snapshot(cache: Cache, entry: Path, mode: Compression) -> tuple[Path | None, dict[str, RawMember]]:
    store = _store(entry, mode)
    with cache.locked(entry_kind(entry), entry.name):
        if not store.is_file():
            return None, {}
        members = _indexed_members(store)  # checked against the index while no writer can replace it
        if not members:
            return None, {}
        snapshot = entry / f".{store.stem}-{os.getpid()}-{secrets.token_hex(4)}.zip"
        try:
            os.link(store, snapshot)
        except OSError:  # no hard links here: compress again rather than copy from a file that may change
            return None, {}
    return snapshot, {name: replace(m, zip=snapshot) for name, m in members.items()}


def remember_members(
    cache: Cache,
    entries: Entries,
    tree: StagingTree,
    *,
    artifact: Path,
    mode: Compression,
    reused: dict[Path, RawMember],
) -> set[Path]:
    """Add the entries' files that `artifact` had to compress to their stores, copied raw from `artifact`;
    returns the entries whose store grew."""
    groups = entries.group(e for e in tree if e.source not in reused)
    if not groups:
        return set()
    try:
        fresh = read_members(artifact)
        for entry, new in sorted(groups.items()):
            _add_to_store(cache, entry, [(rel, fresh[e.path]) for e, rel in new], mode=mode)
    except OSError as err:  # the artifact is fine; the next rebuild compresses these again
        log.warning("could not add compressed members to the cache: %s", err)
    return set(groups)


def _add_to_store(cache: Cache, entry: Path, new: list[tuple[str, RawMember]], *, mode: Compression) -> None:
    with cache.locked(entry_kind(entry), entry.name):
        store = _store(entry, mode)
        members = _indexed_members(store) if store.is_file() else {}
        members.update(new)
        reuse = {entry / rel: raw for rel, raw in members.items()}
        files = [
            Entry(path=rel, source=entry / rel, size=m.size, executable=False, origin="deps")
            for rel, m in members.items()
        ]
        cache.write_file(store, lambda tmp: write_zip(StagingTree.of(files), tmp, compression=mode, reuse=reuse))
        _write_index(store)


def _indexed_members(store: Path) -> dict[str, RawMember]:
    """The store's members, from its sealed index, after checking the store is the one the index describes.

    Parsing thousands of headers with zipfile takes longer than a code-only rebuild should; hashing the
    store (tens of MB at most) takes a few milliseconds, and proves every byte that will be copied.
    """
    data = read_sealed(store.with_suffix(".json"))
    members = _parse_index(data, store) if data is not None else None
    if members is None:
        _drop(store, "its index is missing or damaged")
        return {}
    return members


def _parse_index(data: bytes, store: Path) -> dict[str, RawMember] | None:
    try:
        index = json.loads(data)
        st = store.stat()
        if index["size"] != st.st_size or index["sha256"] != file_sha256(store):
            return None
        return {
            str(n): RawMember(zip=store, data_offset=int(o), crc=int(c), size=int(s), compressed_size=int(z), method=m)
            for n, (o, c, s, z, m) in index["members"].items()
            if m in (0, 8)  # stored or deflated: all lpack writes
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def members_agree(entry: Path, digests: dict[str, str]) -> str | None:
    """Why an entry's stores cannot be trusted (a member that does not inflate to the file the manifests record
    for its name), or None. For entries copied from elsewhere: the index only proves the store is the one it
    describes, not that its members are the entry's files."""
    for store in sorted(entry.glob("members-*.zip")):
        data = read_sealed(store.with_suffix(".json"))
        members = _parse_index(data, store) if data is not None else None
        if members is None:
            return f"{store.name} does not match its index"
        with store.open("rb") as fh:
            for name, member in members.items():
                fh.seek(member.data_offset)
                content = _inflate(fh.read(member.compressed_size), member)
                if content is None or hashlib.sha256(content).hexdigest() != digests.get(name):
                    return f"{store.name}: {name} is not the file the manifests record"
    return None


def _inflate(raw: bytes, member: RawMember) -> bytes | None:
    if member.method == 0:
        return raw
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw, member.size + 1)  # never more than the member says it holds, plus one
    except zlib.error:
        return None
    return data if len(data) == member.size and inflater.eof else None


def _drop(store: Path, why: str) -> None:
    log.warning("cache: %s does not match what was stored (%s): removed; its members are compressed again", store, why)
    for path in (store, store.with_suffix(".json")):
        # Left for `lpack cache clean` if it cannot go: it is never copied from without a matching index.
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _write_index(store: Path) -> None:
    st = store.stat()
    members = {n: [m.data_offset, m.crc, m.size, m.compressed_size, m.method] for n, m in read_members(store).items()}
    index = {"size": st.st_size, "sha256": file_sha256(store), "members": members}
    try:
        write_sealed(store.with_suffix(".json"), json.dumps(index).encode())
    except OSError as err:
        log.warning("could not write %s to the cache: %s", store.with_suffix(".json").name, err)
