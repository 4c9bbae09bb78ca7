from __future__ import annotations

from pathlib import Path

import pytest

from lpack.config.model import PruneConfig
from lpack.prune.python import file_imports
from lpack.prune.rules import PruneReport, prune
from lpack.staging.tree import Entry, Origin, StagingTree, scan

SAFE = PruneConfig()


def _tree(root: Path, files: dict[str, str], origin: Origin = "deps") -> StagingTree:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return scan(root, origin)


def _pruned(tmp_path: Path, files: dict[str, str], config: PruneConfig = SAFE) -> tuple[set[str], PruneReport]:
    tree, report = prune(_tree(tmp_path / "deps", files), config)
    return set(tree.paths()), report


def _by_rule(report: PruneReport) -> dict[str, tuple[int, int]]:
    return {r.rule: (r.files, r.bytes) for r in report.rules}


# --- the safe profile ---------------------------------------------------------------------------------------

KEPT = {
    "pkg/__init__.py": "",
    "pkg/core.py": "x = 1\n",
    "pkg/data/schema.json": "{}",
    "pkg-1.0.dist-info/METADATA": "Name: pkg\nVersion: 1.0\n",
    "pkg-1.0.dist-info/entry_points.txt": "[console_scripts]\n",
    "pkg-1.0.dist-info/top_level.txt": "pkg\n",
    "pkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\n",
    "pkg-1.0.dist-info/licenses/LICENSE": "MIT\n",
}


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("pkg/__pycache__/core.cpython-312.pyc", "bytecode caches"),
        ("pkg/old.pyc", "bytecode caches"),
        ("pkg/core.pyi", "type stubs"),
        ("pkg/py.typed.pyi", "type stubs"),
        ("pkg/docs/index.rst", "docs and examples"),
        ("pkg/doc/conf.py", "docs and examples"),
        ("pkg/examples/demo.py", "docs and examples"),
        ("pkg/sub/example/demo.py", "docs and examples"),
        ("pkg/_speedups.c", "C/Cython sources and headers"),
        ("pkg/include/pkg.h", "C/Cython sources and headers"),
        ("pkg/_fast.pyx", "C/Cython sources and headers"),
        ("pkg-1.0.dist-info/RECORD", "install records"),
        ("pkg-1.0.dist-info/INSTALLER", "install records"),
        ("pkg-1.0.dist-info/REQUESTED", "install records"),
        ("pkg/tests/test_core.py", "package test suites"),
        ("pkg/test/data.txt", "package test suites"),
    ],
)
def test_safe_profile_removes_and_counts_under_its_rule(tmp_path: Path, path: str, rule: str) -> None:
    kept, report = _pruned(tmp_path, {**KEPT, path: "12345"})
    assert path not in kept
    assert kept == set(KEPT)
    assert _by_rule(report) == {rule: (1, 5)}


def test_docs_directory_that_is_a_package_is_kept(tmp_path: Path) -> None:
    # botocore/waiter.py imports botocore.docs.docstring: pruning it breaks `import boto3`.
    files = {"botocore/docs/__init__.py": "", "botocore/docs/docstring.py": "x = 1\n", "botocore/docs/a/b.rst": ""}
    kept, report = _pruned(tmp_path, {**KEPT, **files})
    assert kept == set(KEPT) | set(files)
    assert "docs and examples" not in _by_rule(report)


def test_safe_profile_keeps_what_runs_and_what_importlib_metadata_reads(tmp_path: Path) -> None:
    kept, report = _pruned(tmp_path, KEPT)
    assert kept == set(KEPT)
    assert report.rules == ()
    assert report.files == report.bytes == 0


def test_top_level_docs_or_tests_distribution_is_not_a_docs_dir(tmp_path: Path) -> None:
    # A distribution may itself be called "docs" or "examples": only directories inside a package go.
    files = {"docs/__init__.py": "", "examples/__init__.py": "", "tests/__init__.py": ""}
    kept, _ = _pruned(tmp_path, files)
    assert kept == set(files)


