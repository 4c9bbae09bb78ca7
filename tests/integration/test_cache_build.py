"""The cache end to end: no-change and code-only rebuilds, byte-identical to a fresh build, two builders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from lpack import build, load_config
from lpack.cache import Cache
from lpack.resolve.runner import run_subprocess
from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack, names


class CountingRunner:
    """The real installers, counted: a cached rebuild must not start any."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(
        self, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(" ".join(cmd[1:3]))
        return run_subprocess(cmd, env=env, cwd=cwd)


def _build(root: Path, cache: Path) -> tuple[bytes, tuple[str, ...], list[str]]:
    runner = CountingRunner()
    result = build(load_config(root), runner=runner, cache=Cache(root=cache))
    [fn] = result.functions
    return fn.artifact.path.read_bytes(), fn.notes, runner.calls


def test_rebuilds_reuse_the_cache_and_match_a_fresh_build_byte_for_byte(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    cache = tmp_path / "cache"
    first, notes, calls = _build(root, cache)
    assert calls == ["pip install"]  # uv pip install: the requirements.txt is the lock
    assert "dependencies installed into the cache (3 distributions)" in notes

    again, notes, calls = _build(root, cache)
    assert again == first
    assert calls == []
    assert any(n.startswith("reused hello.zip") for n in notes)

    (root / "app.py").write_text((root / "app.py").read_text() + "\nVERSION = 2\n")
    code_only, notes, calls = _build(root, cache)
    assert calls == []
    assert "dependencies from the cache (3 distributions)" in notes
    assert code_only != first

    fresh, notes, _ = _build(root, tmp_path / "empty-cache")
    assert "dependencies installed into the cache (3 distributions)" in notes
    assert fresh == code_only
    uncached = build(load_config(root), use_cache=False).functions[0].artifact.path.read_bytes()
    assert uncached == code_only


def test_code_only_rebuild_copies_dependency_members_from_the_cache(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    cache = tmp_path / "cache"
    _build(root, cache)
    [entry] = [e for e in (cache / "dists").iterdir() if (e / "site" / "lp_pure_a").is_dir()]  # one per wheel
    store = entry / "members-default.zip"
    assert store.is_file()
    stored = set(names(store))
    assert any(n.startswith("site/lp_pure_a/") for n in stored)
    assert not any(n.startswith("site/lp_pure_b/") for n in stored)  # another distribution's entry has those
    assert any(n.startswith("pyc-cpython-312-") and n.endswith(".cpython-312.pyc") for n in stored)
    (root / "app.py").write_text((root / "app.py").read_text() + "\n# touched\n")
    stores = {s: s.stat().st_mtime_ns for s in cache.glob("dists/*/members-default.zip")}
    _build(root, cache)
    # Nothing new to remember: every dependency member was reused.
    assert {s: s.stat().st_mtime_ns for s in cache.glob("dists/*/members-default.zip")} == stores


def test_an_edited_artifact_is_rebuilt_not_reused(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    cache = tmp_path / "cache"
    first, _, _ = _build(root, cache)
    zip_path = root / "dist" / "hello.zip"
    zip_path.write_bytes(b"not the artifact")
    again, notes, _ = _build(root, cache)
    assert again == first
    assert not any(n.startswith("reused") for n in notes)


def test_a_changed_setting_is_not_served_from_the_cache(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    cache = tmp_path / "cache"
    default, _, _ = _build(root, cache)
    config = root / "pyproject.toml"
    config.write_text(config.read_text().replace("[tool.lpack]\n", '[tool.lpack]\ncompression = "fast"\n'))
    fast, notes, calls = _build(root, cache)
    assert calls == []  # same dependencies: still no install
    assert fast != default
    assert not any(n.startswith("reused") for n in notes)


def test_two_processes_building_at_once_share_one_cache(project: MakeProject, tmp_path: Path) -> None:
    roots = [project("hello")]
    other = tmp_path / "other"
    other.mkdir()
    shutil.copytree(roots[0], other / "hello")
    roots.append(other / "hello")
    env = {**os.environ, "LPACK_CACHE_DIR": str(tmp_path / "shared")}
    procs = [
        subprocess.Popen([sys.executable, "-m", "lpack", "build", "-q", str(r)], env=env, stderr=subprocess.PIPE)
        for r in roots
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    zips = [(r / "dist" / "hello.zip").read_bytes() for r in roots]
    assert zips[0] == zips[1]
    installed = {n.split("/")[0] for n in names(roots[0] / "dist" / "hello.zip") if ".dist-info/" in n}
    assert len(list((tmp_path / "shared" / "dists").iterdir())) == len(installed)  # each installed once
    assert list((tmp_path / "shared" / "tmp").iterdir()) == []


def test_parallel_functions_keep_config_order(project: MakeProject) -> None:
    root = project("multi-function")
    report = build_json(root, "--jobs", "2")
    assert [a["name"] for a in report["artifacts"]] == ["api", "worker"]


def test_cache_info_and_clean_commands(project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("COLUMNS", "200")
    build_json(project("hello"))
    info = lpack("cache", "info")
    assert info.exit_code == 0
    assert f"cache: {tmp_path / 'c'}" in info.stdout
    dists_line = next(line for line in info.stdout.splitlines() if line.strip().startswith("dists"))
    assert int(dists_line.split()[2]) >= 2  # one entry per installed distribution
    cleaned = lpack("cache", "clean")
    assert cleaned.exit_code == 0 and "removed" in cleaned.stdout
    assert not (tmp_path / "c" / "dists").exists()


def test_a_fresh_cached_build_walks_the_source_tree_once(
    project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The inputs key and the artifact need the same selection of the project's files: collect it once.
    from lpack import sources  # noqa: PLC0415

    walks: list[Path] = []
    real = sources.collect

    def counted(source: Path, **options: object) -> sources.SourceSelection:
        walks.append(source)
        return real(source, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(sources, "collect", counted)
    _build(project("hello"), tmp_path / "cache")
    assert len(walks) == 1
