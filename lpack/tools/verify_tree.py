"""The tree `lpack verify` runs in: an artifact (and its layers) unpacked read-only, as /var/task and /opt."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from lpack.errors import ConfigError
from lpack.oci import ImageInfo
from lpack.tools.image_files import own_files
from lpack.tools.image_files import read as read_image_file


def unpack_zips(archives: Sequence[Path], dest: Path) -> None:
    # Later layers overwrite earlier ones, as Lambda merges them into /opt in order.
    dest.mkdir(parents=True, exist_ok=True)
    for archive_path in archives:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                for info in archive.infolist():
                    target = Path(archive.extract(info, dest))
                    mode = (info.external_attr >> 16) & 0o777
                    if mode and not info.is_dir():
                        target.chmod(mode)
        except (OSError, zipfile.BadZipFile) as err:
            raise ConfigError(f"{archive_path}: cannot unpack: {err}", hint="pass a zip that lpack built") from None
    read_only(dest)


def unpack_image(layout: Path, image: ImageInfo, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with own_files(layout, image) as files:
        for rel, file in sorted(files.items()):
            if rel.startswith("/") or ".." in PurePosixPath(rel).parts:
                raise ConfigError(f"{layout}: layer member {rel!r} leaves the task root", hint="rebuild the image")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read_image_file(file))
            target.chmod(file[1].mode & 0o777)
    read_only(dest)


def read_only(root: Path) -> None:
    # /var/task and /opt are read-only on Lambda: code that writes next to itself must fail here too.
    for path in [*root.rglob("*"), root]:
        if not path.is_symlink():
            path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)


def writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