def test_similar_names_are_not_docs_or_tests(tmp_path: Path) -> None:
    files = {
        "pkg/testing/__init__.py": "",
        "pkg/documents.py": "",
        "pkg/test_utils.py": "",
        "pkg/docstring.py": "",
        "pkg/header.py": "",
    }
    kept, _ = _pruned(tmp_path, files)
    assert kept == set(files)


def test_record_outside_a_dist_info_dir_is_kept(tmp_path: Path) -> None:
    files = {"pkg/RECORD": "", "pkg-1.0.dist-info/sub/RECORD": ""}
    kept, _ = _pruned(tmp_path, files)
    assert kept == set(files)


# --- package test suites ------------------------------------------------------------------------------------

TESTS = {
    "pkg/__init__.py": "",
    "pkg/tests/__init__.py": "",
    "pkg/tests/helpers.py": "def helper(): pass\n",
    "pkg/tests/test_core.py": "from pkg.tests import helpers\n",
}


def test_unimported_test_package_is_removed(tmp_path: Path) -> None:
    kept, report = _pruned(tmp_path, {**TESTS, "pkg/core.py": "import os\n# see tests/README\n"})
    assert kept == {"pkg/__init__.py", "pkg/core.py"}
    files, size = _by_rule(report)["package test suites"]
    assert files == 3
    assert size == sum(len(v) for k, v in TESTS.items() if "/tests/" in k)


def test_imports_of_replaces_reading_the_files(tmp_path: Path) -> None:
    # A build passes remembered answers for cached dependencies; they decide, not the files on disk.
    tree = _tree(tmp_path / "deps", {**TESTS, "pkg/core.py": "import os\n"})
    asked: list[str] = []

    def remembered(entry: Entry) -> frozenset[str]:
        asked.append(entry.path)
        return frozenset({"pkg.tests.helpers"}) if entry.path == "pkg/core.py" else file_imports(entry)

    kept, report = prune(tree, SAFE, imports_of=remembered)
    assert set(TESTS) <= set(kept.paths())
    assert "package test suites" not in _by_rule(report)
    assert "pkg/core.py" in asked
    assert file_imports(next(e for e in tree if e.path == "pkg/core.py")) == frozenset()


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("pkg/core.py", "from pkg.tests import helpers\n"),
        ("pkg/core.py", "from pkg.tests.helpers import helper\n"),
        ("pkg/core.py", "import pkg.tests.helpers\n"),
        ("pkg/core.py", "import pkg.tests\n"),
        ("pkg/__init__.py", "from .tests import helpers\n"),
        ("pkg/core.py", "from . import tests\n"),
        ("pkg/sub/mod.py", "from ..tests import helpers\n"),
        ("pkg/sub/mod.py", "def f():\n    from ..tests.helpers import helper\n    return helper\n"),
        ("other/mod.py", "from pkg.tests import helpers\n"),
    ],
)
def test_test_package_imported_from_outside_stays(tmp_path: Path, module: str, source: str) -> None:
    kept, report = _pruned(tmp_path, {**TESTS, module: source})
    assert set(TESTS) | {module} <= kept
    assert "package test suites" not in _by_rule(report)


def test_relative_import_resolving_elsewhere_does_not_keep_tests(tmp_path: Path) -> None:
    # `from .tests import x` in pkg/sub/ means pkg.sub.tests, not pkg.tests.
    kept, _ = _pruned(tmp_path, {**TESTS, "pkg/sub/__init__.py": "from .tests import helpers\n"})
    assert not any(p.startswith("pkg/tests/") for p in kept)


def test_imports_inside_the_test_package_do_not_keep_it(tmp_path: Path) -> None:
    # test_core.py imports pkg.tests itself; that must not count as a use from outside.
    kept, _ = _pruned(tmp_path, TESTS)
    assert kept == {"pkg/__init__.py"}


