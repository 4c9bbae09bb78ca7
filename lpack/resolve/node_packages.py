"""An installed node_modules tree read as packages: which cannot be bundled, and what each needs at run time.

A bundler inlines JavaScript; it cannot inline a compiled addon (`.node`), a package that compiles one
(`binding.gyp`), or one that picks its binary from a per-platform optional dependency at run time (sharp's
`@img/sharp-linux-x64`, esbuild's own). Those stay external: installed for the target by `npm ci`, and shipped
in node_modules with their dependency closure, resolved as Node.js does (nested node_modules first, then up).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def packages(node_modules: Path) -> Iterator[Path]:
    """Every installed package directory, nested ones included (node_modules/a/node_modules/b)."""
    if not node_modules.is_dir():
        return
    for child in sorted(node_modules.iterdir()):
        if child.name.startswith("."):
            continue
        if child.name.startswith("@") and child.is_dir():
            scoped = sorted(p for p in child.iterdir() if p.is_dir())
            for pkg in scoped:
                yield pkg
                yield from packages(pkg / "node_modules")
        elif child.is_dir():
            yield child
            yield from packages(child / "node_modules")


def manifest(pkg: Path) -> dict[str, Any]:
    try:
        data = json.loads((pkg / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dep_names(data: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for key in ("dependencies", "optionalDependencies", "peerDependencies"):
        value = data.get(key)
        names += sorted(value) if isinstance(value, dict) else []
    return names


def resolve_dep(pkg: Path, name: str, root: Path) -> Path | None:
    """Where Node.js finds `name` required from inside `pkg`: the nearest node_modules/name up to `root`."""
    here = pkg
    while True:
        found = here / "node_modules" / name
        if found.is_dir():
            return found
        if here == root or root not in here.parents:
            return None
        here = here.parent


def _has_addon(pkg: Path) -> bool:
    if (pkg / "binding.gyp").is_file():
        return True
    for _dirpath, dirnames, filenames in os.walk(pkg):
        dirnames[:] = [d for d in dirnames if d != "node_modules"]  # a nested package is judged on its own
        if any(f.endswith(".node") for f in filenames):
            return True
    return False


def _per_platform(pkg: Path, root: Path) -> bool:
    # sharp, esbuild, @swc/core: an optional dependency per os/cpu, chosen at run time. The ones for other
    # platforms are not installed at all; the target's one declares `os` or `cpu`.
    optional = manifest(pkg).get("optionalDependencies")
    if not isinstance(optional, dict) or not optional:
        return False
    for name in optional:
        found = resolve_dep(pkg, name, root)
        if found is None or "os" in manifest(found) or "cpu" in manifest(found):
            return True
    return False


def top_level_name(rel: str) -> str:
    """The package under the root node_modules that holds `rel` (node_modules/a/node_modules/b -> a)."""
    parts = rel.split("/")
    return "/".join(parts[1:3]) if parts[1].startswith("@") else parts[1]


def native(root: Path) -> set[str]:
    """Top-level package names that cannot be bundled: addons, binding.gyp, per-platform optional deps.

    A native package nested under another makes that other one external: the nested layout must stay as it is.
    """
    node_modules = root / "node_modules"
    found: set[str] = set()
    for pkg in packages(node_modules):
        if "os" in manifest(pkg) or "cpu" in manifest(pkg) or _has_addon(pkg) or _per_platform(pkg, root):
            found.add(top_level_name(pkg.relative_to(root).as_posix()))
    return found


def closure(root: Path, names: Iterable[str]) -> set[Path]:
    """The package directories `names` (top-level) need at run time, themselves included."""
    todo = [p for p in (root / "node_modules" / n for n in names) if p.is_dir()]
    seen: set[Path] = set()
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        for name in _dep_names(manifest(pkg)):
            found = resolve_dep(pkg, name, root)
            if found is not None and found not in seen:
                todo.append(found)
    return seen


def copy_packages(root: Path, dirs: Iterable[Path], dest: Path) -> None:
    """Copy package directories to the same place under `dest`; a nested one goes with its parent when both do."""
    chosen = sorted(dirs)
    for pkg in chosen:
        if any(other in pkg.parents for other in chosen):
            continue
        target = dest / pkg.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(pkg, target, symlinks=True, ignore=_not_needed(set(chosen)))


def _not_needed(chosen: set[Path]) -> Any:
    # Inside a copied package, its nested node_modules keeps only the packages the closure needs.
    def ignore(directory: str, names: list[str]) -> list[str]:
        here = Path(directory)
        scope = here.name.startswith("@") and here.parent.name == "node_modules"
        if here.name != "node_modules" and not scope:
            return []
        keep_scopes = here.name == "node_modules"
        return [n for n in names if here / n not in chosen and not (keep_scopes and n.startswith("@"))]

    return ignore


def tree_bytes(dirs: Iterable[Path]) -> int:
    total = 0
    for directory in dirs:
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = [d for d in dirnames if d != "node_modules"]  # nested packages count on their own
            total += sum((Path(dirpath) / f).lstat().st_size for f in filenames)
    return total
