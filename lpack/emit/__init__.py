"""Emitters turn a StagingTree into an artifact file; one per format, behind one Protocol."""

from __future__ import annotations

from typing import Any

from lpack.emit.base import Artifact, ArtifactKind, Emitter, describe


def get_emitter(kind: ArtifactKind, **options: Any) -> Emitter:
    """The emitter for `kind`; `options` go to its constructor (the image emitter takes `options=ImageOptions`)."""
    # Imported here: the image emitter pulls in the OCI code, which zip builds never need.
    if kind == "image":
        from lpack.emit.image import ImageEmitter  # noqa: PLC0415

        return ImageEmitter(**options)
    from lpack.emit.zip import ZipEmitter  # noqa: PLC0415

    return ZipEmitter(kind, **options)


__all__ = ["Artifact", "ArtifactKind", "Emitter", "describe", "get_emitter"]
