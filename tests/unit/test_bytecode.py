"""Bytecode: the function's own code must compile for the target; dependencies' leftovers stay warnings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lpack.bytecode import BytecodeResult, check_own_code, compile_tree
from lpack.errors import AuditError
from lpack.runtimes import get_runtime
from lpack.staging.tree import Entry, Origin, StagingTree

HOST = get_runtime(f"python{sys.version_info[0]}.{sys.version_info[1]}")


def _tree(tmp_path: Path, files: dict[str, tuple[Origin, str]]) -> StagingTree:
    entries = []
    for rel, (origin, text) in files.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        entries.append(Entry(path=rel, source=path, size=len(text), executable=False, origin=origin))
    return StagingTree.of(entries)


def test_own_module_with_a_syntax_error_fails_naming_file_and_line(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "app.py": ("code", "def handler(event, context):\n    return 1\n"),
            "pkg/broken.py": ("code", "x = 1\ndef f(:\n    pass\n"),
            "lib/py2.py": ("deps", 'print "python 2"\n'),
        },
    )
    tree, result = compile_tree(tree, HOST, tmp_path / "pyc", root="/var/task", python=Path(sys.executable))
    assert (result.compiled, result.failed) == (1, 2)
    assert "__pycache__/app.cpython-{}{}.pyc".format(*sys.version_info[:2]) in tree.paths()
    with pytest.raises(AuditError, match=r"python3\.\d+: pkg/broken\.py, line 2: ") as err:
        check_own_code(tree, HOST, result)
    assert "lib/py2.py" not in str(err.value)


def test_a_dependency_that_does_not_compile_is_only_counted(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"app.py": ("code", "x = 1\n"), "lib/py2.py": ("deps", 'print "python 2"\n')})
    tree, result = compile_tree(tree, HOST, tmp_path / "pyc", root="/var/task", python=Path(sys.executable))
    assert result.failed == 1 and [f.path for f in result.failures] == ["lib/py2.py"]
    assert check_own_code(tree, HOST, result) == []


def test_without_an_interpreter_the_host_parses_with_the_target_grammar(tmp_path: Path) -> None:
    # `match` is Python 3.10 syntax: this interpreter compiles it, python3.9 would not.
    text = "def f(x):\n    match x:\n        case 1:\n            return 1\n"
    tree = _tree(tmp_path, {"app.py": ("code", text), "lib/dep.py": ("deps", "def g(:\n")})
    none = BytecodeResult(compiled=0, failed=0, interpreter=None, reason="no python3.9 found")
    with pytest.raises(AuditError, match=r"python3\.9: app\.py, line \d+: Pattern matching"):
        check_own_code(tree, get_runtime("python3.9"), none)
    assert check_own_code(tree, get_runtime("python3.10"), none) == []


def test_without_an_interpreter_a_newer_target_only_warns(tmp_path: Path) -> None:
    # This interpreter's parser may not know the newer target's grammar: a failure there may be a false alarm.
    tree = _tree(tmp_path, {"app.py": ("code", "def f(:\n")})
    none = BytecodeResult(compiled=0, failed=0, interpreter=None, reason="none")
    newer = get_runtime("python3.14")
    if newer.version is None or newer.version <= sys.version_info[:2]:
        pytest.skip("this interpreter is as new as the newest runtime")
    [warning] = check_own_code(tree, newer, none)
    assert warning.startswith("app.py, line 1:") and "python3.14" in warning


def test_an_interpreter_that_crashes_while_compiling_is_one_error_line(tmp_path: Path) -> None:
    # Answers the version question like the host, then fails on the compiler script (a broken install).
    fake = tmp_path / "python-broken"
    version = "{} {}".format(*sys.version_info[:2])
    fake.write_text(f'#!/bin/sh\ncase "$*" in *version_info*) echo "{version}";; *) exit 3;; esac\n')
    fake.chmod(0o755)
    tree = _tree(tmp_path, {"app.py": ("code", "x = 1\n")})
    with pytest.raises(AuditError, match=r"python-broken failed while compiling bytecode \(exit 3\)"):
        compile_tree(tree, HOST, tmp_path / "pyc", root="/var/task", python=fake)


def test_an_interpreter_handed_over_is_checked_by_the_tag_it_compiles_for(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"app.py": ("code", "x = 1\n")})
    other = get_runtime("python3.12" if sys.version_info[:2] != (3, 12) else "python3.13")
    with pytest.raises(AuditError, match=r"compiles for cpython-3\d+, not cpython-31[23]"):
        compile_tree(tree, other, tmp_path / "pyc", root="/var/task", interpreter=sys.executable)
    _, result = compile_tree(tree, HOST, tmp_path / "pyc2", root="/var/task", interpreter=sys.executable)
    assert result.compiled == 1
