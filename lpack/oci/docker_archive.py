"""`docker save` archives: manifest.json naming a config and layer tars [moby image/spec/v1.2.md].

Written archives are also OCI layouts (oci-layout, index.json, blobs/), as docker 25's `docker save` writes
them: `docker load` and skopeo read manifest.json, OCI tools read index.json. Layers stay gzipped; docker
load decompresses them.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from pathlib import Path
from typing import IO, Any

from lpack.archive import writer as _archive
from lpack.errors import EmitError
from lpack.oci import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor, canonical_json, sha256_digest
from lpack.oci import layout as oci_layout
from lpack.staging.tree import file_sha256


def write_archive(layout: Path, manifest: Descriptor, dest: Path, *, repo_tags: tuple[str, ...]) -> None:
    data = json.loads(oci_layout.blob_path(layout, manifest.digest).read_bytes())
    names = [f"blobs/sha256/{d['digest'].split(':', 1)[1]}" for d in [data["config"], *data["layers"]]]
    entry = {"Config": names[0], "RepoTags": list(repo_tags), "Layers": names[1:]}
    files: list[tuple[str, Path | bytes]] = [
        ("manifest.json", canonical_json([entry])),
        ("oci-layout", (layout / "oci-layout").read_bytes()),
        ("index.json", (layout / "index.json").read_bytes()),
        (f"blobs/sha256/{manifest.digest.split(':', 1)[1]}", oci_layout.blob_path(layout, manifest.digest)),
    ]
    files += [(name, layout / name) for name in dict.fromkeys(names)]
    _archive.write_tar(files, dest)


def read_archive(path: Path, cache: Path) -> Path:
    """Convert a docker archive into an OCI layout in the cache (once per archive content); return its root."""
    if not path.is_file():
        raise EmitError(f"{path}: no such docker archive", hint="write one with `docker save IMAGE -o FILE`")
    root = cache / "docker-archive" / file_sha256(path)
    if (root / "index.json").is_file():
        return root
    try:
        with tarfile.open(path) as tar:
            _convert(tar, path, root)
    except (tarfile.TarError, OSError, KeyError, ValueError) as err:
        raise EmitError(f"{path}: not a readable docker archive: {err}") from None
    return root


def _read(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    member = tar.extractfile(name)  # read in memory by name: nothing is extracted to disk
    if member is None:
        raise KeyError(name)
    return member


def _convert(tar: tarfile.TarFile, path: Path, root: Path) -> None:
    entries: list[dict[str, Any]] = json.load(_read(tar, "manifest.json"))
    if len(entries) != 1:
        raise EmitError(f"{path}: holds {len(entries)} images; lpack needs an archive of one")
    config = _read(tar, entries[0]["Config"]).read()
    config_desc = Descriptor(media_type=OCI_CONFIG, digest=sha256_digest(config), size=len(config))
    oci_layout.add_blob(root, config_desc.digest, config)
    layers = [_layer(tar, name, root) for name in entries[0]["Layers"]]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc.to_json(),
        "layers": [d.to_json() for d in layers],
    }
    body = canonical_json(manifest)
    desc = Descriptor(media_type=OCI_MANIFEST, digest=sha256_digest(body), size=len(body))
    oci_layout.add_blob(root, desc.digest, body)
    oci_layout.write_index(root, desc, tag=None)


def _layer(tar: tarfile.TarFile, name: str, root: Path) -> Descriptor:
    """A layer as a gzip blob: kept when already gzipped, else compressed deterministically."""
    src = _read(tar, name)
    head = src.read(2)
    tmp = root / "blobs" / "sha256" / ".incoming"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as out:
        if head == b"\x1f\x8b":
            out.write(head)
            shutil.copyfileobj(src, out, 1 << 20)
        else:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=_archive.GZIP_LEVEL) as gz:
                gz.write(head)
                shutil.copyfileobj(src, gz, 1 << 20)
    digest = f"sha256:{file_sha256(tmp)}"
    size = tmp.stat().st_size
    tmp.replace(oci_layout.blob_path(root, digest))
    return Descriptor(media_type=OCI_LAYER_GZIP, digest=digest, size=size)
