"""A function zip through the whole pipeline: what goes in, how it is written, and that it is reproducible."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import pytest

from lpack import build, lifecycle, load_config
from lpack.cache import Cache
from tests.conftest import MakeProject, copy_project
from tests.functional.fake_uv import FakeUv
from tests.functional.zips import EM_AARCH64, elf_machine, files, members, sha256


def test_function_zip_holds_the_code_and_the_dependencies_for_the_target(
    project: MakeProject, fake_uv: FakeUv, cache: Cache
) -> None:
    root = project("hello")  # python3.12 on arm64, a hashed requirements.txt
    [fn] = build(load_config(root), runner=fake_uv, cache=cache).functions
    assert (fn.name, fn.role, fn.installer) == ("hello", "function", "uv")
    assert fn.artifact.path == root / "dist" / "hello.zip"
    [install] = fake_uv.installs
    assert install[install.index("--python-platform") + 1] == "aarch64-manylinux_2_34"
    assert "--require-hashes" in install
    found = files(fn.artifact.path)
    assert found["app.py"] == (root / "app.py").read_bytes()
    for name in ("lp_pure_a/core.py", "lp_pure_b/__init__.py", "lp_pure_a-1.0.dist-info/METADATA"):
        assert name in found
    assert elf_machine(found["lp_native/_native.abi3.so"]) == EM_AARCH64  # the arm64 wheel, not this machine's
    # The installer's state and this machine's paths stay out.
    leaked = [n for n in found if n == ".lock" or n.rsplit("/", 1)[-1] in ("uv_cache.json", "INSTALLER", "RECORD")]
    assert leaked == []
    assert found["bin/lp-a"].startswith(b"#!/usr/bin/env python3\n")
    # The result describes the file that was written.
    assert fn.artifact.sha256 == sha256(fn.artifact.path)
    assert fn.artifact.files == len(found)
    assert fn.size.unzipped_bytes == fn.artifact.unzipped_bytes == sum(map(len, found.values()))


def test_modes_and_dates_are_normalized_whatever_the_disk_says(
    project: MakeProject, fake_uv: FakeUv, cache: Cache
) -> None:
    root = project("hello")
    (root / "app.py").chmod(0o600)
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o700)
    os.utime(root / "app.py", (1_600_000_000, 1_600_000_000))
    [fn] = build(load_config(root), runner=fake_uv, cache=cache).functions
    found = members(fn.artifact.path)
    executables = {"run.sh", "bin/lp-a", "lp_native/_native.abi3.so"}
    assert executables <= set(found)
    for name, member in found.items():
        assert member.mode == (0o755 if member.is_dir or name in executables else 0o644), name
    assert {m.date for m in found.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert list(found) == sorted(found)


def _copy_reversed(src: Path, dest: Path) -> None:
    """The same files, created in the opposite order, with other mtimes and modes."""
    paths = sorted(p for p in src.rglob("*") if p.is_file())
    for i, path in enumerate(reversed(paths)):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        target.chmod(0o600)
        os.utime(target, (1_000_000_000 + i * 86_400,) * 2)


def test_two_builds_in_other_places_are_byte_identical(tmp_path: Path) -> None:
    first = copy_project("hello", tmp_path / "a")
    second = tmp_path / "somewhere" / "else" / "hello"
    _copy_reversed(first, second)
    # Separate caches: each build installs (uv_cache.json gets another time), compiles and compresses.
    [one] = build(load_config(first), runner=FakeUv(), cache=Cache(root=tmp_path / "c1")).functions
    [two] = build(load_config(second), runner=FakeUv(), cache=Cache(root=tmp_path / "c2")).functions
    a, b = members(one.artifact.path), members(two.artifact.path)
    assert list(a) == list(b)
    for name in a:
        assert a[name] == b[name], name  # names the first member that differs
    assert one.artifact.path.read_bytes() == two.artifact.path.read_bytes()
    assert one.artifact.sha256 == two.artifact.sha256


def test_a_deprecated_runtime_builds_with_a_warning_giving_the_dates(
    tmp_path: Path, fake_uv: FakeUv, cache: Cache
) -> None:
    if lifecycle.update_blocked("python3.8", datetime.date.today()):
        pytest.skip("python3.8 is past its block-update date: the config refuses it (tested in unit tests)")
    (tmp_path / "lpack.toml").write_text('runtime = "python3.8"\nhandler = "app.handler"\n')
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    [fn] = build(load_config(tmp_path), runner=fake_uv, cache=cache).functions
    assert fn.artifact.path.is_file()
    [warning] = [w for w in fn.warnings if "deprecated" in w]
    assert "python3.8 is deprecated since 2024-10-14" in warning
    assert "2027-02-01" in warning and "2027-03-03" in warning
