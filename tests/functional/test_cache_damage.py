"""A damaged cache never reaches an artifact (#12): for every kind of file a build keeps in the cache, a flipped
byte, a truncation, a deletion or garbage in its place gives the artifact a build without the cache gives."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lpack import build, load_config
from lpack.cache import Cache
from lpack.config.model import FunctionConfig
from lpack.pipeline import build as pipeline_build
from lpack.pipeline.results import FunctionResult
from lpack.pipeline.run import Settings
from tests.conftest import MakeProject
from tests.functional.fake_uv import FakeUv


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    st = path.stat()
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as a bit flip on disk would: same size, same mtime


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(max(16, path.stat().st_size)))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "flip": _flip,
    "truncate": _truncate,
    "delete": Path.unlink,
    "garbage": _garbage,
}

# One file of every kind the cache holds, by a glob under the cache root.
KINDS = {
    "lock": "locks/*/requirements.lock.txt",
    "lock notes": "locks/*/notes.json",
    "installed module": "dists/*/site/lp_pure_a/__init__.py",
    "installed metadata": "dists/*/site/lp_pure_a-*.dist-info/METADATA",
    "dists manifest": "dists/*/manifest.json",
    "distribution notes": "dists/*/dist.json",
    "site listing": "dists/*/site.json",
    "import memo": "dists/*/imports.json",
    "ELF memo": "dists/*/elf.json",
    "cached pyc": "dists/*/pyc-*/lp_pure_a/__pycache__/__init__.cpython-312.pyc",
    "pyc manifest": "dists/*/pyc-*/manifest.json",
    "compressed members": "dists/*/members-*.zip",
    "members index": "dists/*/members-*.json",
    "result": "results/*/result.json",
    "fits-together verdict": "results/*/fits.json",
    "interpreter memo": "interpreters/*",
}


def _build(root: Path, cache: Cache | None) -> tuple[bytes, tuple[str, ...]]:
    [fn] = build(load_config(root), runner=FakeUv(), cache=cache, use_cache=cache is not None).functions
    return fn.artifact.path.read_bytes(), fn.warnings


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_cache_file_never_reaches_the_artifact(project: MakeProject, tmp_path: Path, kind: str) -> None:
    name = "hello" if kind == "ELF memo" else "with-tests-dir"  # hello has a native extension
    root = project(name)
    pristine = Cache(root=tmp_path / "pristine")
    first, _ = _build(root, pristine)
    app = root / "app.py"
    code = app.read_text()
    app.write_text(code + "\nVERSION = 2\n")
    second = _build(root, None)[0]
    [target] = sorted(pristine.root.glob(KINDS[kind]))[:1]
    for damage, apply in DAMAGES.items():
        cache = Cache(root=tmp_path / damage)
        shutil.copytree(pristine.root, cache.root, symlinks=True)
        apply(cache.root / target.relative_to(pristine.root))
        app.write_text(code)
        (root / "dist" / f"{name}.zip").write_bytes(first)  # as the pristine build left it
        assert _build(root, cache)[0] == first, f"{damage}: the no-change rebuild"
        app.write_text(code + "\nVERSION = 2\n")
        assert _build(root, cache)[0] == second, f"{damage}: the code-only rebuild"
        assert _build(root, cache)[0] == second, f"{damage}: the rebuild after it"


def test_a_damaged_installed_file_is_named_and_the_entry_built_again(project: MakeProject, cache: Cache) -> None:
    root = project("with-tests-dir")
    _build(root, cache)
    for path in cache.root.glob("dists/*/members-*"):
        path.unlink()  # no compressed copy: the files themselves are read
    [module] = cache.root.glob("dists/*/site/lp_pure_a/__init__.py")
    _flip(module)
    (root / "app.py").write_text("VERSION = 3\n")
    runner = FakeUv()
    [fn] = build(load_config(root), runner=runner, cache=cache).functions
    assert [c[2] for c in runner.calls] == ["install"]  # the lock was fine; the install is made again
    assert any("is damaged: site/lp_pure_a/__init__.py changed since it was stored" in w for w in fn.warnings)


def test_an_entry_discarded_by_a_parallel_build_under_way_is_built_again(
    project: MakeProject, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("hello")
    real = pipeline_build.run  # type: ignore[attr-defined]  # the name build() calls, replaced below
    calls: list[str] = []

    def vanished_once(fn: FunctionConfig, settings: Settings, **kw: Any) -> FunctionResult:
        calls.append(fn.name)
        if len(calls) == 1:  # what reading a file of an entry another thread discarded raises
            missing = cache.root.resolve() / "deps" / "k" / "site" / "m.py"
            raise FileNotFoundError(2, "No such file or directory", str(missing))
        return real(fn, settings, **kw)

    monkeypatch.setattr(pipeline_build, "run", vanished_once)
    [fn] = build(load_config(root), runner=FakeUv(), cache=cache).functions
    assert len(calls) == 2 and fn.artifact.path.is_file()
    assert any("was discarded while in use: built again" in w for w in fn.warnings)
    elsewhere = FileNotFoundError(2, "No such file or directory", str(root / "gone.py"))
    monkeypatch.setattr(pipeline_build, "run", lambda *_a, **_k: (_ for _ in ()).throw(elsewhere))
    (root / "app.py").write_text("VERSION = 2\n")
    with pytest.raises(FileNotFoundError):  # a missing file outside the cache is no cache matter
        build(load_config(root), runner=FakeUv(), cache=cache)
