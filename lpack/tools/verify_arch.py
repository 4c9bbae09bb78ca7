"""`lpack verify` on an artifact for another architecture than this machine's.

Native code for another machine cannot load here: dlopen reports the file as missing ("cannot open shared
object file"), and an extension whose name carries the other platform's tag is not even looked for, so the
import fails naming a module that is in the zip. Verify says what is going on instead: it runs under
qemu-user when an interpreter for that architecture is given (`--python`) and qemu can run it, and otherwise
verifies the pure-Python part only and says so ("partial").
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpack.errors import NoInterpreterError
from lpack.tools.inspect import inspect_artifact

_LAMBDA_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}
_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
# e_machine values [ELF specification; elf.h]: EM_X86_64, EM_AARCH64.
_ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
# What a failed load of another machine's code says: dlopen (Python), Node's process.dlopen.
FOREIGN_LIBRARY = ("cannot open shared object file", "wrong ELF class", "invalid ELF header", "Exec format error")


@dataclass(frozen=True, slots=True, kw_only=True)
class ForeignCode:
    machine: str  # the artifact's: "aarch64"
    host: str  # this machine's: "x86_64"
    files: tuple[str, ...]  # its native files, as paths in the zips

    @property
    def architecture(self) -> str:
        return _LAMBDA_ARCH.get(self.machine, self.machine)

    def unloaded(self) -> str:
        return (
            f"{len(self.files)} native file(s) for {self.architecture} (e.g. {self.files[0]}) could not be loaded on "
            f"this {self.host} machine; the handler imported without them (it did not need them at init, or fell "
            "back): their own code was not checked here"
        )

    def note(self) -> str:
        example = f" (e.g. {self.files[0]})" if self.files else ""
        return (
            f"native code for {self.architecture}{example} cannot load on this {self.host} machine: verified the "
            f"pure-Python part only (partial); for a full check pass --python with a {self.machine} interpreter "
            f"and install qemu-user (qemu-{self.machine}), or verify on an {self.architecture} machine"
        )


def host_machine() -> str:
    return _MACHINE.get(platform.machine().lower(), platform.machine())


def foreign_code(zips: Sequence[Path]) -> ForeignCode | None:
    """The native files in `zips` for another machine than this one, or None when everything can load here."""
    host = host_machine()
    files: dict[str, list[str]] = {}
    for path in zips:
        if not zipfile.is_zipfile(path):
            continue
        for native in inspect_artifact(path).natives:
            if native.machine != host:
                files.setdefault(native.machine, []).append(native.path)
    if not files:
        return None
    machine = max(files, key=lambda m: len(files[m]))
    return ForeignCode(machine=machine, host=host, files=tuple(files[machine]))


def blocked(outcome: dict[str, Any], foreign: ForeignCode) -> bool:
    """Whether a failed import stopped at the other architecture's native code."""
    if outcome.get("phase") != "init":
        return False
    message = str(outcome.get("message", ""))
    if any(sign in message for sign in FOREIGN_LIBRARY):
        return True
    module = str(outcome.get("module") or "")
    if outcome.get("error") not in ("ModuleNotFoundError", "ImportError") or not module:
        return False
    stem = module.replace(".", "/")
    return any(f == stem or f.startswith((stem + ".", stem + "/")) for f in foreign.files)


def elf_machine(path: Path) -> str | None:
    """The machine an executable is for, from its ELF header; None for anything else (a script, a wrapper)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(20)
    except OSError:
        return None
    if head[:4] != b"\x7fELF":
        return None
    return _ELF_MACHINES.get(int.from_bytes(head[18:20], "little" if head[5] == 1 else "big"))


def emulated(python: Path, foreign: ForeignCode, version: tuple[int, int]) -> list[str]:
    """The command prefix that runs `python` (an interpreter for `foreign.machine`) here under qemu-user.

    Checked before it is trusted: qemu must run it and it must be the runtime's Python version.
    """
    qemu = shutil.which(f"qemu-{foreign.machine}-static") or shutil.which(f"qemu-{foreign.machine}")
    if qemu is None:
        raise NoInterpreterError(
            f"{python} is a {foreign.machine} program and qemu-{foreign.machine} is not installed",
            hint="install qemu-user (Debian: apt-get install qemu-user-static), or verify on a matching machine",
        )
    # QEMU_LD_PREFIX: where the interpreter's own loader and libraries are (a sysroot). Passed as -L, since the
    # handler runs with Lambda's environment only.
    sysroot = os.environ.get("QEMU_LD_PREFIX")
    command = [qemu, *(["-L", sysroot] if sysroot else []), str(python)]
    try:
        out = subprocess.run(
            [*command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as err:
        raise NoInterpreterError(
            f"{python} does not run under {Path(qemu).name}: {err}",
            hint="set QEMU_LD_PREFIX to the interpreter's sysroot, or use a statically linked interpreter",
        ) from None
    if out != f"{version[0]}.{version[1]}":
        raise NoInterpreterError(
            f"{python} is Python {out}, not {version[0]}.{version[1]}", hint="pass another --python"
        )
    return command
