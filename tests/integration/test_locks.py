"""Other tools' lock files (uv.lock, poetry.lock, pylock.toml) installed with their hashes for the target."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from lpack import runtimes
from lpack.config.load import load_config
from lpack.resolve._inputs import has_hashes
from lpack.resolve.locks import export
from lpack.resolve.runner import run_subprocess
from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack, names

LOCK_PROJECTS = ["uv-lock", "poetry-lock", "pylock"]


def _dists(zip_path: Path) -> set[str]:
    return {n.split("-")[0] for n in names(zip_path) if n.endswith(".dist-info/METADATA")}


@pytest.mark.parametrize("name", LOCK_PROJECTS)
def test_each_lock_format_installs_its_pins_for_the_target_not_the_host(project: MakeProject, name: str) -> None:
    root = project(name)
    [artifact] = build_json(root)["artifacts"]
    found = _dists(Path(artifact["path"]))
    # jmespath is wanted below Python 3.12 only: the host may be older, the target is python3.12.
    assert "jmespath" not in found
    assert {"lp_native", "lp_pure_a", "lp_pure_b"} <= found
    # the extra "dates" is chosen in the config where the format has extras (pylock: uv exported none)
    assert ("python_dateutil" in found) == (name != "pylock")
    assert "lp_keeps_tests" not in found  # the dev group never


@pytest.mark.parametrize("name", LOCK_PROJECTS)
def test_export_keeps_the_locks_hashes_and_evaluates_markers_for_the_target(project: MakeProject, name: str) -> None:
    root = project(name)
    [fn] = load_config(root).functions
    assert fn.requirements is not None
    lines, direct = export(fn.requirements, fn, run_subprocess)
    text = "\n".join(lines)
    # both lp-native wheels' hashes: the lock's, whichever wheel the installer picks
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", text.split("lp-pure-a")[0])) == 2
    assert "jmespath" not in text and ";" not in text  # markers evaluated here, none left for the installer
    assert {"lp-native", "lp-pure-a"} <= direct


def test_uv_workspace_member_gets_its_own_dependencies(project: MakeProject) -> None:
    root = project("uv-workspace")
    report = build_json(root)
    by_name = {Path(a["path"]).stem: _dists(Path(a["path"])) for a in report["artifacts"]}
    assert by_name["api"] == {"lp_pure_a", "lp_pure_b"}
    assert by_name["worker"] == {"lp_native"}  # not lp_keeps_tests: the member's dev group
    assert "worker.py" in names(root / "dist" / "worker.zip")


def test_a_dev_group_is_refused_naming_the_key(project: MakeProject) -> None:
    root = project("uv-lock")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('extras = ["dates"]', 'extras = ["dates"]\ngroups = ["dev"]'))
    result = lpack("build", root)
    assert result.exit_code == 2
    assert "groups: dev is a development group" in result.output


def test_a_chosen_group_comes_with_its_packages(project: MakeProject) -> None:
    root = project("uv-lock")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('extras = ["dates"]', 'groups = ["aws"]'))
    [artifact] = build_json(root)["artifacts"]
    found = _dists(Path(artifact["path"]))
    assert {"boto3", "botocore", "s3transfer", "jmespath"} <= found  # jmespath now via botocore


@pytest.mark.parametrize(
    ("name", "lock", "fix"),
    [
        ("uv-lock", "uv.lock", "required-environments"),
        ("poetry-lock", "poetry.lock", "poetry lock"),
        ("pylock", "pylock.toml", "required-environments"),
    ],
)
def test_a_lock_without_a_wheel_for_the_target_fails_naming_package_and_fix(
    project: MakeProject, name: str, lock: str, fix: str
) -> None:
    root = project(name)
    path = root / lock
    # As if locked where only x86_64 wheels were resolved: the aarch64 wheel's entry is gone.
    path.write_text("\n".join(ln for ln in path.read_text().splitlines() if "aarch64" not in ln) + "\n")
    result = lpack("build", root)
    assert result.exit_code == 1, result.output
    assert "lp-native" in result.output or "lp_native" in result.output
    assert "arm64" in result.output and fix in " ".join(result.output.split())
    assert not (root / "dist").exists() or not list((root / "dist").glob("*.zip"))


@pytest.mark.parametrize(("runtime", "jmespath"), [("python3.12", False), ("python3.11", True)])
def test_poetry_1_lock_is_walked_from_the_pyproject_for_the_target(
    project: MakeProject, runtime: str, jmespath: bool
) -> None:
    root = project("poetry-lock")
    lock = root / "poetry.lock"
    # Poetry 1.x's lock-version 2.0: no groups, no markers on packages; `python = "<3.12"` is in the pyproject.
    old = [ln for ln in lock.read_text().splitlines() if not ln.startswith(("groups = ", "markers = "))]
    lock.write_text("\n".join(old).replace('lock-version = "2.1"', 'lock-version = "2.0"') + "\n")
    [fn] = load_config(root).functions
    fn = dataclasses.replace(fn, runtime=runtimes.get_runtime(runtime))
    lines, direct = export(lock, fn, run_subprocess)
    pinned = {ln.split("==")[0] for ln in lines if "==" in ln}
    assert pinned == {"lp-native", "lp-pure-a", "lp-pure-b", "python-dateutil", "six"} | (
        {"jmespath"} if jmespath else set()
    )
    assert "lp-keeps-tests" not in pinned and "python-dateutil" in direct


def test_installed_lock_is_hash_checked(project: MakeProject, tmp_path: Path) -> None:
    root = project("uv-lock")
    [fn] = load_config(root).functions
    assert fn.requirements is not None
    lines, _ = export(fn.requirements, fn, run_subprocess)
    out = tmp_path / "req.txt"
    out.write_text("\n".join(lines) + "\n")
    assert has_hashes(out)  # so the install runs with --require-hashes
    lock = root / "uv.lock"
    lock.write_text(lock.read_text().replace("sha256:8382fc", "sha256:0000fc"))  # lp-pure-a's wheel
    result = lpack("build", root, "--no-cache")
    assert result.exit_code == 1
    assert "does not match the hashes" in " ".join(result.output.split())


def test_a_uv_lock_older_than_its_pyproject_is_refused(project: MakeProject) -> None:
    root = project("uv-lock")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "lp-pure-a",\n', '    "lp-pure-a",\n    "six",\n'))
    result = lpack("build", root)
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "uv.lock does not match pyproject.toml: its dependencies changed" in said and "run `uv lock`" in said


def test_a_members_pyproject_edited_after_uv_lock_is_caught_on_a_rebuild(project: MakeProject) -> None:
    root = project("uv-workspace")
    assert lpack("build", root, "--function", "api").exit_code == 0
    member = root / "functions" / "api" / "pyproject.toml"
    member.write_text(member.read_text().replace('["lp-pure-a"]', '["lp-pure-a", "six"]'))
    result = lpack("build", root, "--function", "api")  # not the previous result: an input changed
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "uv.lock does not match functions/api/pyproject.toml" in said


def test_an_index_mirror_in_the_environment_does_not_make_uv_lock_look_stale(
    project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("uv-lock")
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.invalid/simple")  # as CI often sets; unreachable here
    monkeypatch.setenv("UV_FIND_LINKS", str(root))
    result = lpack("build", root)
    assert result.exit_code == 0, result.output


def test_a_project_for_a_newer_python_than_this_machine_has_builds(project: MakeProject) -> None:
    # requires-python >= 3.12: `uv lock --check` would need such an interpreter here; lpack's check does not.
    root = project("uv-lock")
    for name in ("pyproject.toml", "uv.lock"):
        path = root / name
        path.write_text(path.read_text().replace('requires-python = ">=3.9"', 'requires-python = ">=3.12"'))
    result = lpack("build", root)
    assert result.exit_code == 0, result.output
