"""What the audit needs to know about one ELF file, read with pyelftools."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

MAGIC = b"\x7fELF"
# Machine names as wheel tags and `uname -m` spell them; Lambda's "arm64" is "aarch64" here.
_MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64", "EM_386": "i686", "EM_ARM": "armv7l"}
_GLIBC = re.compile(r"^GLIBC_(\d+(?:\.\d+)+)$")  # GLIBC_2.17, GLIBC_2.2.5; not GLIBC_PRIVATE


@dataclass(frozen=True, slots=True, kw_only=True)
class ElfInfo:
    machine: str
    glibc: tuple[int, ...] | None  # the highest GLIBC_x.y symbol version it needs; None when none
    musl: bool
    program: bool  # has an interpreter (PT_INTERP): run as a program, so it needs the exec bit


def read(path: Path) -> ElfInfo | None:
    """Facts about the ELF file at `path`; None when it starts like ELF but does not parse."""
    # pyelftools is imported on first use: a build that reuses its artifact never reads an ELF file.
    from elftools.common.exceptions import ELFError  # noqa: PLC0415
    from elftools.elf.elffile import ELFFile  # noqa: PLC0415

    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            needed, versions = _dynamic(elf)
            interp = _interpreter(elf)
            machine = str(elf["e_machine"])
    except (ELFError, ValueError, KeyError, OSError, AssertionError):
        # pyelftools raises assertions and ValueError on some truncated headers, not only ELFError.
        return None
    return ElfInfo(
        machine=_MACHINES.get(machine, machine.removeprefix("EM_").lower()),
        glibc=max(versions, default=None),
        musl=any(n.startswith("libc.musl") for n in needed) or "ld-musl" in (interp or ""),
        program=interp is not None,
    )


def _dynamic(elf: ELFFile) -> tuple[list[str], list[tuple[int, ...]]]:
    from elftools.elf.dynamic import DynamicSection  # noqa: PLC0415
    from elftools.elf.gnuversions import GNUVerNeedSection  # noqa: PLC0415

    needed: list[str] = []
    versions: list[tuple[int, ...]] = []
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            # pyelftools sets `.needed` with setattr, so its type information does not know it.
            needed += [str(tag.needed) for tag in section.iter_tags("DT_NEEDED")]  # type: ignore[attr-defined]
        elif isinstance(section, GNUVerNeedSection):
            for _verneed, auxiliaries in section.iter_versions():
                versions += [_glibc(str(aux.name)) for aux in auxiliaries if _GLIBC.match(str(aux.name))]
    return needed, versions


def _glibc(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.removeprefix("GLIBC_").split("."))


def _interpreter(elf: ELFFile) -> str | None:
    from elftools.elf.segments import InterpSegment  # noqa: PLC0415

    for segment in elf.iter_segments():
        if isinstance(segment, InterpSegment):
            return segment.get_interp_name()
    return None
