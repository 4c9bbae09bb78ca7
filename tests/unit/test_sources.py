from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lpack.archive.writer import OUTPUT_TAG
from lpack.cli.report import build_report
from lpack.errors import AuditError
from lpack.pipeline.results import BuildResult
from lpack.sources import SourceSelection, collect, is_lpack_report, outputs_note

PROJECT = {
    "app.py": "def handler(e, c): ...\n",
    "lib/__init__.py": "",
    "lib/util.py": "",
    "lib/tests/test_util.py": "",  # a package's own tests/ below the top is code, not the project's suite
    "lib/templates/page.html": "<p/>",
    "README.md": "# svc\n",
    # noise: dropped silently
    "__pycache__/app.cpython-312.pyc": "",
    "lib/__pycache__/util.cpython-312.pyc": "",
    "lib/util.pyc": "",
    ".pytest_cache/v/cache": "",
    ".DS_Store": "",
    "lpack.toml": "",
    "pyproject.toml": "",
    "requirements.txt": "",
    "requirements-dev.in": "",
    ".gitignore": "",
    # sensitive: dropped and named
    ".git/config": "",
    ".venv/lib/site.py": "",
    ".env": "SECRET=1\n",
    ".env.production": "SECRET=2\n",
    "config/.env": "SECRET=3\n",
    "certs/server.pem": "",
    "id_rsa": "",
    "tests/test_app.py": "",
    "test/test_more.py": "",
}
CODE = {"app.py", "lib/__init__.py", "lib/util.py", "lib/tests/test_util.py", "lib/templates/page.html", "README.md"}
SENSITIVE = {
    ".git/",
    ".venv/",
    ".env",
    ".env.production",
    "config/.env",
    "certs/server.pem",
    "id_rsa",
    "tests/",
    "test/",
}


def _project(root: Path, files: dict[str, str] = PROJECT) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _collect(
    root: Path, *, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), out_dir: Path | None = None
) -> SourceSelection:
    return collect(root, include=include, exclude=exclude, out_dir=out_dir or root.parent / "out")


def _paths(selection: SourceSelection) -> set[str]:
    return set(selection.tree.paths())


def test_default_selection_packs_code_and_drops_noise_and_secrets(tmp_path: Path) -> None:
    selection = _collect(_project(tmp_path / "p"))
    assert _paths(selection) == CODE
    assert set(selection.skipped_sensitive) == SENSITIVE
    assert all(e.origin == "code" for e in selection.tree)


