"""RemoteCache: the local cache's entries shared across machines through S3 (lpack.cache.Remote).

The remote only ever saves work: any failure of the server, the network or the credentials is one warning,
then the remote is off for the rest of the process (a circuit breaker) and the build goes on with its local
cache. A blob that does not match its pointer, or is not a safe entry, is a warning naming it and is never
installed. Entries appear in the local cache as every entry does: made in the cache's tmp/ and renamed into
place under the key's lock.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from lpack.cache import Cache, Kind
from lpack.config.model import RemoteSettings
from lpack.errors import LpackError
from lpack.redact import redact
from lpack.remote.pack import NotPackable, pack_entry, unpack_entry
from lpack.remote.store import Refused, Store, Unavailable, pointer_bytes, safe_name
from lpack.units import format_size

log = logging.getLogger("lpack")
WORKERS = 12
SHA256_METADATA = "lpack-sha256"  # x-amz-meta-lpack-sha256 on a blob: for people; readers trust the pointer
T = TypeVar("T")


class RemoteCache:
    """An S3 store of cache entries (`s3://bucket/prefix`); see lpack.cache.Remote for the methods."""

    def __init__(self, settings: RemoteSettings, *, workers: int = WORKERS) -> None:
        self.settings = settings
        self.read_only = settings.read_only
        self._workers = workers
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._off: str | None = None  # why the remote was switched off, once it was
        self._fetched = self._fetched_bytes = self._pushed = self._refused = 0

    @property
    def off(self) -> bool:
        return self._off is not None

    def fetch_many(
        self,
        cache: Cache,
        kind: Kind,
        wanted: Sequence[tuple[str, str]],
        verify: Callable[[Path], str | None] | None = None,
    ) -> set[str]:
        todo = list(dict.fromkeys((k, v) for k, v in wanted if self._valid(k, v) and cache.get(kind, k) is None))
        store = self._open() if todo else None
        if store is None:
            return set()
        done = self._each(todo, lambda item: self._fetch_one(store, cache, kind, item, verify))
        return {key for (key, _), ok in zip(todo, done, strict=True) if ok}

    def push_many(self, cache: Cache, kind: Kind, made: Sequence[tuple[str, str, Callable[[str], bool]]]) -> None:
        if self.read_only:
            return  # an untrusted build (a pull request) must not write what others will install
        todo = [m for m in made if self._valid(m[0], m[1]) and cache.get(kind, m[0]) is not None]
        store = self._open() if todo else None
        if store is not None:
            self._each(todo, lambda item: self._push_one(store, cache, kind, item))

    def notes(self) -> list[str]:
        name = self.settings.url + (" (read-only)" if self.read_only else "")
        entries = "entry" if self._fetched == 1 else "entries"
        line = f"remote cache {name}: {self._fetched} {entries} fetched ({format_size(self._fetched_bytes)})"
        line += "" if self.read_only else f", {self._pushed} pushed"
        if self._refused:
            line += f", {self._refused} refused (see warnings)"
        if self._off is not None:
            line += "; switched off after an error (see warnings)"
        return [line]

    # --- the breaker --------------------------------------------------------------------------------------

    def _open(self) -> Store | None:
        with self._lock:
            if self._off is not None:
                return None
            if self._store is None:
                try:
                    self._store = Store(self.settings, workers=self._workers)
                except Unavailable as err:
                    self._trip_locked(str(err))
            return self._store

    def _trip(self, why: str) -> None:
        with self._lock:
            self._trip_locked(why)

    def _trip_locked(self, why: str) -> None:
        if self._off is None:  # one warning, whatever the other threads meet afterwards
            self._off = why
            log.warning("%s", redact(f"remote cache {self.settings.url}: {why}; using the local cache only"))

    def _refuse(self, why: str) -> None:
        with self._lock:
            self._refused += 1
        log.warning("%s", redact(f"remote cache {self.settings.url}: {why}; not used"))

    def _valid(self, key: str, variant: str) -> bool:
        if safe_name(key) and safe_name(variant):
            return True
        self._refuse(f"entry name {key!r}/{variant!r} is not a safe object name")
        return False

    def _each(self, items: Sequence[T], work: Callable[[T], bool]) -> list[bool]:
        def guarded(item: T) -> bool:
            if self._off is not None:
                return False  # tripped by another item: skip the rest without touching the network
            try:
                return work(item)
            except Unavailable as err:
                self._trip(str(err))
            except Refused as err:
                self._refuse(str(err))
            except Exception as err:  # a remote fault must never fail the build
                self._trip(f"unexpected {type(err).__name__}")
            return False

        if len(items) == 1:
            return [guarded(items[0])]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items)), thread_name_prefix="lpack-remote") as pool:
            return list(pool.map(guarded, items))

    # --- one entry ----------------------------------------------------------------------------------------

    def _fetch_one(
        self, store: Store, cache: Cache, kind: Kind, item: tuple[str, str], verify: Callable[[Path], str | None] | None
    ) -> bool:
        key, variant = item
        pointer = store.read_pointer(kind, key, variant)
        if pointer is None:
            return False
        named = store.pointer_key(kind, key, variant)
        with _scratch(cache, f"fetch-{kind}-") as tmp:
            try:
                store.download(pointer, tmp / "blob.zip")
                size = unpack_entry(tmp / "blob.zip", tmp / "entry")
            except Refused as err:
                raise Refused(f"{named}: {err}") from None
            except LpackError as err:
                raise Refused(f"{named}: {store.blob_key(pointer.sha256)}: {err.msg}") from None
            why = verify(tmp / "entry") if verify is not None else None
            if why is not None:  # whole in transit, but not what its own manifests say: never installed
                raise Refused(f"{named}: {store.blob_key(pointer.sha256)}: {why}")
            if not cache.place(kind, key, tmp / "entry"):
                return False  # another builder made it meanwhile: theirs stands
        with self._lock:
            self._fetched += 1
            self._fetched_bytes += size
        return True

    def _push_one(self, store: Store, cache: Cache, kind: Kind, item: tuple[str, str, Callable[[str], bool]]) -> bool:
        key, variant, include = item
        name = store.pointer_key(kind, key, variant)
        if store.exists(name):
            return False  # write-once: what is there stays
        entry = cache.get(kind, key)
        if entry is None:
            return False
        with _scratch(cache, f"push-{kind}-") as tmp:
            blob = tmp / "blob.zip"
            try:
                pack_entry(entry, include, blob, work=tmp)
            except NotPackable as err:
                log.warning("remote cache: %s entry %s not pushed: %s", kind, key[:12], err)
                return False
            sha256, size = _digest(blob)
            store.put_once(store.blob_key(sha256), blob, {SHA256_METADATA: sha256})
            # The pointer last: a reader never finds a pointer whose blob is still on its way.
            if not store.put_once(name, pointer_bytes(sha256, size), {}):
                return False
        with self._lock:
            self._pushed += 1
        return True


@contextmanager
def _scratch(cache: Cache, prefix: str) -> Iterator[Path]:
    """A temporary directory in the cache's tmp/ (same file system as the entries: renames are atomic)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=cache.ensure("tmp")))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
