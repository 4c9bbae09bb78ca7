"""Dependencies found, nothing built for the host, keys over every input: issue 12 with real uv and pip."""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path

import pytest

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


# --- nothing built for the host ----------------------------------------------------------------


def _set(root: Path, **values: str) -> None:
    config = root / "lpack.toml"
    text = config.read_text()
    for name, value in values.items():
        key = name.replace("_", "-")
        text = re.sub(rf"(?m)^{key} = .*\n", "", text) + f"{key} = {value}\n"
    config.write_text(text)


def test_an_unpinned_requirement_gets_the_newest_version_with_a_wheel_and_says_so(project: MakeProject) -> None:
    # lp-data 2.0 has an sdist and manylinux_2_28 wheels only: uv used to compile it for this machine.
    report = build_json(project("data-project"))
    artifact = report["artifacts"][0]
    listed = names(Path(artifact["path"]))
    assert "lp_data-1.0.dist-info/METADATA" in listed and "lp_data-2.0.dist-info/METADATA" not in listed
    assert any("lp-data: locked 1.0" in n and "2.0 is newer" in n for n in artifact["notes"])


def test_pip_too_resolves_an_unpinned_requirement_to_a_version_with_a_wheel(project: MakeProject) -> None:
    root = project("data-project")
    _set(root, installer='"pip"')
    listed = names(Path(build_json(root)["artifacts"][0]["path"]))
    assert "lp_data-1.0.dist-info/METADATA" in listed


def test_a_pinned_requirement_without_a_wheel_is_refused_at_once_naming_what_would_work(
    project: MakeProject,
) -> None:
    root = project("data-project")
    (root / "requirements.in").write_text("lp-data==2.0\n")
    started = time.monotonic()
    result = lpack("build", root)
    assert result.exit_code == 1
    assert time.monotonic() - started < 20
    stderr = " ".join(result.stderr.split())  # the console wraps long lines
    assert "no wheel of 'lp-data' fits python3.11/x86_64" in stderr
    assert "lp-data 2.0 offers wheels for manylinux_2_28_aarch64, manylinux_2_28_x86_64" in stderr
    assert 'use runtime = "python3.12"' in stderr and "pin version 1.0" in stderr
    assert "built" not in stderr  # refused from the index listing, not after compiling the sdist
    assert not (root / "dist").exists()


def test_an_sdist_with_a_c_extension_is_not_built_for_this_machine(project: MakeProject) -> None:
    # python3.11/x86_64: on an x86_64 machine whose Python is 3.11, uv accepted the host-built wheel.
    root = project("sdist-native")
    _set(root, runtime='"python3.11"', architecture='"x86_64"')
    result = lpack("build", root)
    assert result.exit_code == 1, result.output
    assert "lp-sdist-native" in result.stderr and "this machine" in result.stderr
    assert not (root / "dist").exists()


def test_build_from_source_lets_that_one_package_be_built(project: MakeProject) -> None:
    root = project("sdist-native")
    _set(root, runtime='"python3.11"', architecture='"x86_64"', build_from_source='["lp-sdist-native"]')
    result = lpack("build", root, "--json", "-v")
    if result.exit_code == 0:  # this machine's Python is 3.11: uv's build fits the target's tags
        notes = json.loads(result.stdout)["artifacts"][0]["notes"]
        assert any("lp-sdist-native: built on this machine" in n for n in notes)
    else:  # another Python here: uv built it and found the wheel does not fit; lpack let it try
        assert "native code" in result.stderr and "build-from-source" not in result.stderr


# --- keys cover every input ----------------------------------------------------------------


def _read(zip_path: Path, name: str) -> str:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read(name).decode()


@pytest.mark.parametrize("cache", [(), ("--no-cache",)], ids=["cache", "no-cache"])
def test_an_edited_local_package_is_rebuilt_not_served_from_a_cache(project: MakeProject, cache: tuple[str]) -> None:
    root = project("local-path-dep")
    first = Path(build_json(root, *cache)["artifacts"][0]["path"])
    assert _read(first, "localpkg/__init__.py") == 'VALUE = "first"\n'
    (root / "localpkg" / "localpkg" / "__init__.py").write_text('VALUE = "second"\n')
    second = build_json(root, *cache)["artifacts"][0]
    assert _read(Path(second["path"]), "localpkg/__init__.py") == 'VALUE = "second"\n'
    assert not any("no input changed" in n for n in second["notes"])


@pytest.mark.parametrize("cache", [(), ("--no-cache",)], ids=["cache", "no-cache"])
def test_an_edited_file_included_with_r_changes_the_artifact(project: MakeProject, cache: tuple[str]) -> None:
    root = project("local-path-dep")
    build_json(root, *cache)
    (root / "requirements-base.txt").write_text("lp-pure-b==2.0\n-r requirements-more.txt\n")
    (root / "requirements-more.txt").write_text("lp-keeps-tests==1.0\n")  # two levels down
    listed = names(Path(build_json(root, *cache)["artifacts"][0]["path"]))
    assert "lp_keeps_tests/__init__.py" in listed


def test_a_requirements_in_with_a_local_path_locks_installs_and_follows_edits(project: MakeProject) -> None:
    root = project("local-path-dep")
    (root / "requirements.txt").unlink()
    (root / "requirements.in").write_text("-r requirements-base.txt\n./localpkg\n")
    _set(root, requirements='"requirements.in"')
    first = Path(build_json(root)["artifacts"][0]["path"])
    assert _read(first, "localpkg/__init__.py") == 'VALUE = "first"\n'
    (root / "localpkg" / "localpkg" / "__init__.py").write_text('VALUE = "second"\n')
    assert _read(Path(build_json(root)["artifacts"][0]["path"]), "localpkg/__init__.py") == 'VALUE = "second"\n'
