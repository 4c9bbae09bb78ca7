"""OCI image layout directories [image-spec image-layout.md]: oci-layout, index.json, blobs/sha256/<hex>."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from lpack.errors import ConfigError, EmitError
from lpack.oci import OCI_INDEX, Descriptor, canonical_json

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = {"imageLayoutVersion": "1.0.0"}


def blob_path(root: Path, digest: str) -> Path:
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or not hex_digest.isalnum():
        raise EmitError(f"unsupported or malformed digest {digest!r}", hint="lpack handles sha256 content only")
    return root / "blobs" / algorithm / hex_digest


def add_blob(root: Path, digest: str, source: Path | bytes) -> Path:
    """Put a blob into the layout: bytes are written, files hard-linked when possible (base layers are big)."""
    dest = blob_path(root, digest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, bytes):
        dest.write_bytes(source)
        return dest
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
    return dest


def write_index(root: Path, manifest: Descriptor, *, tag: str | None) -> None:
    entry: dict[str, Any] = manifest.to_json()
    if tag:
        entry["annotations"] = {REF_NAME: tag}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    (root / "oci-layout").write_bytes(canonical_json(LAYOUT_FILE))
    (root / "index.json").write_bytes(canonical_json(index))


def split_spec(spec: str) -> tuple[Path, str | None]:
    """`PATH[:tag]`: the tag is what follows the last colon, unless PATH itself exists with the colon."""
    if Path(spec).is_dir() or ":" not in spec:
        return Path(spec), None
    path, _, tag = spec.rpartition(":")
    return Path(path), tag or None


def read_index(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / "index.json").read_bytes())
    except FileNotFoundError:
        raise EmitError(
            f"{root}: not an OCI image layout (no index.json)",
            hint="point `oci:` at a directory written by `skopeo copy ... oci:DIR` or `lpack build --output oci:DIR`",
        ) from None
    except ValueError as err:
        raise EmitError(f"{root}/index.json: invalid JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("manifests"), list):
        raise EmitError(f"{root}/index.json: no manifests list")
    return data


def find_manifest(root: Path, tag: str | None) -> Descriptor:
    """The index.json entry named `tag`, or the only entry when no tag is given."""
    entries = read_index(root)["manifests"]
    names = [str((e.get("annotations") or {}).get(REF_NAME, "")) for e in entries]
    if tag is not None:
        if tag not in names:
            shown = ", ".join(n for n in names if n) or "none"
            raise EmitError(f"{root}: no image tagged {tag!r} (tags: {shown})", hint=f"use oci:{root}:TAG")
        return Descriptor.from_json(entries[names.index(tag)])
    if len(entries) != 1:
        raise EmitError(
            f"{root}: {len(entries)} images in the layout; say which",
            hint=f"use oci:{root}:TAG with one of: {', '.join(n for n in names if n)}",
        )
    return Descriptor.from_json(entries[0])


def check_replaceable(dest: Path) -> None:
    """Refuse to write a layout over a directory that is not one: lpack replaces the layout as a whole."""
    if dest.is_dir() and not (dest / "oci-layout").is_file() and any(dest.iterdir()):
        raise ConfigError(
            f"{dest}: exists and is not an OCI image layout; lpack replaces the layout directory as a whole",
            hint="give --output oci: a new or empty directory, or a layout lpack wrote before",
        )
