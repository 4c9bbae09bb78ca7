from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lpack.archive import writer as _archive
from lpack.archive.deflate import Compression
from lpack.archive.zipformat import RawMember
from lpack.emit.base import Artifact, ArtifactKind, describe
from lpack.staging.tree import StagingTree


class ZipEmitter:
    """A function zip (the tree at the root, as Lambda extracts it into /var/task) or a layer zip (the
    tree already carries its python/, bin/ and lib/ prefixes; Lambda extracts it into /opt)."""

    def __init__(
        self,
        kind: ArtifactKind = "zip",
        *,
        compression: Compression = "default",
        reuse: Mapping[Path, RawMember] | None = None,
    ) -> None:
        self.kind: ArtifactKind = kind
        self.compression: Compression = compression
        self.reuse = reuse  # members already compressed in a cached zip, by source file

    def emit(self, tree: StagingTree, out: Path) -> Artifact:
        _archive.write_zip(tree, out, compression=self.compression, reuse=self.reuse)
        return describe(self.kind, tree, out)
