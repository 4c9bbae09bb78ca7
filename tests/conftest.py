from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lpack.errors import ResolveError
from lpack.resolve.esbuild import ESBUILD_VERSION, find_esbuild

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
WHEELS = FIXTURES / "wheels"
SDISTS = FIXTURES / "sdists"
PROJECTS = FIXTURES / "projects"

# Settings from the machine that would change what pip and uv install; tests name their sources.
_ISOLATE = (
    "LPACK_CACHE_REMOTE",  # a developer's shared cache must not reach the tests
    "LPACK_CACHE_REMOTE_READ_ONLY",
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_NO_INDEX",
    "PIP_CONSTRAINT",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
    "UV_CONSTRAINT",
    "SOURCE_DATE_EPOCH",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-network", action="store_true", help="also run tests that install from the package index")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-network") or os.environ.get("LPACK_RUN_NETWORK") == "1":
        return
    skip = pytest.mark.skip(reason="needs the package index: pass --run-network")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_installers(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    # No interpreter downloads (they come from GitHub, not a package index); tests of the download unset it.
    monkeypatch.setenv("LPACK_OFFLINE", "1")
    # Runtime lifecycle checks on a fixed day: the suite must not start failing when a block-update date passes.
    monkeypatch.setenv("LPACK_TODAY", "2026-11-29")
    # lpack's own cache: one per test, so no test sees another's entries and none touches ~/.cache.
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path_factory.mktemp("lpack-cache")))


def copy_project(name: str, dest: Path) -> Path:
    """A copy of fixtures/projects/NAME whose find-links point at the fixture wheelhouse."""
    target = dest / name
    shutil.copytree(PROJECTS / name, target, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    for config in (target / "pyproject.toml", target / "lpack.toml"):
        if config.is_file():
            text = config.read_text().replace('"../../wheels"', f'"{WHEELS.as_posix()}"')
            config.write_text(text.replace('"../../sdists"', f'"{SDISTS.as_posix()}"'))
    for npm_file in [*target.rglob("package.json"), *target.rglob("package-lock.json")]:
        # file: specs, in package.json and lock alike, point at the packed fixtures in fixtures/npm.
        text = re.sub(r"file:(\.\./)+npm/", f"file:{(FIXTURES / 'npm').as_posix()}/", npm_file.read_text())
        npm_file.write_text(text)
    return target


MakeProject = Callable[[str], Path]


@pytest.fixture
def project(tmp_path: Path) -> MakeProject:
    """project("name") -> a fresh copy of that fixture project in tmp_path."""
    return lambda name: copy_project(name, tmp_path)


@pytest.fixture(scope="session")
def esbuild_binary(request: pytest.FixtureRequest) -> Path:
    """The pinned esbuild, kept in pytest's cache directory across runs; installed there from npm's own cache
    (offline), so a warm machine needs no registry. Skips when neither cache has it."""
    if request.config.cache is None or shutil.which("npm") is None:
        pytest.skip("needs npm and pytest's cache directory for esbuild")
    try:
        return find_esbuild(request.config.cache.mkdir("lpack-tools"), offline=True).path
    except ResolveError:
        pytest.skip(f"esbuild {ESBUILD_VERSION} is in no cache: run the network tests once (--run-network)")


@pytest.fixture
def with_esbuild(esbuild_binary: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Builds in this test bundle with that esbuild (LPACK_ESBUILD), not one installed into the test's cache."""
    monkeypatch.setenv("LPACK_ESBUILD", str(esbuild_binary))
    return esbuild_binary
