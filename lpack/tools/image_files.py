"""An image function's own files, read in place from the OCI layout the build wrote: its layers, not the base's."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from lpack.emit.image import task_root
from lpack.oci import ImageInfo

ImageFile = tuple[tarfile.TarFile, tarfile.TarInfo]


@contextmanager
def own_files(layout: Path, image: ImageInfo) -> Iterator[dict[str, ImageFile]]:
    """Each file of the function's layers by its path under the task root ("app.py"), as a zip names it."""
    # The layers hold the files under the base's task root (var/task): strip it, as a zip has none.
    config = json.loads(_blob(layout, image.config_digest).read_bytes())
    prefix = task_root(config).strip("/") + "/"
    with ExitStack() as stack:
        found: dict[str, ImageFile] = {}
        for layer in (layer for layer in image.layers if layer.origin != "base"):
            tar = stack.enter_context(tarfile.open(_blob(layout, layer.digest), "r:gz"))
            for info in tar.getmembers():
                if info.isfile() and info.name.startswith(prefix):
                    found[info.name.removeprefix(prefix)] = (tar, info)
        yield found


def read(file: ImageFile) -> bytes:
    tar, info = file
    stream = tar.extractfile(info)
    return stream.read() if stream is not None else b""


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, hex_digest = digest.partition(":")
    return layout / "blobs" / algorithm / hex_digest