def test_only_the_imported_test_package_stays(tmp_path: Path) -> None:
    files = {
        **TESTS,
        "pkg/core.py": "from pkg.tests import helpers\n",
        "other/__init__.py": "",
        "other/tests/test_other.py": "",
    }
    kept, _ = _pruned(tmp_path, files)
    assert "pkg/tests/helpers.py" in kept
    assert "other/tests/test_other.py" not in kept


def test_unparsable_module_does_not_break_pruning(tmp_path: Path) -> None:
    kept, _ = _pruned(tmp_path, {**TESTS, "pkg/py2.py": "print 'tests'\n"})
    assert "pkg/py2.py" in kept
    assert not any("/tests/" in p for p in kept)


def test_test_package_imported_by_the_function_code_stays(tmp_path: Path) -> None:
    deps = _tree(tmp_path / "deps", TESTS)
    code = _tree(tmp_path / "code", {"app.py": "from pkg.tests.helpers import helper\n"}, "code")
    tree, _ = prune(deps.merged(code), SAFE)
    assert "pkg/tests/helpers.py" in tree.paths()


# --- profile "none", user patterns --------------------------------------------------------------------------

NOISY = {
    "pkg/__init__.py": "",
    "pkg/__pycache__/__init__.cpython-312.pyc": "b",
    "pkg/mod.pyc": "b",
    "pkg/mod.pyi": "",
    "pkg/docs/a.rst": "",
    "pkg/tests/test_a.py": "",
    "pkg/ext.c": "",
    "pkg-1.0.dist-info/METADATA": "Name: pkg\n",
    "pkg-1.0.dist-info/RECORD": "",
}


def test_profile_none_removes_only_bytecode(tmp_path: Path) -> None:
    kept, report = _pruned(tmp_path, NOISY, PruneConfig(profile="none"))
    assert kept == set(NOISY) - {"pkg/__pycache__/__init__.cpython-312.pyc", "pkg/mod.pyc"}
    assert _by_rule(report) == {"bytecode caches": (2, 2)}


def test_user_remove_patterns(tmp_path: Path) -> None:
    files = {"pkg/__init__.py": "", "pkg/big.bin": "x" * 100, "pkg/sub/big.bin": "y" * 10, "pkg/notes.txt": "n"}
    kept, report = _pruned(tmp_path, files, PruneConfig(profile="none", remove=("*.bin",)))
    assert kept == {"pkg/__init__.py", "pkg/notes.txt"}
    assert _by_rule(report) == {"user remove patterns": (2, 110)}
    assert report.files == 2
    assert report.bytes == 110


def test_keep_wins_over_safe_rules_and_remove(tmp_path: Path) -> None:
    config = PruneConfig(remove=("pkg/ext.c", "*.pyi"), keep=("pkg/tests/", "*.pyi", "pkg/ext.c"))
    kept, report = _pruned(tmp_path, NOISY, config)
    assert {"pkg/tests/test_a.py", "pkg/mod.pyi", "pkg/ext.c"} <= kept
    assert "pkg/docs/a.rst" not in kept
    # Each saved path counts once even when two rules wanted it gone.
    assert report.kept_by_user == 3
    rules = _by_rule(report)
    assert "type stubs" not in rules
    assert "user remove patterns" not in rules


def test_report_counts_each_file_under_the_first_rule_only(tmp_path: Path) -> None:
    # A .pyi inside docs/ matches two safe rules, and a user pattern too: it counts once.
    files = {"pkg/__init__.py": "", "pkg/docs/api.pyi": "abc"}
    kept, report = _pruned(tmp_path, files, PruneConfig(remove=("*.pyi",)))
    assert kept == {"pkg/__init__.py"}
    assert report.files == 1
    assert report.bytes == 3
    assert _by_rule(report) == {"type stubs": (1, 3)}


