from __future__ import annotations

from pathlib import Path

from lpack import _archive
from lpack.emit import Artifact, ArtifactKind, describe
from lpack.staging import StagingTree


class ZipEmitter:
    """A function zip (the tree at the root, as Lambda extracts it into /var/task) or a layer zip (the
    tree already carries its python/, bin/ and lib/ prefixes; Lambda extracts it into /opt)."""

    def __init__(self, kind: ArtifactKind = "zip") -> None:
        self.kind: ArtifactKind = kind

    def emit(self, tree: StagingTree, out: Path) -> Artifact:
        _archive.write_zip(tree, out)
        return describe(self.kind, tree, out)