def test_entries_point_at_the_files_on_disk(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    by_path = {e.path: e for e in _collect(root).tree}
    assert by_path["app.py"].source == (root / "app.py").resolve()
    assert by_path["app.py"].size == len(PROJECT["app.py"])
    assert by_path["app.py"].executable is False
    assert by_path["run.sh"].executable is True


def test_include_lists_files_and_can_bring_back_a_sensitive_one(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    selection = _collect(root, include=("/app.py", "lib/*.py", "/.env"))
    assert _paths(selection) == {"app.py", "lib/__init__.py", "lib/util.py", ".env"}
    assert ".env" not in selection.skipped_sensitive
    assert "config/.env" in selection.skipped_sensitive


def test_include_can_bring_back_a_sensitive_directory(tmp_path: Path) -> None:
    selection = _collect(_project(tmp_path / "p"), include=("/app.py", "/tests/"))
    assert _paths(selection) == {"app.py", "tests/test_app.py"}
    assert "tests/" not in selection.skipped_sensitive


def test_exclude_patterns_are_gitignore_style(tmp_path: Path) -> None:
    selection = _collect(_project(tmp_path / "p"), exclude=("*.md", "lib/templates/", "/lib/tests"))
    assert _paths(selection) == {"app.py", "lib/__init__.py", "lib/util.py"}


def test_exclude_wins_over_include(tmp_path: Path) -> None:
    selection = _collect(_project(tmp_path / "p"), include=("*.py",), exclude=("lib/",))
    assert _paths(selection) == {"app.py"}


def test_negated_exclude_pattern_keeps_that_file(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": "", "docs/a.md": "", "docs/keep.md": ""})
    assert _paths(_collect(root, exclude=("docs/*", "!docs/keep.md"))) == {"app.py", "docs/keep.md"}


def test_lpackignore_adds_exclude_patterns_and_is_not_packed(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / ".lpackignore").write_text("# comments are fine\n*.md\n\nlib/templates/\n")
    selection = _collect(root, exclude=("lib/tests/",))
    assert _paths(selection) == {"app.py", "lib/__init__.py", "lib/util.py"}


def test_out_dir_inside_the_source_is_never_packed(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": "", "build/zips/old.zip": "PK", "build/keep.txt": ""})
    selection = _collect(root, out_dir=root / "build" / "zips")
    assert _paths(selection) == {"app.py", "build/keep.txt"}
    assert selection.skipped_sensitive == ()


def test_out_dir_named_dist_is_excluded_without_a_warning(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": "", "dist/fn.zip": "PK"})
    assert _collect(root, out_dir=root / "dist").skipped_sensitive == ()
    # Elsewhere, a dist/ directory is still build output: left out, and named.
    assert _collect(root, out_dir=tmp_path / "elsewhere").skipped_sensitive == ("dist/",)


def test_out_dir_prefix_does_not_exclude_a_sibling(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": "", "out/a.zip": "", "output.py": "", "outer/x.py": ""})
    assert _paths(_collect(root, out_dir=root / "out")) == {"app.py", "output.py", "outer/x.py"}


# --- symlinks -----------------------------------------------------------------------------------------------


def test_symlinks_inside_the_tree_are_followed(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": "x", "shared/util.py": "u"})
    (root / "util_link.py").symlink_to("shared/util.py")
    (root / "vendor").symlink_to("shared", target_is_directory=True)
    by_path = {e.path: e for e in _collect(root).tree}
    assert set(by_path) == {"app.py", "shared/util.py", "util_link.py", "vendor/util.py"}
    assert by_path["util_link.py"].source == (root / "shared" / "util.py").resolve()
    assert by_path["vendor/util.py"].size == 1


def test_symlink_to_a_file_outside_the_tree_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("s")
    root = _project(tmp_path / "p", {"app.py": ""})
    (root / "lib").mkdir()
    (root / "lib" / "link.txt").symlink_to(outside)
    with pytest.raises(AuditError, match=r"^lib/link\.txt: symlink points outside") as info:
        _collect(root)
    assert info.value.hint is not None


def test_symlink_to_a_directory_outside_the_tree_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    root = _project(tmp_path / "p", {"app.py": ""})
    (root / "data").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(AuditError, match="data: symlink points outside"):
        _collect(root)


def test_dangling_symlink_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": ""})
    (root / "gone.py").symlink_to(root / "missing.py")
    with pytest.raises(AuditError, match=r"gone\.py"):
        _collect(root)


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": "", "pkg/mod.py": ""})
    (root / "pkg" / "again").symlink_to(os.curdir, target_is_directory=True)
    with pytest.raises(AuditError, match="symlink loop"):
        _collect(root)


@pytest.mark.parametrize(("link", "exclude"), [("data", ("data/",)), (".venv", ()), ("node_modules", ())])
def test_symlink_outside_the_tree_that_is_left_out_anyway_is_fine(
    tmp_path: Path, link: str, exclude: tuple[str, ...]
) -> None:
    (tmp_path / "elsewhere").mkdir()
    root = _project(tmp_path / "p", {"app.py": ""})
    (root / link).symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert _paths(_collect(root, exclude=exclude)) == {"app.py"}


def test_build_output_is_left_out_and_named_once(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"app.py": "", "old-out/fn.zip": "", "cdk.out/x.json": "{}", "keep.json": "{}"})
    (root / "old-out" / OUTPUT_TAG).write_text("")
    (root / "report.json").write_text('{\n  "schema_version": 1,\n  "command": "build",\n  "artifacts": []\n}\n')
    selection = _collect(root)
    assert _paths(selection) == {"app.py", "keep.json"}
    assert outputs_note(selection) == (
        "not packed (build output): cdk.out/ (another tool's build output or cache), "
        "old-out/ (an lpack output directory), report.json (an lpack report)"
    )


def test_what_the_report_writer_writes_is_recognised_as_a_report(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps(build_report(BuildResult(functions=())), indent=2))
    assert is_lpack_report(report)
    report.write_text('{"schema_version": 1, "name": "not ours"}')
    assert not is_lpack_report(report)
