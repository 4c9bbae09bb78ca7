"""A Lambda container image: the base's layers plus a dependencies layer and a code layer, as an OCI layout.

Dependencies and code are separate layers so that a code change re-pushes only the small code layer. The
layout written at `out` is the image; lpack.oci.deliver copies it to a docker archive, a registry or docker.
"""

from __future__ import annotations

import base64
import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpack.archive import writer as _archive
from lpack.emit.base import Artifact, ArtifactKind
from lpack.errors import RegistryError
from lpack.oci import (
    LAYER_TO_OCI,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    ImageInfo,
    LayerInfo,
    LayerOrigin,
    canonical_json,
    goarch,
    sha256_digest,
)
from lpack.oci import layout as oci_layout
from lpack.oci.base import BaseImage, resolve_base
from lpack.runtimes import Arch
from lpack.staging.tree import Entry, StagingTree, file_sha256

TASK_ROOT = "/var/task"  # LAMBDA_TASK_ROOT in every AWS base image [images-create.html]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageOptions:
    base: str  # registry reference, oci:DIR[:tag] or docker-archive:FILE
    architecture: Arch
    handler: str
    tag: str | None = None  # ref name in the layout's index.json
    insecure: tuple[str, ...] = ()


def split_layers(tree: StagingTree) -> tuple[StagingTree, StagingTree]:
    """(dependencies, code); a .pyc goes with its .py, so code bytecode changes with the code layer only."""
    code_paths = {e.path for e in tree if e.origin == "code"}

    def is_code(entry: Entry) -> bool:
        if entry.origin != "bytecode":
            return entry.origin == "code"
        head, _, name = entry.path.rpartition("__pycache__/")
        return f"{head}{name.split('.', 1)[0]}.py" in code_paths

    code = [e for e in tree if is_code(e)]
    return tree.without(e.path for e in code), StagingTree.of(code)


def task_root(config: dict[str, Any]) -> str:
    for item in (config.get("config") or {}).get("Env") or []:
        key, _, value = str(item).partition("=")
        if key == "LAMBDA_TASK_ROOT" and value.startswith("/"):
            return value
    return TASK_ROOT


def rfc3339(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class ImageEmitter:
    """OCI image layout at `out` (a new, empty directory)."""

    kind: ArtifactKind = "image"

    def __init__(self, options: ImageOptions) -> None:
        self.options = options

    def emit(self, tree: StagingTree, out: Path) -> Artifact:
        opts = self.options
        base = _base(opts)
        ours = self._write_layers(tree, out, task_root(base.config).lstrip("/"))
        config = image_config(base.config, opts.architecture, opts.handler, ours, rfc3339(_archive.image_epoch()))
        config_bytes = canonical_json(config)
        config_desc = Descriptor(media_type=OCI_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes))
        oci_layout.add_blob(out, config_desc.digest, config_bytes)
        for desc in base.layers:
            oci_layout.add_blob(out, desc.digest, base.blobs[desc.digest])
        layers = _base_layers(base) + ours
        manifest = image_manifest(config_desc, base.layers, ours)
        manifest_desc = Descriptor(media_type=OCI_MANIFEST, digest=sha256_digest(manifest), size=len(manifest))
        oci_layout.add_blob(out, manifest_desc.digest, manifest)
        oci_layout.write_index(out, manifest_desc, tag=opts.tag)
        info = ImageInfo(
            digest=manifest_desc.digest,
            manifest_media_type=OCI_MANIFEST,
            manifest_bytes=len(manifest),
            config_digest=config_desc.digest,
            base=opts.base,
            platform=f"linux/{goarch(opts.architecture)}",
            layers=tuple(layers),
            uncompressed_bytes=sum(layer.uncompressed_size for layer in layers),
        )
        return _artifact(tree, out, info)

    def _write_layers(self, tree: StagingTree, out: Path, prefix: str) -> list[LayerInfo]:
        written = []
        tmp = out / "blobs" / "sha256" / ".layer.tmp"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        origins: tuple[LayerOrigin, LayerOrigin] = ("deps", "code")
        for origin, part in zip(origins, split_layers(tree), strict=True):
            if not len(part):
                continue  # no dependencies (or code): an empty layer would only add a blob
            tar = _archive.write_layer(part, tmp, prefix=prefix)
            digest, size = f"sha256:{file_sha256(tmp)}", tmp.stat().st_size
            tmp.replace(oci_layout.blob_path(out, digest))
            written.append(
                LayerInfo(
                    origin=origin,
                    digest=digest,
                    diff_id=tar.diff_id,
                    size=size,
                    uncompressed_size=tar.uncompressed_bytes,
                )
            )
        return written


def _base(opts: ImageOptions) -> BaseImage:
    try:
        return resolve_base(opts.base, opts.architecture, insecure=opts.insecure)
    except RegistryError as err:
        # The default base lives on public.ecr.aws; a machine without that access can still build on a copy.
        hint = f'{err.hint + "; " if err.hint else ""}or set base = "oci:DIR" to a copy of the base image'
        raise RegistryError(f"base image {opts.base}: {err.msg}", hint=hint) from None


def _base_layers(base: BaseImage) -> list[LayerInfo]:
    diff_ids = base.config["rootfs"]["diff_ids"]
    return [
        LayerInfo(origin="base", digest=d.digest, diff_id=diff_id, size=d.size, uncompressed_size=n)
        for d, diff_id, n in zip(base.layers, diff_ids, base.uncompressed, strict=True)
    ]


def image_config(
    base: dict[str, Any], arch: Arch, handler: str, layers: list[LayerInfo], created: str
) -> dict[str, Any]:
    """The base's config with our layers appended; ENTRYPOINT, Env and WorkingDir stay the base's."""
    config = copy.deepcopy(base)
    config["architecture"], config["os"], config["created"] = goarch(arch), "linux", created
    if arch == "arm64":
        config["variant"] = "v8"
    else:
        config.pop("variant", None)
    inner = dict(config.get("config") or {})
    inner["Cmd"] = [handler]  # the Lambda runtime interface client reads the handler from CMD
    config["config"] = inner
    rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), *(layer.diff_id for layer in layers)]
    history = list(config.get("history") or [])
    history += [{"created": created, "created_by": f"lpack: function {layer.origin}"} for layer in layers]
    config["history"] = history
    return config


def image_manifest(config: Descriptor, base_layers: tuple[Descriptor, ...], ours: list[LayerInfo]) -> bytes:
    layers = [
        Descriptor(media_type=LAYER_TO_OCI.get(d.media_type, d.media_type), digest=d.digest, size=d.size).to_json()
        for d in base_layers
    ]
    layers += [Descriptor(media_type=OCI_LAYER_GZIP, digest=layer.digest, size=layer.size).to_json() for layer in ours]
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(), "layers": layers})


def _artifact(tree: StagingTree, out: Path, info: ImageInfo) -> Artifact:
    hex_digest = info.digest.split(":", 1)[1]
    return Artifact(
        kind="image",
        path=out,
        sha256=hex_digest,
        sha256_b64=base64.b64encode(bytes.fromhex(hex_digest)).decode(),
        zipped_bytes=sum(layer.size for layer in info.layers),
        unzipped_bytes=info.uncompressed_bytes,
        files=len(tree),
        image=info,
    )
