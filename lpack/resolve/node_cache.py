"""What a bundle's build reuses from lpack's cache: the `npm ci` tree for one lock and target, and a digest of
the project files a bundle may read (any of them: esbuild follows imports anywhere in the project).

    deps/<key>/install/node_modules   what `npm ci` installed for the target (never changed once in place)
    deps/<key>/files.json             sha256 of every file in it, checked before the tree is used
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from lpack.cache import Cache, make_key
from lpack.config.model import FunctionConfig
from lpack.errors import ResolveError
from lpack.resolve.keys import tool_versions
from lpack.resolve.node import npm_bin, resolve_node
from lpack.resolve.runner import Runner

# Never part of what a bundle reads: installed trees, VCS data, other tools' outputs.
NOT_PROJECT = frozenset({"node_modules", ".git", ".aws-sam", "cdk.out", "__pycache__", ".venv"})


def install(fn: FunctionConfig, project: Path, runner: Runner, cache: Cache | None) -> bool:
    """`npm ci` for the target into `project`/node_modules, or a verified copy of the same install from `cache`."""
    manifest = fn.requirements or fn.project_dir / "package.json"
    lock = manifest.with_name("package-lock.json")
    if cache is None or not lock.is_file():
        return resolve_node(fn, project, runner=runner)
    key = make_key(
        "node-deps", manifest.read_bytes(), lock.read_bytes(), fn.architecture, str(fn.node_scripts), _npm_version()
    )
    key = make_key(key, tool_versions())
    installed: list[bool] = []

    def make(entry: Path) -> None:
        installed.append(resolve_node(fn, entry / "install", runner=runner))
        (entry / "files.json").write_text(json.dumps(_digests(entry / "install" / "node_modules"), sort_keys=True))

    entry, _hit = cache.obtain("deps", key, make)
    tree = entry / "install" / "node_modules"
    if not tree.is_dir():
        return installed[0] if installed else False  # a project without dependencies
    if json.loads((entry / "files.json").read_text()) != _digests(tree):
        shutil.rmtree(entry, ignore_errors=True)  # changed since it was made: never trusted, made again
        return install(fn, project, runner, cache)
    shutil.copytree(tree, project / "node_modules", symlinks=True, copy_function=_link_or_copy)
    return True


def _npm_version() -> str:
    # npm's own package.json beside its bin/ (a link resolved): no node process started for every build.
    found = Path(npm_bin()).resolve().parent.parent / "package.json"
    try:
        data = json.loads(found.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("name") == "npm" and isinstance(data.get("version"), str):
            return str(data["version"])
    except (OSError, ValueError):
        pass
    try:
        out = subprocess.run([npm_bin(), "--version"], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        raise ResolveError(f"npm --version failed: {err}", hint="check the npm installation") from None
    return out.stdout.strip()


def _digests(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    if not root.is_dir():
        return found
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _link_or_copy(src: str, dst: str) -> object:
    # A hard link costs nothing; the build only reads node_modules (what ships is copied again from here).
    try:
        os.link(src, dst)
    except OSError:
        return shutil.copy2(src, dst)
    return dst


def project_digest(fn: FunctionConfig, out_dir: Path) -> str:
    """A hash of every project file a bundle could read, so a cached result never outlives one of them."""
    root, out = fn.project_dir.resolve(), out_dir.resolve()
    digest = hashlib.sha256()
    skip: Callable[[Path], bool] = lambda p: p.name in NOT_PROJECT or p == out  # noqa: E731
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        dirs[:] = sorted(d for d in dirs if not skip(here / d))
        for name in sorted(files):
            path = here / name
            digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()
