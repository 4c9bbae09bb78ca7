"""A Node.js project without package-lock.json: locked by npm for the build (with a warning), or by `lpack lock`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack, names

pytestmark = pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None, reason="needs node+npm")


def test_build_without_a_lock_locks_ranges_warns_and_keeps_the_lock_in_the_cache(project: MakeProject) -> None:
    root = project("node-no-lock")
    result = lpack("build", root)
    assert result.exit_code == 0, result.output
    assert "versions are not pinned" in " ".join(result.output.split())
    listed = set(names(root / "dist" / "node-no-lock.zip"))
    assert "node_modules/lp-node-dep/index.js" in listed
    assert not any(n.startswith("node_modules/lp-dev-tool") for n in listed)  # dev dependencies stay out
    assert not (root / "package-lock.json").exists()  # the build never writes into the project
    (root / "index.mjs").write_text((root / "index.mjs").read_text() + "// changed\n")  # no reused result
    again = build_json(root)
    assert any("not pinned" in w for w in again["warnings"])  # every time, not only the first
    locks = Path(os.environ["LPACK_CACHE_DIR"]) / "locks"
    assert len([e for e in locks.iterdir() if (e / "package-lock.json").is_file()]) == 1  # reused, not made again


def test_locked_refuses_a_project_without_package_lock(project: MakeProject) -> None:
    result = lpack("build", project("node-no-lock"), "--locked")
    assert result.exit_code == 2
    assert "package-lock.json not found" in result.output and "lpack lock" in result.output


def test_lpack_lock_writes_package_lock_and_then_the_build_is_pinned(project: MakeProject) -> None:
    root = project("node-no-lock")
    result = lpack("lock", root, "--json")
    assert result.exit_code == 0, result.output
    [written] = json.loads(result.stdout)["locks"]
    assert Path(written["path"]) == root / "package-lock.json" and written["changed"] is True
    lock = json.loads((root / "package-lock.json").read_text())
    assert "node_modules/lp-node-dep" in lock["packages"]
    # relative file: dependencies stay relative: the committed lock names no path of this machine
    assert str(root) not in (root / "package-lock.json").read_text()
    built = lpack("build", root, "--locked")
    assert built.exit_code == 0, built.output
    assert "not pinned" not in built.output
    again = json.loads(lpack("lock", root, "--json").stdout)
    assert again["locks"][0]["changed"] is False
