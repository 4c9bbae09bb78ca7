"""Base images: from a registry, an OCI layout (`oci:DIR[:tag]`) or a docker archive, for one architecture.

Base layers are never unpacked. Each is read once as a stream to measure its uncompressed size (Lambda's
10 GB counts it), to check its diff_id against the config, and to refuse entries that would escape the root
(`../x`, `/x`: zip-slip); the result is cached by digest.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol, cast

from lpack.config.reference import parse_reference
from lpack.errors import EmitError
from lpack.oci import INDEXES, MANIFESTS, Descriptor, goarch
from lpack.oci import layout as oci_layout
from lpack.oci.registry import RegistryClient
from lpack.runtimes import Arch


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseImage:
    name: str  # as configured
    config: dict[str, Any]
    layers: tuple[Descriptor, ...]  # media types as in the base; see LAYER_TO_OCI
    blobs: dict[str, Path]  # layer digest -> local file
    uncompressed: tuple[int, ...]  # per layer
    registry: tuple[str, str] | None  # (host, repository) when pulled from a registry: blobs can be mounted


class _Store(Protocol):
    def manifest(self, desc: Descriptor | None) -> tuple[str, bytes]: ...  # None: the named image

    def blob(self, desc: Descriptor) -> Path: ...


def cache_dir() -> Path:
    override = os.environ.get("LPACK_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lpack"


@dataclass(frozen=True, slots=True)
class _LayoutStore:
    root: Path
    tag: str | None

    def manifest(self, desc: Descriptor | None) -> tuple[str, bytes]:
        desc = desc or oci_layout.find_manifest(self.root, self.tag)
        data = self.blob(desc).read_bytes()
        return desc.media_type or str(json.loads(data).get("mediaType", "")), data

    def blob(self, desc: Descriptor) -> Path:
        path = oci_layout.blob_path(self.root, desc.digest)
        if not path.is_file():
            raise EmitError(
                f"{self.root}: blob {desc.digest} is missing", hint="the layout is incomplete; copy it again"
            )
        return path


@dataclass(frozen=True, slots=True)
class _RegistryStore:
    client: RegistryClient
    name: str
    cache: Path

    def manifest(self, desc: Descriptor | None) -> tuple[str, bytes]:
        ref = parse_reference(self.name)
        return self.client.get_manifest(ref if desc is None else ref.with_digest(desc.digest))

    def blob(self, desc: Descriptor) -> Path:
        dest = oci_layout.blob_path(self.cache, desc.digest)
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        repo = parse_reference(self.name).repository
        with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
            for chunk in self.client.get_blob(repo, desc.digest):
                digest.update(chunk)
                tmp.write(chunk)
        if f"sha256:{digest.hexdigest()}" != desc.digest:
            Path(tmp.name).unlink()
            raise EmitError(f"{self.name}: blob {desc.digest} arrived with a different digest", hint="retry the build")
        Path(tmp.name).replace(dest)
        return dest


def resolve_base(name: str, arch: Arch, *, insecure: tuple[str, ...] = ()) -> BaseImage:
    """The base's config and layers for linux/`arch`, layers checked and measured."""
    store, registry = _store(name, insecure)
    media_type, body = store.manifest(None)
    manifest = _platform_manifest(name, arch, store, media_type, body)
    config = json.loads(store.blob(Descriptor.from_json(manifest["config"])).read_bytes())
    _check_config(name, arch, config)
    layers = tuple(Descriptor.from_json(d) for d in manifest.get("layers", []))
    blobs = {d.digest: store.blob(d) for d in layers}
    diff_ids = list(config.get("rootfs", {}).get("diff_ids", []))
    if len(diff_ids) != len(layers):
        raise EmitError(f"{name}: the config lists {len(diff_ids)} diff_ids for {len(layers)} layers")
    sizes = tuple(inspect_layer(name, d, blobs[d.digest], diff_id) for d, diff_id in zip(layers, diff_ids, strict=True))
    return BaseImage(name=name, config=config, layers=layers, blobs=blobs, uncompressed=sizes, registry=registry)


