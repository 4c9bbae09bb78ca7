"""Per-distribution entries in real builds, where they could go wrong (found in review): a lock that is not whole,
an index option with a relative path, a cache on another file system than the scratch install, a lock that
cannot be cut into distributions (rebuilt without running an installer again)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest

from lpack import build, load_config
from lpack.cache import Cache
from lpack.errors import LpackError
from tests.conftest import MakeProject
from tests.integration.test_cache_build import CountingRunner

WHEELS = Path(__file__).parents[2] / "fixtures" / "wheels"
PURE_B = "lp-pure-b==2.0 \\\n    --hash=sha256:11c560de718c4bf08ec24fbaed6c8deecabf4bcec559766d97d489913bd53819\n"


def test_a_lock_missing_a_dependency_fails_as_a_whole_install_does(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")  # lp-pure-a imports lp_pure_b; uv --require-hashes refuses a lock without it
    lock = root / "requirements.txt"
    lock.write_text(lock.read_text().replace(PURE_B, "").replace("    # via lp-pure-a\n", ""))
    assert "lp-pure-b" not in lock.read_text()
    with pytest.raises(LpackError, match="lp-pure-b"):  # as `uv pip install --require-hashes` of it says
        build(load_config(root), cache=Cache(root=tmp_path / "cache"))


def test_a_lock_with_a_relative_find_links_builds(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    shutil.copytree(WHEELS, root / "wheels")
    config = root / "pyproject.toml"
    config.write_text(re.sub(r"(?m)^(no-index|find-links) = .*\n", "", config.read_text()))
    lock = root / "requirements.txt"
    lock.write_text("--no-index\n--find-links wheels\n" + lock.read_text())
    [fn] = build(load_config(root), cache=Cache(root=tmp_path / "cache")).functions
    assert fn.artifact.path.is_file()


@pytest.mark.skipif(
    not Path("/dev/shm").is_dir() or Path("/dev/shm").stat().st_dev == Path(tempfile.gettempdir()).stat().st_dev,
    reason="needs a cache on another file system than TMPDIR",
)
def test_a_cache_on_another_file_system_than_tmpdir(project: MakeProject, tmp_path: Path) -> None:
    cache = Path("/dev/shm") / f"lpack-review-{os.getpid()}"
    try:
        [fn] = build(load_config(project("hello")), cache=Cache(root=cache)).functions
        assert "dependencies installed into the cache (3 distributions)" in fn.notes
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _wheel(dest: Path, name: str, files: dict[str, bytes]) -> str:
    def digest(b: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()

    info = f"{name}-1.0.dist-info"
    files = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{k},{digest(v)},{len(v)}\n" for k, v in files.items()) + f"{info}/RECORD,,\n"
    path = dest / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in files.items():
            zf.writestr(k, v)
        zf.writestr(f"{info}/RECORD", record)
    return f"{name.replace('_', '-')}==1.0 --hash=sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}\n"


def test_a_code_only_rebuild_of_a_pkgutil_namespace_lock_runs_no_installer(
    project: MakeProject, tmp_path: Path
) -> None:
    root = project("hello")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    init = b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
    lines = [_wheel(wheels, f"lp_ns_{n}", {"lpns/__init__.py": init, f"lpns/{n}.py": b"X = 1\n"}) for n in "ab"]
    (root / "requirements.txt").write_text("".join(lines))
    config = root / "pyproject.toml"
    config.write_text(re.sub(r"(?m)^find-links = .*$", f'find-links = ["{wheels}"]', config.read_text()))
    cache = Cache(root=tmp_path / "cache")
    build(load_config(root), cache=cache)
    (root / "app.py").write_text((root / "app.py").read_text() + "\nVERSION = 2\n")
    runner = CountingRunner()
    build(load_config(root), runner=runner, cache=cache)
    assert runner.calls == []  # installed whole once (two distributions ship lpns/__init__.py): not cut again


def test_a_lock_pip_installs_in_part_is_installed_whole_so_no_entry_depends_on_its_batch(
    project: MakeProject, tmp_path: Path
) -> None:
    root = project("al2-glibc-224")  # lp-glibc-224 has only a manylinux_2_24 wheel: pip stands in for uv
    config = root / "lpack.toml"
    config.write_text(config.read_text() + '[prune]\nprofile = "none"\n')  # INSTALLER and RECORD kept
    cache = tmp_path / "cache"
    [fn] = build(load_config(root), cache=Cache(root=cache)).functions
    assert list((cache / "deps").iterdir())  # the whole lock, as pip installed it
    assert not [e for e in (cache / "dists").glob("*/dist.json") if b'"pip"' in e.read_bytes()]
    [uncached] = build(load_config(root), use_cache=False).functions
    assert uncached.artifact.path.read_bytes() == fn.artifact.path.read_bytes()
