"""What every emitter returns: the Artifact record, and the Protocol an emitter implements."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from lpack.oci import ImageInfo
from lpack.staging.tree import StagingTree, file_sha256

ArtifactKind = Literal["zip", "layer", "image"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    kind: ArtifactKind
    path: Path
    sha256: str  # hex
    sha256_b64: str  # base64 of the raw digest: Terraform's source_code_hash, Lambda's CodeSha256
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    image: ImageInfo | None = None  # digests and layers, for kind "image"


class Emitter(Protocol):
    kind: ArtifactKind

    def emit(self, tree: StagingTree, out: Path) -> Artifact: ...


def describe(kind: ArtifactKind, tree: StagingTree, path: Path) -> Artifact:
    """The Artifact record for a file just written from `tree`."""
    hex_digest = file_sha256(path)
    return Artifact(
        kind=kind,
        path=path,
        sha256=hex_digest,
        sha256_b64=base64.b64encode(bytes.fromhex(hex_digest)).decode(),
        zipped_bytes=path.stat().st_size,
        unzipped_bytes=tree.unzipped_bytes,
        files=len(tree),
    )
