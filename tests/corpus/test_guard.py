"""The top-level guard: whatever escapes a command is one line, a traceback file and exit 70; nothing leaks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lpack.cli import build as cli_build
from lpack.errors import EXIT_INTERNAL
from tests.corpus._harness import MARKER, PY_PROJECT, run_cli, write_project


def _boom(*_args: object, **_kwargs: object) -> object:
    raise ZeroDivisionError(f"division by zero at https://user:{MARKER}@example.invalid/simple")


def test_an_unexpected_exception_is_one_line_and_a_traceback_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_build, "load_config", _boom)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    root = write_project(tmp_path / "p", PY_PROJECT)
    run = run_cli(["build", str(root)])
    assert run.exit_code == EXIT_INTERNAL == 70
    assert "Traceback" not in run.stdout + run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].startswith("error: internal error: ZeroDivisionError: division by zero at https://user:****@")
    match = re.fullmatch(r"hint: full traceback in (\S+); please report it with that file", lines[1])
    assert match is not None, run.stderr
    saved = Path(match.group(1))
    assert saved.parent == tmp_path
    text = saved.read_text()
    assert "Traceback (most recent call last)" in text and "_boom" in text
    assert MARKER not in text + run.stderr


def test_an_unanticipated_file_error_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*_args: object, **_kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", "/some/file")

    monkeypatch.setattr(cli_build, "load_config", denied)
    run = run_cli(["build", str(write_project(tmp_path / "p", PY_PROJECT))])
    assert run.exit_code == 1
    assert run.stderr.splitlines() == [
        "error: cannot access /some/file: Permission denied",
        "hint: make /some/file readable (and its directory searchable) by this user, or exclude it",
    ]
