"""The tree `lpack verify` runs in: an artifact (and its layers) unpacked read-only, as /var/task and /opt."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path, PurePosixPath

from lpack import runtimes
from lpack.archive.reader import open_zip, refuse_unsafe
from lpack.errors import ConfigError, SizeLimitError, VerifyError
from lpack.oci import ImageInfo
from lpack.tools.image_files import own_files
from lpack.tools.image_files import read as read_image_file
from lpack.units import format_size


def unpack_zips(archives: Sequence[Path], dest: Path) -> None:
    """Unpack `archives` into `dest` with the safe reader: an unsafe zip, or all of them together over Lambda's
    unzipped limit, is refused (ArchiveError, SizeLimitError) before a byte is written."""
    # Later layers overwrite earlier ones, as Lambda merges them into /opt in order.
    dest.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        opened = [stack.enter_context(open_zip(path)) for path in archives]
        for safe in opened:
            refuse_unsafe(safe.listing)
        total = sum(safe.listing.unzipped_bytes for safe in opened)
        if total > runtimes.MAX_UNZIPPED:
            raise SizeLimitError(
                f"{', '.join(p.name for p in archives)}: {format_size(total)} unzipped together, over Lambda's "
                f"{format_size(runtimes.MAX_UNZIPPED)} for a function and its layers",
                hint="make the function or its layers smaller (lpack inspect shows what is big)",
            )
        try:
            for safe in opened:
                safe.extract(dest)
        except OSError as err:
            raise VerifyError(f"cannot unpack into a temporary directory: {err}", hint="is the disk full?") from None
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
