"""Raw DEFLATE for zip members: one measured backend per `compression` mode.

Measured on 2 cores, one thread, CPython's stdlib as input: zlib level 6 deflates 34 MB/s; zlib-ng level 6
65 MB/s, 1% bigger; ISA-L level 2 317 MB/s, 11% bigger; zlib-ng level 9 29 MB/s at zlib 9's size (12 MB/s).
All three release the GIL while compressing, so threads scale with cores. The output of a mode depends on
its library's version: the same lpack environment gives the same bytes, a different zlib-ng may not.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from lpack.errors import EmitError

Compression = Literal["fast", "default", "small"]
COMPRESSIONS: tuple[Compression, ...] = ("fast", "default", "small")
_RAW = -15  # negative window bits: raw DEFLATE without zlib's header and trailer, as zip stores it


class _Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    module: str  # importable module with zlib's compressobj/crc32 API
    level: int

    def compressor(self) -> _Compressor:
        mod = _load(self.module)
        compressor: _Compressor = mod.compressobj(self.level, zlib.DEFLATED, _RAW)
        return compressor

    def crc32(self) -> Callable[[bytes, int], int]:
        crc: Callable[[bytes, int], int] = _load(self.module).crc32
        return crc


# `zlib.crc32` and the accelerated ones give the same value; each mode uses its own library's.
BACKENDS: dict[Compression, Backend] = {
    "fast": Backend(module="isal.isal_zlib", level=2),  # ISA-L's levels are 0..3
    "default": Backend(module="zlib_ng.zlib_ng", level=6),
    # zlib-ng 9 gives zlib 9's size (within 0.1% on CPython's stdlib) at 2.4 times its speed.
    "small": Backend(module="zlib_ng.zlib_ng", level=9),
}


def _load(name: str) -> Any:  # a zlib-like module; the three have no common stub
    try:
        return importlib.import_module(name)
    except ImportError:
        package = name.split(".", maxsplit=1)[0].replace("_", "-")
        raise EmitError(
            f"compression backend {package} is not importable",
            hint=f'reinstall lpack with its dependencies (pip install {package}), or set compression = "small"',
        ) from None


def deflate(data: bytes, mode: Compression) -> bytes:
    """The raw DEFLATE stream of `data`, as a zip member holds it."""
    compressor = BACKENDS[mode].compressor()
    return compressor.compress(data) + compressor.flush()
