"""Real packages from the package index (pytest --run-network; CI sets LPACK_RUN_NETWORK=1)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.integration._helpers import EM_AARCH64, EM_X86_64, build_json, elf_machines

pytestmark = pytest.mark.network


def _project(root: Path, config: str, requirements: str) -> Path:
    root.mkdir()
    (root / "lpack.toml").write_text(config)
    (root / "requirements.in").write_text(requirements)
    (root / "app.py").write_text("import pydantic\n\n\ndef handler(event, context):\n    return pydantic.VERSION\n")
    return root


def test_pydantic_for_python312_arm64_carries_only_aarch64_extensions(tmp_path: Path) -> None:
    config = (
        'runtime = "python3.12"\narchitecture = "arm64"\nhandler = "app.handler"\nrequirements = "requirements.in"\n'
    )
    root = _project(tmp_path / "fn", config, "pydantic>=2\n")
    report = build_json(root)
    machines = elf_machines(Path(report["artifacts"][0]["path"]))
    assert any(name.startswith("pydantic_core/") for name in machines)
    assert set(machines.values()) == {EM_AARCH64}


def test_python311_x86_64_gets_wheels_that_al2_glibc_can_load(tmp_path: Path) -> None:
    config = 'runtime = "python3.11"\nhandler = "app.handler"\nrequirements = "requirements.in"\n'
    root = _project(tmp_path / "fn", config, "pydantic>=2\n")
    report = build_json(root)
    zip_path = Path(report["artifacts"][0]["path"])
    assert set(elf_machines(zip_path).values()) == {EM_X86_64}
    with zipfile.ZipFile(zip_path) as zf:
        wheel_tags = [
            zf.read(n).decode() for n in zf.namelist() if n.startswith("pydantic_core-") and n.endswith("/WHEEL")
        ]
    platforms = {line.split("-")[-1] for line in wheel_tags[0].splitlines() if line.startswith("Tag:")}
    levels = {(int(m.group(1)), int(m.group(2))) for p in platforms if (m := re.match(r"manylinux_(\d+)_(\d+)_", p))}
    # The installed wheel's glibc floor must be one Amazon Linux 2 (glibc 2.26) has.
    assert levels and min(levels) <= (2, 26), platforms
