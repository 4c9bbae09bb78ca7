"""An interpreter for every target: downloaded once with real uv when none is here, and the no-change rebuild
reused when none is here and none can be had."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lpack.bytecode import find_interpreter
from tests.conftest import MakeProject
from tests.integration._helpers import build_json, names

PY313 = find_interpreter((3, 13))
pytestmark = pytest.mark.skipif(PY313 is None, reason="needs a python3.13 to stand in for a downloaded one")


@pytest.fixture
def no_python313(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine where no python3.13 is found: PATH without pyenv's shims, an empty pyenv and uv store."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "no-uv-pythons"))
    find_interpreter.cache_clear()
    yield
    find_interpreter.cache_clear()


def _downloads_json(tmp_path: Path) -> Path:
    """uv's download list with one CPython 3.13 build, a file:// tarball in python-build-standalone's
    install_only layout whose python3.13 runs this machine's python3.13."""
    assert PY313 is not None
    tarball = tmp_path / "cpython-3.13.tar.gz"
    sysconfig = next(Path(PY313).resolve().parent.parent.glob("lib/python3.13/_sysconfigdata_*.py"))
    with tarfile.open(tarball, "w:gz") as tar:
        for name, data, mode in (
            ("python/bin/python3.13", f'#!/bin/sh\nexec {PY313} "$@"\n'.encode(), 0o755),
            (f"python/lib/python3.13/{sysconfig.name}", sysconfig.read_bytes(), 0o644),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    import hashlib  # noqa: PLC0415

    entry = {
        "name": "cpython",
        "arch": {"family": "x86_64", "variant": None},
        "os": "linux",
        "libc": "gnu",
        "major": 3,
        "minor": 13,
        "patch": 0,
        "prerelease": "",
        "url": tarball.as_uri(),
        "sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
        "variant": None,
    }
    listing = tmp_path / "downloads.json"
    listing.write_text(json.dumps({"cpython-3.13.0-linux-x86_64-gnu": entry}))
    return listing


def _project(project: MakeProject) -> Path:
    root = project("no-deps")
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace('"python3.12"', '"python3.13"'))
    return root


@pytest.mark.usefixtures("no_python313")
def test_missing_interpreter_is_downloaded_once_into_the_cache(
    project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LPACK_OFFLINE")
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS_JSON_URL", str(_downloads_json(tmp_path)))
    root = _project(project)
    [fn] = build_json(root)["artifacts"]
    assert "__pycache__/handler.cpython-313.pyc" in names(Path(fn["path"]))
    assert any("downloaded python3.13 with `uv python install`" in n for n in fn["notes"]), fn["notes"]
    assert not (Path.home() / ".local" / "bin" / "python3.13").is_symlink()  # --no-bin: nothing outside the cache
    (root / "handler.py").write_text("def main(event, context):\n    return {'ok': 2}\n")
    find_interpreter.cache_clear()
    [again] = build_json(root)["artifacts"]
    assert "__pycache__/handler.cpython-313.pyc" in names(Path(again["path"]))
    assert not any("downloaded" in n for n in again["notes"])  # once


def test_offline_no_interpreter_skips_with_the_reason_and_a_rebuild_is_reused(
    project: MakeProject, no_python313: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(project)
    [first] = build_json(root)["artifacts"]
    assert names(Path(first["path"])) == ["handler.py"]
    assert "LPACK_OFFLINE is set" in first["bytecode"]["skipped_reason"]
    [second] = build_json(root)["artifacts"]
    assert second["notes"][0] == "reused no-deps.zip: no input changed"
    # An interpreter appears (pyenv's, here): the next no-change build is no longer reused, and compiles.
    monkeypatch.undo()
    monkeypatch.setenv("LPACK_OFFLINE", "1")
    find_interpreter.cache_clear()
    [third] = build_json(root)["artifacts"]
    assert "__pycache__/handler.cpython-313.pyc" in names(Path(third["path"]))
