"""The emit stage for one artifact: write it, measure it against Lambda's limits, and refuse one too big.

A zip too big for Lambda (with its layers) is never renamed into place; an image is measured before it
is delivered (pushed, loaded or archived).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lpack import layers
from lpack.archive import writer as _archive
from lpack.archive.zipformat import RawMember
from lpack.config.model import FunctionConfig, ImageDelivery
from lpack.emit import get_emitter
from lpack.emit.base import Artifact
from lpack.emit.zip import ZipEmitter
from lpack.errors import SizeLimitError
from lpack.size import SizeReport, measure, measure_image, size_hint
from lpack.staging.tree import StagingTree


@dataclass(frozen=True, slots=True, kw_only=True)
class Emitted:
    artifact: Artifact
    size: SizeReport
    warnings: tuple[str, ...]  # what the function shares with its layers, size warnings aside


def artifact_path(fn: FunctionConfig, out_dir: Path) -> Path:
    """Where a zip artifact goes: dist/NAME.zip for a function, dist/NAME-layer.zip for a layer."""
    return out_dir / (f"{fn.name}.zip" if fn.role == "function" else f"{fn.name}-layer.zip")


def emit_artifact(
    fn: FunctionConfig,
    tree: StagingTree,
    out_dir: Path,
    *,
    delivery: ImageDelivery,
    stack: Sequence[layers.Part] = (),
    enforce: bool = True,
    reuse: Mapping[Path, RawMember] | None = None,
) -> Emitted:
    """Write `fn`'s artifact from `tree`; `stack` are its layers, `reuse` members already compressed."""
    if fn.format == "image":
        return _emit_image(fn, tree, out_dir, delivery, enforce=enforce)
    dest = artifact_path(fn, out_dir)
    warnings: list[str] = []
    with _archive.atomic_output(dest) as tmp:
        emitter = ZipEmitter("zip" if fn.role == "function" else "layer", compression=fn.compression, reuse=reuse)
        artifact = emitter.emit(tree, tmp)
        size = measure(tree, zipped_bytes=artifact.zipped_bytes, budget=fn.budget)
        if stack:  # checked before the rename: a function too big with its layers is not written
            size, warnings = layers.with_layers(fn, size, stack, enforce=enforce)
        _refuse_if_over(fn, dest, size, enforce=enforce)
    return Emitted(artifact=dataclasses.replace(artifact, path=dest), size=size, warnings=tuple(warnings))


def _refuse_if_over(fn: FunctionConfig, dest: Path, size: SizeReport, *, enforce: bool) -> None:
    if size.over and enforce:
        first = next(f for f in size.findings if f.severity == "error")
        hint = size_hint(size, exclude_runtime_provided=fn.exclude_runtime_provided)
        raise SizeLimitError(f"{dest.name}: {first.message}", report=size, hint=hint)


def _emit_image(
    fn: FunctionConfig, tree: StagingTree, out_dir: Path, delivery: ImageDelivery, *, enforce: bool
) -> Emitted:
    # Image machinery is imported when an image is built: zip builds and no-change rebuilds start faster.
    from lpack.emit.image import ImageOptions  # noqa: PLC0415
    from lpack.oci import layout as oci_layout  # noqa: PLC0415
    from lpack.oci.deliver import deliver  # noqa: PLC0415
    from lpack.oci.reference import parse_reference  # noqa: PLC0415

    layouts = [o.removeprefix("oci:") for o in delivery.outputs if o.startswith("oci:")]
    dest = Path(layouts[0]).resolve() if layouts else out_dir / f"{fn.name}.oci"
    ref = parse_reference(delivery.push) if delivery.push else None
    options = ImageOptions(
        base=fn.base or fn.runtime.base_image or "",
        architecture=fn.architecture,
        handler=fn.handler,
        tag=(ref.tag if ref else None) or "latest",
        insecure=delivery.insecure,
    )
    oci_layout.check_replaceable(dest)
    with _archive.atomic_directory(dest) as tmp:
        artifact = get_emitter("image", options=options).emit(tree, tmp)
        size = _measure_image(fn, tree, artifact, dest, enforce=enforce)
    archives = tuple(
        Path(o.removeprefix("docker-archive:")).resolve() for o in delivery.outputs if o.startswith("docker-")
    )
    assert artifact.image is not None
    image, _ = deliver(
        dest,
        dataclasses.replace(artifact.image, outputs=(f"oci:{dest}",)),
        archives=archives,
        push_to=delivery.push,
        load=delivery.load,
        repo_tag=str(ref) if ref else f"{fn.name.lower()}:latest",
        insecure=delivery.insecure,
    )
    return Emitted(artifact=dataclasses.replace(artifact, path=dest, image=image), size=size, warnings=())


def _measure_image(
    fn: FunctionConfig, tree: StagingTree, artifact: Artifact, dest: Path, *, enforce: bool
) -> SizeReport:
    assert artifact.image is not None
    own = sum(layer.size for layer in artifact.image.layers if layer.origin != "base")
    size = measure_image(
        tree,
        image_bytes=artifact.image.uncompressed_bytes,
        compressed_bytes=artifact.zipped_bytes,
        own_compressed=own,
        manifest_bytes=artifact.image.manifest_bytes,
        budget=fn.budget,
    )
    _refuse_if_over(fn, dest, size, enforce=enforce)
    return size
