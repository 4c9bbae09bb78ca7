"""Dependencies found, nothing built for the host, keys over every input: issue 12 with real uv and pip."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack, names


def _drop_requirements_key(root: Path) -> None:
    config = root / "pyproject.toml"
    config.write_text(re.sub(r"(?m)^requirements = .*\n", "", config.read_text()))


def test_a_requirements_txt_the_config_does_not_name_is_installed_and_named(project: MakeProject) -> None:
    root = project("hello")
    _drop_requirements_key(root)
    report = build_json(root)
    artifact = report["artifacts"][0]
    assert "lp_pure_a/__init__.py" in names(Path(artifact["path"]))
    assert any("dependencies from requirements.txt" in n for n in artifact["notes"])


def test_several_dependency_files_exit_2_naming_each(project: MakeProject) -> None:
    root = project("hello")
    _drop_requirements_key(root)
    (root / "requirements.in").write_text("lp-pure-b\n")
    (root / "requirements.txt").write_text((root / "requirements.txt").read_text().replace("requirements.in", "x"))
    result = lpack("build", root)
    assert result.exit_code == 2
    assert "requirements.txt" in result.stderr and "requirements.in" in result.stderr
    assert not (root / "dist").exists()


def test_a_dependency_file_that_is_not_used_is_a_warning(project: MakeProject) -> None:
    root = project("hello")
    (root / "requirements.in").write_text("lp-pure-b\n")  # not what requirements.txt was compiled from
    (root / "requirements.txt").write_text((root / "requirements.txt").read_text().replace("requirements.in", "x"))
    result = lpack("build", root, "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert any("requirements.in is not used" in w for w in warnings)
