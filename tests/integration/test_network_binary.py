"""Nothing built for the host, against the real package index (pytest --run-network)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration._helpers import build_json, lpack

pytestmark = pytest.mark.network


def _project(root: Path, runtime: str, requirements: str) -> Path:
    root.mkdir()
    config = f'runtime = "{runtime}"\nhandler = "app.handler"\nrequirements = "requirements.in"\n'
    (root / "lpack.toml").write_text(config)
    (root / "requirements.in").write_text(requirements)
    (root / "app.py").write_text("def handler(event, context):\n    return 1\n")
    return root


def test_numpy_pinned_without_a_wheel_for_al2_is_refused_in_seconds_not_compiled(tmp_path: Path) -> None:
    # numpy 2.3.0 has manylinux_2_28 wheels only: uv used to compile it here for python3.11.
    root = _project(tmp_path / "fn", "python3.11", "numpy==2.3.0\n")
    started = time.monotonic()
    result = lpack("build", root)
    assert result.exit_code == 1
    assert time.monotonic() - started < 60
    stderr = " ".join(result.stderr.split())
    assert "no wheel of 'numpy' fits python3.11/x86_64" in stderr and "manylinux_2_28_x86_64" in stderr
    assert 'use runtime = "python3.12"' in stderr


def test_numpy_unpinned_for_python39_resolves_to_a_version_with_a_wheel(tmp_path: Path) -> None:
    report = build_json(_project(tmp_path / "fn", "python3.9", "numpy\n"))
    notes = report["artifacts"][0]["notes"]
    assert any(n.startswith("numpy: locked 2.0.") and "is newer" in n for n in notes)
