"""Reading lpack's JSON reports back (`lpack verify --report`, `lpack diff`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lpack.errors import ConfigError
from lpack.tools.reports import ReportedTarget, read_artifacts, reported_target


def _report(path: Path, artifacts: object) -> Path:
    path.write_text(json.dumps({"schema_version": 1, "command": "build", "artifacts": artifacts}))
    return path


def test_the_entry_of_the_same_file_name_gives_runtime_and_handler(tmp_path: Path) -> None:
    report = _report(
        tmp_path / "r.json",
        [
            {"name": "a", "path": "/x/dist/a.zip", "runtime": "python3.12", "handler": "a.handler"},
            {"name": "b", "path": "/x/dist/b.zip", "runtime": "python3.13", "handler": "b.handler"},
        ],
    )
    assert reported_target(report, Path("b.zip")) == ReportedTarget(runtime="python3.13", handler="b.handler")
    # No entry of that name: the first one, as a single-function build's report is meant.
    assert reported_target(report, Path("other.zip")).handler == "a.handler"


def test_a_check_report_without_paths_is_read(tmp_path: Path) -> None:
    report = _report(tmp_path / "r.json", [{"name": "a", "path": None, "runtime": "python3.12"}])
    assert reported_target(report, Path("a.zip")) == ReportedTarget(runtime="python3.12")


@pytest.mark.parametrize("content", ["not json", '{"artifacts": 3}', '{"nothing": []}', '{"artifacts": [1]}'])
def test_what_is_not_a_report_is_a_usage_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ValueError):
        read_artifacts(path)
    with pytest.raises(ConfigError, match="not an lpack build report"):
        reported_target(path, Path("a.zip"))
