"""The bad-input corpus (issue 13): each case one broken or hostile input, run through the real CLI entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus._harness import MARKER, PY_PROJECT, Case, run_case, write_project

BUILD = ("build", "{project}", "--out", "{out}", "--report", "{report}")


def _project(files: dict[str, str | bytes]):  # type: ignore[no-untyped-def]
    return lambda tmp: write_project(tmp / "project", {**PY_PROJECT, **files})


CASES = [
    Case(
        name="config/non-utf8-lpack-toml",
        setup=_project({"lpack.toml": b'runtime = "python3.12"\nhandler = "app.handler"\n# caf\xe9\n'}),
        argv=BUILD,
        exit_code=2,
        error="lpack.toml: not UTF-8",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, tmp_path, monkeypatch)
    assert MARKER
