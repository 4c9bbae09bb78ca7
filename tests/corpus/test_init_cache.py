"""`lpack init --template` and `lpack cache clean` given paths that reach outside: refused, nothing touched."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lpack.cache import CACHEDIR_TAG, Cache, is_marked
from lpack.tools import init as init_module
from tests.integration._helpers import lpack


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _one_error(stderr: str, cause: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and cause in " ".join(stderr.split()), stderr
    assert "Traceback" not in stderr


@dataclass(frozen=True, slots=True, kw_only=True)
class InitCase:
    id: str
    template: str
    prepare: Callable[[Path], None] = lambda d: None
    exit: int = 2
    cause: str = "no template"


def _non_empty(d: Path) -> None:
    d.mkdir()
    (d / "notes.txt").write_text("mine\n")


def _only_git(d: Path) -> None:
    (d / ".git").mkdir(parents=True)


INIT_CASES = [
    InitCase(id="parent-path", template="../../../etc"),
    InitCase(id="absolute", template="/etc"),
    InitCase(id="through-a-template", template="python/../node"),
    InitCase(id="subdirectory", template="python/tests"),
    InitCase(id="empty-name", template=""),
    InitCase(id="dot", template="."),
    InitCase(id="not-shipped", template="cobol"),
    InitCase(id="non-empty-target", template="python", prepare=_non_empty, cause="not empty (notes.txt)"),
    InitCase(id="fresh", template="node", exit=0, cause=""),
    InitCase(id="empty-but-git", template="python", prepare=_only_git, exit=0, cause=""),
]


@pytest.mark.parametrize("case", INIT_CASES, ids=[c.id for c in INIT_CASES])
def test_init_template(case: InitCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # rich would wrap the long path mid-word
    target = tmp_path / "work" / "fn"
    target.parent.mkdir()
    case.prepare(target)
    before = _tree(tmp_path)
    result = lpack("init", "--template", case.template, target)
    assert result.exit_code == case.exit, result.stderr
    if case.exit:
        _one_error(result.stderr, case.cause)
        assert _tree(tmp_path) == before  # nothing written, not even the directory
        if case.cause == "no template":
            assert all(name in result.stderr for name in init_module.available())
    else:
        written = _tree(tmp_path) - before
        assert written and all(p == "work/fn" or p.startswith("work/fn/") for p in written)


def test_init_copies_no_symlink_from_a_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("do not copy\n")
    templates = tmp_path / "templates"
    (templates / "t").mkdir(parents=True)
    (templates / "t" / "app.py").write_text("x = 1\n")
    (templates / "t" / "key").symlink_to(secret / "key")
    (templates / "t" / "linked").symlink_to(secret)
    (templates / "escape").symlink_to(secret)  # a "template" that is a link: not one lpack ships
    monkeypatch.setattr(init_module, "TEMPLATES", templates)
    assert init_module.available() == ["t"]
    written = init_module.init("t", tmp_path / "fn")
    assert [p.name for p in written] == ["app.py"]
    result = lpack("init", "--template", "escape", tmp_path / "fn2")
    assert result.exit_code == 2 and not (tmp_path / "fn2").exists()


# --- cache clean -------------------------------------------------------------------------------------------


def _project_dir(root: Path) -> None:
    for name in ("deps", "tmp", "locks", "src"):
        (root / name).mkdir(parents=True)
        (root / name / "keep.txt").write_text("precious\n")


def _forged_tag(root: Path) -> None:
    _project_dir(root)
    (root / CACHEDIR_TAG).write_text("Signature: 8a477f597d28d172789f06886806bc55\n# made by some other tool\n")


def _linked_tag(root: Path) -> None:
    _project_dir(root)
    real = root.parent / "real-cache"
    Cache(root=real).ensure("deps")
    (root / CACHEDIR_TAG).symlink_to(real / CACHEDIR_TAG)


@pytest.mark.parametrize("prepare", [_project_dir, _forged_tag, _linked_tag], ids=["untagged", "forged", "linked"])
def test_cache_clean_refuses_a_directory_lpack_did_not_tag(
    prepare: Callable[[Path], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    prepare(root)
    before = _tree(tmp_path)
    monkeypatch.setenv("LPACK_CACHE_DIR", str(root))
    monkeypatch.setenv("COLUMNS", "1000")  # rich would wrap the long path mid-word
    result = lpack("cache", "clean")
    assert result.exit_code == 2
    _one_error(result.stderr, f"LPACK_CACHE_DIR={root} is not an lpack cache")
    assert "delete" in result.stderr and "by hand" in " ".join(result.stderr.split())
    assert _tree(tmp_path) == before


def test_cache_clean_empties_a_tagged_cache_and_keeps_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, outside = tmp_path / "cache", tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious\n")
    cache = Cache(root=root)
    cache.obtain("deps", "k", lambda e: (e / "f").write_bytes(b"12345"))
    shutil.rmtree(root / "locks")
    (root / "locks").symlink_to(outside)  # planted: a link is removed, never followed
    (root / "mine.txt").write_text("not lpack's\n")
    for kept in ("python/cpython-3.14/bin/python3", "tools/esbuild-0.28.2/esbuild"):  # downloads lpack keeps
        (root / kept).parent.mkdir(parents=True)
        (root / kept).write_bytes(b"\x7fELF")
    monkeypatch.setenv("LPACK_CACHE_DIR", str(root))
    result = lpack("cache", "clean")
    assert result.exit_code == 0, result.stderr
    assert not (root / "deps").exists() and not (root / "locks").exists()
    assert not (root / "python").exists() and not (root / "tools").exists()
    assert (outside / "keep.txt").read_text() == "precious\n"
    assert (root / "mine.txt").exists() and is_marked(root)


def test_the_tag_is_written_only_into_a_directory_lpack_makes_or_finds_empty(tmp_path: Path) -> None:
    Cache(root=tmp_path / "new").ensure("deps")
    (tmp_path / "empty").mkdir()
    Cache(root=tmp_path / "empty").ensure("deps")
    _project_dir(tmp_path / "busy")
    Cache(root=tmp_path / "busy").ensure("results")
    assert is_marked(tmp_path / "new") and is_marked(tmp_path / "empty")
    assert not is_marked(tmp_path / "busy")


def test_cache_clean_of_a_missing_directory_removes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path / "absent"))
    result = lpack("cache", "clean")
    assert result.exit_code == 0 and not (tmp_path / "absent").exists()