def _store(name: str, insecure: tuple[str, ...]) -> tuple[_Store, tuple[str, str] | None]:
    if name.startswith("oci:"):
        root, tag = oci_layout.split_spec(name.removeprefix("oci:"))
        return _LayoutStore(root.resolve(), tag), None
    if name.startswith("docker-archive:"):
        from lpack.oci.docker_archive import read_archive  # noqa: PLC0415 - only for this kind of base

        return _LayoutStore(read_archive(Path(name.removeprefix("docker-archive:")), cache_dir()), None), None
    ref = parse_reference(name)
    client = RegistryClient(ref.host, insecure=insecure)
    return _RegistryStore(client, name, cache_dir()), (ref.host, ref.repository)


def _platform_manifest(name: str, arch: Arch, store: _Store, media_type: str, body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)
    if media_type in MANIFESTS or (not media_type and "config" in data):
        return data
    if media_type not in INDEXES:
        raise EmitError(f"{name}: unsupported manifest type {media_type!r}")
    wanted = goarch(arch)
    offered = []
    for entry in data.get("manifests", []):
        platform = entry.get("platform") or {}
        offered.append(f"{platform.get('os')}/{platform.get('architecture')}")
        if platform.get("os") == "linux" and platform.get("architecture") == wanted:
            sub_type, sub_body = store.manifest(Descriptor.from_json(entry))
            return _platform_manifest(name, arch, store, sub_type, sub_body)
    raise EmitError(
        f"{name}: no linux/{wanted} image in the base's index (it has {', '.join(offered) or 'none'})",
        hint=f"pick a base built for {arch}, or build for an architecture the base has (--arch)",
    )


def _check_config(name: str, arch: Arch, config: dict[str, Any]) -> None:
    found = f"{config.get('os')}/{config.get('architecture')}"
    if found != f"linux/{goarch(arch)}":
        raise EmitError(
            f"{name}: the base is {found}, not linux/{goarch(arch)}",
            hint="use a multi-architecture base or one built for the function's architecture",
        )


# --- layer inspection -----------------------------------------------------------------------------------------


class _Counting:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.count = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        self.digest.update(data)
        return data


def inspect_layer(name: str, desc: Descriptor, path: Path, diff_id: str) -> int:
    """Uncompressed size of a base layer, after refusing unsafe entries; cached by digest."""
    memo = cache_dir() / "layers" / f"{desc.digest.replace(':', '-')}.json"
    try:
        return int(json.loads(memo.read_text())["uncompressed"])
    except (OSError, ValueError, KeyError):
        pass
    counted = _scan_tar(name, desc, path)
    if f"sha256:{counted.digest.hexdigest()}" != diff_id:
        raise EmitError(f"{name}: layer {desc.digest} does not match its diff_id {diff_id}")
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(json.dumps({"uncompressed": counted.count}))
    return counted.count


def _scan_tar(name: str, desc: Descriptor, path: Path) -> _Counting:
    if desc.media_type.endswith("zstd"):
        raise EmitError(f"{name}: layer {desc.digest} is zstd-compressed", hint="use a base with gzip layers")
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw)
        counted = _Counting(stream)
        try:
            with tarfile.open(fileobj=counted, mode="r|") as tar:  # type: ignore[call-overload]
                for member in _members(tar):
                    _refuse_escape(name, desc, member)
            while counted.read(1 << 20):
                pass  # the tar's zero padding counts toward the diff_id and size
        except (tarfile.TarError, OSError, EOFError) as err:
            raise EmitError(f"{name}: layer {desc.digest} is not a readable tar: {err}") from None
    return counted


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    member = tar.next()
    while member is not None:
        yield member
        member = tar.next()


def _refuse_escape(name: str, desc: Descriptor, member: tarfile.TarInfo) -> None:
    bad = [member.name] + ([member.linkname] if member.islnk() else [])
    for path in bad:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts:
            raise EmitError(
                f"{name}: layer {desc.digest} has an entry {path!r} that escapes the image root",
                hint="refusing the base (a crafted layer could write outside its root); use a trusted base image",
            )
