"""OCI images without a daemon: descriptors, layouts, docker archives and a small registry client."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from lpack.runtimes import Arch

# [github.com/opencontainers/image-spec media-types.md; distribution/distribution docs/spec/manifest-v2-2.md]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
# The same bytes under OCI's name: our manifest is OCI, so docker-typed base layers are renamed, not rewritten.
LAYER_TO_OCI = {DOCKER_LAYER_GZIP: OCI_LAYER_GZIP, "application/vnd.docker.image.rootfs.diff.tar": OCI_LAYER_GZIP}

LayerOrigin = Literal["base", "deps", "code"]


def goarch(arch: Arch) -> str:
    """Lambda says x86_64/arm64; OCI platforms use Go's names."""
    return "arm64" if arch == "arm64" else "amd64"


def canonical_json(obj: Any) -> bytes:
    # Sorted keys and no whitespace: the digest of a config or manifest depends only on its content.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Descriptor:
    media_type: str
    digest: str  # "sha256:<hex>"
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Descriptor:
        return cls(media_type=str(data.get("mediaType", "")), digest=str(data["digest"]), size=int(data["size"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerInfo:
    origin: LayerOrigin
    digest: str  # of the compressed blob
    diff_id: str  # of the uncompressed tar
    size: int  # compressed
    uncompressed_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageInfo:
    """What an image build produced: the manifest digest is what Lambda's ImageUri pins."""

    digest: str
    manifest_media_type: str
    manifest_bytes: int
    config_digest: str
    base: str
    platform: str  # "linux/arm64"
    layers: tuple[LayerInfo, ...]
    uncompressed_bytes: int  # every layer, the base's included: Lambda's 10 GB limit
    pushed: str | None = None  # REGISTRY/REPO@sha256:... after --push
    outputs: tuple[str, ...] = ()  # "oci:DIR", "docker-archive:FILE", "docker:ID"
    # Blobs of the last push: sent, linked from the base's repository, or already there.
    uploaded: int = 0
    mounted: int = 0
    present: int = 0
