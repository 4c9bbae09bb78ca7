"""`lpack init` templates, and the size guard run by the real pre-commit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lpack.tools.init import available
from tests.integration._helpers import build_json, lpack
from tests.integration._oci import make_base

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    # `lpack` and `pre-commit` from this interpreter's environment, pre-commit's cache in tmp.
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "PRE_COMMIT_HOME": str(tmp_path / "pc"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }


@pytest.mark.parametrize("template", available())
def test_every_template_builds_and_passes_its_own_test(
    template: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = tmp_path / "orders-api"
    result = lpack("init", "--template", template, root)
    assert result.exit_code == 0, result.output
    assert (root / ".pre-commit-config.yaml").is_file() and (root / ".github" / "workflows" / "lambda.yml").is_file()
    node = (root / "package.json").is_file()
    own_test = ["npm", "test", "--silent"] if node else [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if template == "node-ts":  # bundled with esbuild; its test needs its dev tools (test_typescript_template_*)
        request.getfixturevalue("with_esbuild")
    else:
        tests = subprocess.run(own_test, cwd=root, capture_output=True, text=True, check=False)
        assert tests.returncode == 0, tests.stdout + tests.stderr
    if template == "image":  # the default base is on public.ecr.aws: build on a synthetic one here
        config = root / "pyproject.toml"
        base = make_base(tmp_path / "base")
        config.write_text(config.read_text().replace('format = "image"', f'format = "image"\nbase = "oci:{base}:base"'))
    [artifact] = build_json(root)["artifacts"]
    if template == "image":
        assert artifact["kind"] == "image" and artifact["image"]["digest"].startswith("sha256:")
    elif template == "layer":
        assert (artifact["kind"], artifact["name"]) == ("layer", "shared-code")
        assert (root / "dist" / "shared-code-layer.zip").is_file()
    else:
        assert artifact["name"] == "orders-api"  # named after the directory


@pytest.mark.network
def test_typescript_template_type_checks_tests_and_runs_bundled(tmp_path: Path, with_esbuild: Path) -> None:
    root = tmp_path / "orders-api"
    assert lpack("init", "--template", "node-ts", root).exit_code == 0
    for step in (["npm", "ci", "--silent"], ["npm", "run", "typecheck", "--silent"], ["npm", "test", "--silent"]):
        done = subprocess.run(step, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    [artifact] = build_json(root)["artifacts"]
    assert artifact["bundle"]["output"] == "src/index.mjs" and artifact["files"] == 1


def test_init_never_overwrites(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    root.mkdir()
    (root / "app.py").write_text("mine\n")
    result = lpack("init", root)
    assert result.exit_code == 2 and "not empty (app.py)" in result.stderr
    assert (root / "app.py").read_text() == "mine\n" and not (root / "pyproject.toml").exists()


def test_unknown_template_lists_the_choices(tmp_path: Path) -> None:
    result = lpack("init", "--template", "cobol", tmp_path / "x")
    assert result.exit_code == 2 and "python" in result.stderr


def _git_project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    assert lpack("init", root).exit_code == 0
    env = _env(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    return root


def _pre_commit(root: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=root,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )


def test_pre_commit_hook_passes_under_budget_and_fails_over(tmp_path: Path) -> None:
    root = _git_project(tmp_path)
    ok = _pre_commit(root, tmp_path, "run", "--all-files")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "lpack check" in ok.stdout and "Passed" in ok.stdout
    config = root / "pyproject.toml"
    config.write_text(config.read_text().replace('max-zipped = "10MB"', 'max-zipped = "100B"'))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=_env(tmp_path))
    over = _pre_commit(root, tmp_path, "run", "--all-files")
    assert over.returncode == 1
    assert "Failed" in over.stdout and "budget max-zipped" in over.stdout


def test_pre_commit_hook_skips_when_nothing_relevant_changed(tmp_path: Path) -> None:
    root = _git_project(tmp_path)
    (root / "NOTES.txt").write_text("nothing lpack packs\n")
    subprocess.run(["git", "add", "NOTES.txt"], cwd=root, check=True, env=_env(tmp_path))
    run = _pre_commit(root, tmp_path, "run", "--files", "NOTES.txt")
    assert run.returncode == 0 and "(no files to check)Skipped" in run.stdout


@pytest.mark.network
def test_repository_hook_definition_works_with_try_repo(tmp_path: Path) -> None:
    # The repository's own .pre-commit-hooks.yaml: pre-commit installs lpack from this checkout.
    root = _git_project(tmp_path)
    run = _pre_commit(root, tmp_path, "try-repo", str(ROOT), "lpack-check", "--all-files")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Passed" in run.stdout
