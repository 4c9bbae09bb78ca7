"""Deterministic archives: sorted entries, one timestamp, normalized modes, fixed compression.

Every archive lpack writes goes through here, so the same StagingTree gives the same bytes on any
machine, umask or time zone.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lpack.errors import EmitError
from lpack.staging import StagingTree

ZIP_EPOCH_MIN = 315_532_800  # 1980-01-01T00:00:00Z: the earliest date a zip entry can hold
COMPRESS_LEVEL = 6
FILE_MODE = 0o644
EXEC_MODE = 0o755
_UNIX = 3  # create_system: tells unzip that external_attr carries Unix modes


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH if set (clamped to 1980, zip's first year), else 1980-01-01."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if not raw:
        return ZIP_EPOCH_MIN
    try:
        value = int(raw)
    except ValueError:
        raise EmitError(
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds",
            hint="set it to a Unix time such as $(git log -1 --format=%ct), or unset it",
        ) from None
    return max(value, ZIP_EPOCH_MIN)


def zip_date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    # UTC, so the local time zone never leaks into the archive.
    t = time.gmtime(epoch)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def _info(name: str, mode: int, date_time: tuple[int, int, int, int, int, int], *, is_dir: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.create_system = _UNIX
    info.external_attr = ((stat.S_IFDIR if is_dir else stat.S_IFREG) | mode) << 16
    if is_dir:
        info.external_attr |= 0x10  # MS-DOS directory bit, as zip -r writes it
    info.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
    # The attribute is public from 3.13 on and private before; the level must not depend on the Python.
    setattr(info, "compress_level" if sys.version_info >= (3, 13) else "_compresslevel", COMPRESS_LEVEL)
    return info


def write_zip(tree: StagingTree, dest: Path, *, prefix: str = "") -> None:
    """Write `tree` as a zip at `dest` (not atomically: use `atomic_output`), entries under `prefix`."""
    date_time = zip_date_time(source_date_epoch())
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    dirs = [prefix[:i] for i in range(len(prefix)) if prefix[i] == "/"] + [prefix + d for d in tree.directories()]
    members = sorted([(d + "/", None) for d in dirs] + [(prefix + e.path, e) for e in tree])
    with zipfile.ZipFile(dest, "w", allowZip64=True) as zf:
        for name, entry in members:
            if entry is None:
                zf.writestr(_info(name, EXEC_MODE, date_time, is_dir=True), b"")
                continue
            info = _info(name, EXEC_MODE if entry.executable else FILE_MODE, date_time, is_dir=False)
            info.file_size = entry.size  # known up front, so ZIP64 extras appear only when needed
            with entry.source.open("rb") as src, zf.open(info, "w") as out:
                shutil.copyfileobj(src, out, 1 << 20)


@contextmanager
def atomic_output(dest: Path) -> Iterator[Path]:
    """A temporary path beside `dest`, renamed onto it only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600 files; an artifact is as readable as any other file the user creates.
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)
        tmp_path.replace(dest)
    finally:
        tmp_path.unlink(missing_ok=True)
