"""verify_arch: which native code cannot load on this machine, and whether an import stopped at it."""

from __future__ import annotations

import platform
import zipfile
from pathlib import Path

import pytest

from lpack.tools import verify_arch
from tests.conftest import WHEELS

HOST = verify_arch.host_machine()
OTHER = "aarch64" if HOST != "aarch64" else "x86_64"


def _so(machine: str) -> bytes:
    wheel = next(WHEELS.glob(f"lp_native-1.0-*_{machine}.whl"))
    with zipfile.ZipFile(wheel) as archive:
        return archive.read("lp_native/_native.abi3.so")


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_the_host_machine_uses_elf_names() -> None:
    assert HOST in ("x86_64", "aarch64") or platform.machine() not in ("x86_64", "aarch64", "amd64", "arm64")


def test_foreign_code_lists_the_other_machines_files_only(tmp_path: Path) -> None:
    fn = _zip(tmp_path / "fn.zip", {"a/_x.abi3.so": _so(OTHER), "b/_y.abi3.so": _so(HOST), "app.py": b""})
    layer = _zip(tmp_path / "layer.zip", {"python/c/_z.abi3.so": _so(OTHER)})
    found = verify_arch.foreign_code([fn, layer])
    assert found is not None
    assert (found.machine, found.host) == (OTHER, HOST)
    assert found.files == ("a/_x.abi3.so", "python/c/_z.abi3.so")
    assert verify_arch.foreign_code([_zip(tmp_path / "ok.zip", {"b/_y.abi3.so": _so(HOST)})]) is None


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ({"phase": "init", "error": "ImportError", "message": "x.so: cannot open shared object file"}, True),
        ({"phase": "init", "error": "ModuleNotFoundError", "message": "No module named a._x", "module": "a._x"}, True),
        ({"phase": "init", "error": "ModuleNotFoundError", "message": "No module named 'b'", "module": "b"}, False),
        ({"phase": "init", "error": "KeyError", "message": "'TABLE'"}, False),
        ({"phase": "invoke", "error": "ImportError", "message": "cannot open shared object file"}, False),
    ],
)
def test_blocked_only_by_the_other_machines_code(outcome: dict[str, str], expected: bool) -> None:
    foreign = verify_arch.ForeignCode(machine=OTHER, host=HOST, files=("a/_x.abi3.so",))
    assert verify_arch.blocked(outcome, foreign) is expected


def test_elf_machine_of_programs(tmp_path: Path) -> None:
    (tmp_path / "other").write_bytes(_so(OTHER))
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert verify_arch.elf_machine(tmp_path / "other") == OTHER
    assert verify_arch.elf_machine(tmp_path / "script") is None
    assert verify_arch.elf_machine(tmp_path / "absent") is None
