"""Cache keys: everything that decides a lock, an installed tree or a whole artifact, hashed.

A key that misses an input serves stale content, so each function names what it covers. Not covered on
purpose: what an index serves for an unpinned requirements.in (as with any lock file, the lock is kept
until an input changes or `lpack cache clean`), and the patch version of the bytecode interpreter.
"""

from __future__ import annotations

import functools
import os
import platform
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from lpack.archive.writer import source_date_epoch
from lpack.cache import make_key
from lpack.config.deps import kind_of
from lpack.config.load import read_toml
from lpack.config.model import FunctionConfig
from lpack.resolve import _local
from lpack.resolve.committed import committed_path
from lpack.resolve.pins import Pins
from lpack.resolve.runner import index_args
from lpack.staging.tree import StagingTree, file_sha256

# Installer settings read from the environment (lpack passes PIP_* on to uv as UV_*).
_ENV_PREFIXES = ("PIP_", "UV_")


@functools.cache
def tool_versions() -> str:
    return f"lpack {_version('lpack')} {_code_stamp()}; uv {_version('uv')}; pip {_version('pip')}"


def _code_stamp() -> str:
    # A development install keeps one version string across changes to lpack itself: its files' content stands
    # in for a release number, so a cached result never outlives the code that made it. Content, not times:
    # two machines installing the same lpack get the same keys, so they can share cache entries (~3 ms).
    root = Path(__file__).parents[1]  # the whole lpack package
    files = sorted(root.rglob("*.py"))
    return make_key(*(f"{p.relative_to(root).as_posix()}\0{file_sha256(p)}" for p in files))[:16]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def installer_env() -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith(_ENV_PREFIXES))


def _target(fn: FunctionConfig) -> str:
    return f"{fn.runtime!r}\n{fn.architecture}\n{' '.join(index_args(fn.index))}"


def lock_key(fn: FunctionConfig, lines: list[str], infile: Path | None) -> str:
    """A lock depends on the requirements, what they reach on this machine (-r/-c files at any depth, local
    packages' content, find-links directories), the target and the index."""
    base = infile.parent if infile else fn.project_dir
    return make_key(
        "lock",
        "\n".join(lines),
        *_local.fingerprint(_local.reach(lines, base, fn.project_dir)),
        _target(fn),
        *_links(fn),
        tool_versions(),
        installer_env(),
    )


def deps_key(fn: FunctionConfig, lock: Path) -> str:
    """An installed tree depends on the lock and what it reaches (a local package's code is in no pin),
    the target, the installer and its version."""
    return make_key(
        "deps",
        lock.read_bytes(),
        *_local.fingerprint(lock_reach(fn, lock)),
        _target(fn),
        *_links(fn),
        fn.installer,
        tool_versions(),
        installer_env(),
    )


def dist_keys(fn: FunctionConfig, pins: Pins) -> dict[str, str]:
    """The key of each pin's installed distribution, by name. One depends on its pin (the files its hashes
    allow), where files come from, the target (which of the allowed files fits), the installer and its
    version. Not on the rest of the lock: it is installed with --no-deps."""
    shared = (
        *pins.options,
        _target(fn),
        fn.installer,
        tool_versions(),
        # No find-links listing (it holds file times): the hashes already name the files. No installer variable
        # that only says where uv keeps its own cache or how it reports: the same wheel installs the same files.
        "\n".join(line for line in installer_env().splitlines() if not line.startswith(_LOCAL_ONLY)),
    )
    vouched = {canonicalize_name(n) for n in fn.build_from_source}
    # Built on this machine from its sdist only where the user vouched for that (resolve._binary.check_built):
    # then the machine's platform decides what was built, and machines share it only with their own kind.
    here = f"built on {platform.system()} {platform.machine()} {' '.join(platform.libc_ver())}"
    return {
        pin.name: make_key(
            "dist", pin.name, pin.version, *pin.hashes, here if pin.name in vouched else "wheels only", *shared
        )
        for pin in pins.pins
    }


# Installer variables that change nothing installed, and differ between machines (paths, output, parallelism).
_LOCAL_ONLY = (
    "UV_CACHE_DIR=",
    "PIP_CACHE_DIR=",
    "UV_NO_PROGRESS=",
    "PIP_PROGRESS_BAR=",
    "UV_CONCURRENT_",
    "UV_PYTHON_INSTALL_DIR=",
    "UV_TOOL_DIR=",
    "PIP_DISABLE_PIP_VERSION_CHECK=",
    "PIP_NO_WARN_SCRIPT_LOCATION=",
    "UV_LINK_MODE=",
)


def lock_reach(fn: FunctionConfig, lock: Path) -> _local.Reached:
    return _local.reach(_local.read_lines(lock), lock.parent, fn.project_dir)


def inputs_key(fn: FunctionConfig, out_dir: Path, code: StagingTree) -> str:
    """Everything a function's artifact is made from: if this matches, the previous artifact is still right."""
    files = [fn.project_dir / "pyproject.toml", fn.project_dir / "lpack.toml", fn.project_dir / ".lpackignore"]
    if fn.requirements is not None:
        files.append(fn.requirements)
    # A lock committed by `lpack lock` is installed instead of a fresh one (lpack.resolve.committed.LOCK_DIR).
    files.append(committed_path(fn))
    if fn.requirements is not None and fn.requirements.suffix in (".lock", ".toml"):
        # Another tool's lock is checked against its pyproject (uv lock --check), and a workspace member's own.
        files += [fn.requirements.parent / "pyproject.toml", fn.source / "pyproject.toml"]
    listed = [f"{f}\0{f.read_bytes().hex() if f.is_file() else '-'}" for f in files]
    return make_key(
        "artifact",
        repr(fn),
        str(out_dir),
        str(source_date_epoch()),
        tool_versions(),
        installer_env(),
        *listed,
        *_local.fingerprint(_requirements_reach(fn)),
        *_links(fn),
        code.content_hash(),
    )


def _requirements_reach(fn: FunctionConfig) -> _local.Reached:
    path = fn.requirements
    if path is None or not path.is_file():
        return _local.Reached()
    if kind_of(path) == "pyproject":
        project = read_toml(path).get("project")
        deps = project.get("dependencies") if isinstance(project, dict) else None
        lines = [str(d) for d in deps] if isinstance(deps, list) else []
    else:
        lines = _local.read_lines(path)
    return _local.reach(lines, path.parent, fn.project_dir)


def _links(fn: FunctionConfig) -> list[str]:
    # A local wheelhouse: a new or rebuilt wheel there may change what an unpinned lock resolves to.
    return [_local.listing(Path(link)) for link in fn.index.find_links if "://" not in link]
