from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lpack import _archive
from lpack._deflate import Compression
from lpack.emit import Artifact, ArtifactKind, describe
from lpack.staging import StagingTree


class ZipEmitter:
    """A function zip: the tree at the archive root, as Lambda extracts it into /var/task."""

    kind: ArtifactKind = "zip"

    def __init__(
        self, *, compression: Compression = "default", reuse: Mapping[Path, _archive.RawMember] | None = None
    ) -> None:
        self.compression: Compression = compression
        self.reuse = reuse  # members already compressed in a cached zip, by source file

    def emit(self, tree: StagingTree, out: Path) -> Artifact:
        _archive.write_zip(tree, out, compression=self.compression, reuse=self.reuse)
        return describe(self.kind, tree, out)
