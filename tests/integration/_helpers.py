from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from lpack.cli.commands import main

EM_X86_64 = 62
EM_AARCH64 = 183


def lpack(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def lpack_subprocess(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m lpack` in a child process: its own umask, TZ and environment."""

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "lpack", *map(str, args)],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=set_umask,
    )


def build_json(project: Path, *extra: str | Path) -> dict[str, Any]:
    result = lpack("build", project, "--json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def elf_machine(data: bytes) -> int | None:
    if data[:4] != b"\x7fELF":
        return None
    return int.from_bytes(data[18:20], "little")


def elf_machines(zip_path: Path) -> dict[str, int]:
    with zipfile.ZipFile(zip_path) as zf:
        found = {n: elf_machine(zf.read(n)) for n in zf.namelist() if not n.endswith("/")}
    return {n: m for n, m in found.items() if m is not None}


def unzip_read_only(zip_path: Path, dest: Path) -> Path:
    """Extract with the real `unzip`, as Lambda does, then make the tree read-only like /var/task."""
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(dest)], check=True)
    for path in sorted(dest.rglob("*"), reverse=True):
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    dest.chmod(dest.stat().st_mode & ~stat.S_IWUSR)
    return dest


def make_writable(root: Path) -> None:
    root.chmod(0o755)
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