# --- code is the user's ---------------------------------------------------------------------------------------


def test_safe_rules_do_not_touch_the_functions_code(tmp_path: Path) -> None:
    code_files = {
        "app.py": "",
        "tests/test_app.py": "",
        "lib/tests/test_lib.py": "",
        "lib/docs/notes.md": "",
        "lib/types.pyi": "",
        "lib/ext.c": "",
        "lib-1.0.dist-info/RECORD": "",
    }
    code = _tree(tmp_path / "code", code_files, "code")
    tree, report = prune(code, SAFE)
    assert set(tree.paths()) == set(code_files)
    assert report.rules == ()


def test_bytecode_in_code_is_removed_too(tmp_path: Path) -> None:
    code = _tree(tmp_path / "code", {"app.py": "", "__pycache__/app.cpython-312.pyc": "b"}, "code")
    tree, report = prune(code, SAFE)
    assert set(tree.paths()) == {"app.py"}
    assert _by_rule(report) == {"bytecode caches": (1, 1)}


def test_user_remove_patterns_apply_to_code_as_well(tmp_path: Path) -> None:
    code = _tree(tmp_path / "code", {"app.py": "", "fixtures/big.json": "{}"}, "code")
    tree, _ = prune(code, PruneConfig(remove=("fixtures/",)))
    assert set(tree.paths()) == {"app.py"}


# --- runtime-provided packages through prune() ---------------------------------------------------------------


def test_runtime_provided_packages_are_removed_and_reported(tmp_path: Path) -> None:
    files = {
        "boto3/__init__.py": "abcd",
        "boto3-1.0.dist-info/METADATA": "Name: boto3\nVersion: 1.0\n",
        "boto3-1.0.dist-info/RECORD": "boto3/__init__.py,,\nboto3-1.0.dist-info/METADATA,,\n",
        "app_dep/__init__.py": "",
        "app_dep-1.0.dist-info/METADATA": "Name: app-dep\nVersion: 1.0\n",
    }
    tree, report = prune(_tree(tmp_path / "deps", files), SAFE, runtime_provided=("boto3",))
    assert set(tree.paths()) == {"app_dep/__init__.py", "app_dep-1.0.dist-info/METADATA"}
    files_gone, _ = _by_rule(report)["runtime-provided packages"]
    assert files_gone == 3  # package, METADATA, RECORD: counted before "install records" sees RECORD
    assert "install records" not in _by_rule(report)


def test_without_runtime_provided_boto3_stays(tmp_path: Path) -> None:
    files = {
        "boto3/__init__.py": "",
        "boto3-1.0.dist-info/METADATA": "Name: boto3\nVersion: 1.0\n",
        "boto3-1.0.dist-info/RECORD": "boto3/__init__.py,,\n",
    }
    tree, _ = prune(_tree(tmp_path / "deps", files), SAFE)
    assert {"boto3/__init__.py", "boto3-1.0.dist-info/METADATA"} <= tree.paths()


@pytest.mark.parametrize(
    ("source", "imports"),
    [
        ("import pkg.tests.helpers\n", {"pkg.tests.helpers"}),
        ("try: from pkg import tests\nexcept ImportError: pass\n", {"pkg", "pkg.tests"}),
        ("from pkg import \\\n    tests\n", {"pkg", "pkg.tests"}),
        ("from pkg import (  # (a comment with parentheses)\n    a,\n    tests,\n)\n", {"pkg", "pkg.a", "pkg.tests"}),
        ('"""Run the tests with pytest."""\nfrom typing import (\n    Any,  # not tests\n)\n', set()),
    ],
)
def test_file_imports_finds_every_way_to_import_a_test_package(tmp_path: Path, source: str, imports: set[str]) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source)
    entry = Entry(path="mod.py", source=path, size=len(source), executable=False, origin="deps")
    assert file_imports(entry) == frozenset(imports)
