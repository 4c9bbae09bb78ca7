from __future__ import annotations

from pathlib import Path

from lpack import _archive
from lpack.emit import Artifact, ArtifactKind, describe
from lpack.staging import StagingTree


class ZipEmitter:
    """A function zip: the tree at the archive root, as Lambda extracts it into /var/task."""

    kind: ArtifactKind = "zip"

    def emit(self, tree: StagingTree, out: Path) -> Artifact:
        _archive.write_zip(tree, out)
        return describe(self.kind, tree, out)
