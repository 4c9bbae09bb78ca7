"""Pruning through the pipeline: what goes, what stays, and the report that says why."""

from __future__ import annotations

from lpack import build, load_config
from lpack.cache import Cache
from tests.conftest import MakeProject
from tests.functional.fake_uv import FakeUv
from tests.functional.zips import files


def test_prune_removes_what_never_runs_and_reports_each_rule(
    project: MakeProject, fake_uv: FakeUv, cache: Cache
) -> None:
    root = project("with-tests-dir")  # [prune] remove = ["lib/*.txt"], keep = ["lp_pure_a/examples/"]
    [fn] = build(load_config(root), runner=fake_uv, cache=cache).functions
    shipped = files(fn.artifact.path)
    rules = {r.rule: r for r in fn.pruned.rules}
    gone = {
        "package test suites": ["lp_pure_a/tests/test_core.py"],
        "docs and examples": ["lp_pure_a/docs/guide.rst"],
        "type stubs": ["lp_pure_a/__init__.pyi"],
        "C/Cython sources and headers": ["lp_pure_a/_speedups.c", "lp_pure_a/_speedups.h"],
        "install records": ["lp_pure_a-1.0.dist-info/RECORD"],
        "user remove patterns": ["lib/notes.txt"],
    }
    for rule, paths in gone.items():
        assert rules[rule].files >= len(paths), rule
        assert not [p for p in paths if p in shipped], rule
    assert fn.pruned.files == sum(r.files for r in fn.pruned.rules)
    assert rules["user remove patterns"].bytes == (root / "lib" / "notes.txt").stat().st_size
    assert rules["C/Cython sources and headers"].files == 2


def test_prune_never_breaks_an_import_nor_metadata(project: MakeProject, fake_uv: FakeUv, cache: Cache) -> None:
    root = project("with-tests-dir")
    [fn] = build(load_config(root), runner=fake_uv, cache=cache).functions
    shipped = files(fn.artifact.path)
    # lp_keeps_tests imports its own `tests` package at run time: that directory is code, not a test suite.
    assert "lp_keeps_tests/tests/helpers.py" in shipped
    # importlib.metadata reads METADATA and entry points at run time.
    assert "lp_pure_a-1.0.dist-info/METADATA" in shipped
    assert "lp_pure_a-1.0.dist-info/entry_points.txt" in shipped
    # The user's keep pattern wins over the docs-and-examples rule.
    assert "lp_pure_a/examples/demo.py" in shipped
    assert fn.pruned.kept_by_user == 1


def test_profile_none_keeps_the_dependencies_as_installed(project: MakeProject, fake_uv: FakeUv, cache: Cache) -> None:
    root = project("with-tests-dir")
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace("[prune]\n", '[prune]\nprofile = "none"\n'))
    [fn] = build(load_config(root), runner=fake_uv, cache=cache).functions
    shipped = files(fn.artifact.path)
    assert "lp_pure_a/tests/test_core.py" in shipped and "lp_pure_a/_speedups.c" in shipped
    assert {r.rule for r in fn.pruned.rules if r.files} <= {"user remove patterns", "bytecode caches"}
    assert "lib/notes.txt" not in shipped  # the user's own patterns still apply
