"""Push an image from an OCI layout: only the blobs the registry lacks, then one manifest (never an index)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lpack.config.reference import Reference
from lpack.errors import RegistryError
from lpack.oci import MANIFESTS, Descriptor, sha256_digest
from lpack.oci import layout as oci_layout
from lpack.oci.registry import RegistryClient


@dataclass(frozen=True, slots=True, kw_only=True)
class PushResult:
    reference: str  # HOST/REPO@sha256:...
    uploaded: int
    mounted: int
    present: int


def push(
    layout: Path,
    manifest: Descriptor,
    target: Reference,
    *,
    mount_from: tuple[str, str] | None = None,
    client: RegistryClient | None = None,
    insecure: tuple[str, ...] = (),
) -> PushResult:
    """Upload what `target`'s registry lacks, PUT the manifest, then read it back by digest and check it."""
    client = client or RegistryClient(target.host, insecure=insecure)
    body = oci_layout.blob_path(layout, manifest.digest).read_bytes()
    data = json.loads(body)
    counts = {"uploaded": 0, "mounted": 0, "present": 0}
    source_repo = mount_from[1] if mount_from and mount_from[0] == target.host else None
    for desc in [Descriptor.from_json(d) for d in [*data["layers"], data["config"]]]:
        counts[_send_blob(client, layout, target.repository, desc, source_repo)] += 1
    client.put_manifest(target, manifest.media_type, body)
    _verify(client, target.with_digest(manifest.digest), manifest)
    return PushResult(reference=str(target.with_digest(manifest.digest)), **counts)


def _send_blob(client: RegistryClient, layout: Path, repo: str, desc: Descriptor, source_repo: str | None) -> str:
    if client.has_blob(repo, desc.digest):
        return "present"
    location = None
    # Same registry as the base: link its layers instead of sending them again [distribution-spec, "Mounting"].
    if source_repo and source_repo != repo:
        location = client.mount_blob(repo, desc.digest, source_repo)
        if location is None:
            return "mounted"
    client.upload_blob(repo, desc, oci_layout.blob_path(layout, desc.digest), location=location)
    return "uploaded"


def _verify(client: RegistryClient, ref: Reference, manifest: Descriptor) -> None:
    # Lambda takes a single image manifest only; make sure that is what the registry now serves by digest.
    media_type, body = client.get_manifest(ref)
    if media_type not in MANIFESTS or sha256_digest(body) != manifest.digest:
        raise RegistryError(
            f"{ref}: the registry serves {media_type or 'an unknown type'} ({sha256_digest(body)}), "
            f"not the {manifest.media_type} {manifest.digest} that was pushed",
            hint="Lambda accepts one image manifest, not an index; check the registry's manifest handling",
        )
