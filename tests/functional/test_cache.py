"""The cache around the stages: a rebuild with nothing changed runs nothing, a code change reinstalls nothing,
and a dependency change installs again."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpack import build, load_config
from lpack.cache import Cache
from tests.conftest import MakeProject
from tests.functional.fake_uv import FakeUv
from tests.functional.zips import files


def _build(root: Path, cache: Cache) -> tuple[FakeUv, Path, tuple[str, ...]]:
    runner = FakeUv()
    [fn] = build(load_config(root), runner=runner, cache=cache).functions
    return runner, fn.artifact.path, fn.notes


def test_a_rebuild_with_nothing_changed_reuses_the_artifact(project: MakeProject, cache: Cache) -> None:
    root = project("with-tests-dir")  # requirements.in: locked, then installed
    first, path, _ = _build(root, cache)
    assert [c[2] for c in first.calls] == ["compile", "install"]
    before = path.read_bytes()
    again, path, notes = _build(root, cache)
    assert again.calls == []
    assert notes == (
        "reused with-tests-dir.zip: no input changed",
        "not packed (build output): dist/ (the output directory)",
    )
    assert path.read_bytes() == before


def test_a_code_change_takes_lock_and_dependencies_from_the_cache(project: MakeProject, cache: Cache) -> None:
    root = project("with-tests-dir")
    _, path, _ = _build(root, cache)
    old = files(path)
    (root / "app.py").write_text((root / "app.py").read_text() + "\nVERSION = 2\n")
    runner, path, notes = _build(root, cache)
    assert runner.calls == []
    assert "dependencies from the cache (3 distributions)" in notes
    assert any("lock" in n and "from the cache" in n for n in notes)
    new = files(path)
    assert new["app.py"].endswith(b"VERSION = 2\n")
    changed = {n for n in old.keys() | new.keys() if old.get(n) != new.get(n)}
    assert changed == {"app.py", "__pycache__/app.cpython-312.pyc"} & (old.keys() | new.keys())


def test_an_edited_or_deleted_artifact_is_written_again(project: MakeProject, cache: Cache) -> None:
    root = project("hello")
    _, path, _ = _build(root, cache)
    good = path.read_bytes()
    path.write_bytes(b"not a zip")
    runner, path, notes = _build(root, cache)
    assert path.read_bytes() == good and runner.calls == []
    assert not any(n.startswith("reused") for n in notes)
    path.unlink()
    _, path, _ = _build(root, cache)
    assert path.read_bytes() == good


def test_a_dependency_change_locks_again_and_takes_the_distributions_it_has_from_the_cache(
    project: MakeProject, cache: Cache
) -> None:
    root = project("with-tests-dir")
    _build(root, cache)
    (root / "requirements.in").write_text("lp-pure-a\n")  # lp-keeps-tests dropped: every wheel left is cached
    runner, path, notes = _build(root, cache)
    assert [c[2] for c in runner.calls] == ["compile"]
    assert "dependencies from the cache (2 distributions)" in notes
    assert not [n for n in files(path) if n.startswith("lp_keeps_tests")]


def test_a_new_lock_installs_only_its_new_distributions_and_gives_the_artifact_a_whole_install_gives(
    project: MakeProject, cache: Cache, tmp_path: Path
) -> None:
    root = project("with-tests-dir")
    (root / "requirements.in").write_text("lp-pure-a\n")
    _build(root, cache)
    (root / "requirements.in").write_text("lp-pure-a\nlp-keeps-tests\n")
    runner, path, notes = _build(root, cache)
    [install] = runner.installs
    assert "--no-deps" in install  # a part of the lock: what is new, nothing resolved around it
    assert "1 of 3 distributions installed into the cache, the others from it" in notes
    assert [n for n in files(path) if n.startswith("lp_keeps_tests/")]
    assembled = path.read_bytes()
    [whole] = build(load_config(root), runner=FakeUv(), use_cache=False).functions
    assert whole.artifact.path.read_bytes() == assembled  # byte for byte what one install of the lock gives


def test_a_result_from_before_a_deprecation_date_is_not_reused_after_it(
    project: MakeProject, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("no-deps")
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace('"python3.12"', '"python3.10"'))
    monkeypatch.setenv("LPACK_TODAY", "2026-10-01")  # python3.10 is deprecated from 2026-10-31
    [before] = build(load_config(root), runner=FakeUv(), cache=cache).functions
    assert not any("deprecated" in w for w in before.warnings)
    monkeypatch.setenv("LPACK_TODAY", "2026-11-15")
    [after] = build(load_config(root), runner=FakeUv(), cache=cache).functions
    assert any("python3.10 is deprecated" in w for w in after.warnings)


def test_a_requirements_txt_without_hashes_is_locked_and_installed_by_distribution(
    project: MakeProject, cache: Cache
) -> None:
    root = project("with-tests-dir")
    (root / "requirements.in").rename(root / "requirements.txt")
    (root / "requirements.txt").write_text("lp-pure-a\n")
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace("requirements.in", "requirements.txt"))
    first, _, notes = _build(root, cache)
    assert [c[2] for c in first.calls] == ["compile", "install"]
    assert "locked requirements.txt with hashes" in notes
    (root / "requirements.txt").write_text("lp-pure-a\nlp-keeps-tests\n")
    again, _, notes = _build(root, cache)
    assert "1 of 3 distributions installed into the cache, the others from it" in notes
    [install] = again.installs
    assert "--no-deps" in install and "--require-hashes" in install
