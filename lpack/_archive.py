"""Deterministic archives: sorted entries, one timestamp, normalized modes, fixed compression.

Every archive lpack writes goes through here, so the same StagingTree gives the same bytes on any
machine, umask, time zone or thread count. The zip writer itself is in `_zip` (our own, parallel).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from lpack import _zip
from lpack._deflate import Compression
from lpack._zip import EXEC_MODE, FILE_MODE, RawMember, read_members, zip_date_time
from lpack.errors import EmitError
from lpack.staging import StagingTree

ZIP_EPOCH_MIN = 315_532_800  # 1980-01-01T00:00:00Z: the earliest date a zip entry can hold
DEFAULT_COMPRESSION: Compression = "default"

__all__ = [
    "DEFAULT_COMPRESSION",
    "EXEC_MODE",
    "FILE_MODE",
    "ZIP_EPOCH_MIN",
    "RawMember",
    "atomic_output",
    "read_members",
    "source_date_epoch",
    "write_zip",
    "zip_date_time",
]


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


def write_zip(
    tree: StagingTree,
    dest: Path,
    *,
    prefix: str = "",
    compression: Compression = DEFAULT_COMPRESSION,
    threads: int | None = None,
    reuse: Mapping[Path, RawMember] | None = None,
) -> None:
    """Write `tree` as a zip at `dest` (not atomically: use `atomic_output`), entries under `prefix`.

    `reuse` maps an entry's source file to its compressed bytes in another zip written in the same
    `compression` mode: those are copied raw.
    """
    _zip.write_zip(
        tree, dest, epoch=source_date_epoch(), prefix=prefix, compression=compression, threads=threads, reuse=reuse
    )


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    # Reading the umask means setting it; two threads doing that at once could leave it at 0.
    with _UMASK_LOCK:
        umask = os.umask(0)
        os.umask(umask)
    return umask


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
        tmp_path.chmod(0o666 & ~_umask())
        tmp_path.replace(dest)
    finally:
        tmp_path.unlink(missing_ok=True)
