"""`lpack verify` of an arm64 artifact on an x86_64 machine: under qemu-user with an aarch64 interpreter
(fixtures/make_aarch64_sysroot.sh: Debian's arm64 python3.11, unpacked), or else a partial check."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lpack.tools.verify_arch import host_machine
from tests.conftest import MakeProject
from tests.integration._helpers import lpack

SYSROOT = Path(os.environ.get("LPACK_AARCH64_SYSROOT", "/opt/lpack-aarch64-sysroot"))
PYTHON = SYSROOT / "usr" / "bin" / "python3.11"
QEMU = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
needs_qemu = pytest.mark.skipif(
    host_machine() != "x86_64" or QEMU is None or not PYTHON.is_file(),
    reason="needs an x86_64 machine, qemu-aarch64 and fixtures/make_aarch64_sysroot.sh's interpreter",
)


@needs_qemu
def test_an_arm64_zip_runs_under_qemu_with_an_aarch64_interpreter(
    project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("hello")  # arm64, with lp_native's aarch64 extension
    built = lpack("build", root, "--runtime", "python3.11", "--json")
    assert built.exit_code == 0, built.output
    zip_path = json.loads(built.stdout)["artifacts"][0]["path"]
    event = tmp_path / "event.json"
    event.write_text('{"n": 1}')
    monkeypatch.setenv("QEMU_LD_PREFIX", str(SYSROOT))
    result = lpack("verify", zip_path, "--handler", "app.handler", "--python", PYTHON, "--event", event, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["status"], data["interpreter"]) == ("verified", str(PYTHON))
    assert data["result"]["event"] == {"n": 1}
    assert data["warnings"] == []  # nothing left unchecked


@needs_qemu
def test_an_interpreter_of_the_wrong_version_under_qemu_is_refused(
    project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("hello")  # python3.12: the aarch64 interpreter here is 3.11
    zip_path = json.loads(lpack("build", root, "--json").stdout)["artifacts"][0]["path"]
    monkeypatch.setenv("QEMU_LD_PREFIX", str(SYSROOT))
    result = lpack("verify", zip_path, "--handler", "app.handler", "--python", PYTHON)
    assert result.exit_code == 4
    assert "is Python 3.11, not 3.12" in result.stderr
