"""Reading artifacts back: what a test asserts about a zip."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

EM_AARCH64 = 183  # ELF e_machine


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    mode: int  # permission bits
    is_dir: bool
    date: tuple[int, int, int, int, int, int]
    data: bytes


def members(path: Path) -> dict[str, Member]:
    with zipfile.ZipFile(path) as zf:
        return {
            i.filename: Member(
                mode=stat.S_IMODE(i.external_attr >> 16), is_dir=i.is_dir(), date=i.date_time, data=zf.read(i)
            )
            for i in zf.infolist()
        }


def files(path: Path) -> dict[str, bytes]:
    return {name: m.data for name, m in members(path).items() if not m.is_dir}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def elf_machine(data: bytes) -> int | None:
    return int.from_bytes(data[18:20], "little") if data[:4] == b"\x7fELF" else None
