"""The distribution is lpack-lambda: `lpack` on the package index is someone else's project, so nothing we
write may tell anyone to install it."""

from __future__ import annotations

import re
from pathlib import Path

from lpack.config.load import read_toml

ROOT = Path(__file__).resolve().parents[2]
# `pip install lpack`, `pip install 'lpack[publish]'`, `pipx install lpack`: the bare name, alone or with extras.
_BARE = re.compile(r"(?:pip|pipx|uv tool|uv pip) install\b[^\n`]*?[\s'\"]lpack(?:\[[^\]]*\])?(?=['\"\s]|$)", re.M)


def test_the_distribution_is_lpack_lambda_and_the_command_lpack() -> None:
    project = read_toml(ROOT / "pyproject.toml")["project"]
    assert project["name"] == "lpack-lambda"
    assert project["scripts"] == {"lpack": "lpack.cli:main"}


def test_no_readme_template_or_workflow_installs_the_other_lpack() -> None:
    files = [ROOT / "README.md", *sorted((ROOT / "templates").rglob("*.yml")), *(ROOT / "templates").rglob("*.md")]
    found = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path in files for m in _BARE.finditer(path.read_text())]
    assert found == []
    workflows = sorted((ROOT / "templates").glob("*/.github/workflows/*.yml"))
    assert workflows and all("lpack-lambda" in w.read_text() for w in workflows)


def test_the_pattern_catches_the_old_lines() -> None:
    for line in ("pip install 'lpack[publish]'", "python -m pip install lpack pytest", "pipx install lpack"):
        assert _BARE.search(line), line
    assert not _BARE.search("python -m pip install lpack-lambda pytest")
