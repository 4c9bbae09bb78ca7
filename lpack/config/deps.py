"""Which file names a Python function's dependencies when the config names none.

A requirements.txt beside the handler that nobody mentions in the config used to be ignored: the zip
shipped without its dependencies and the build said nothing. Now the usual files are looked for in the
function's source directory and the project directory; one is used (and the build says which), several are
a usage error that lists them, and a file that exists but is not the one used is a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from lpack.config.model import FunctionConfig
from lpack.config.readers import read_toml
from lpack.errors import ConfigError

DepKind = Literal["requirements", "requirements-in", "pyproject", "lock"]

# The dependency files lpack knows, by file name, in the order they are listed: name -> kind. The kind
# decides how lpack.resolve reads the file. Another tool's lock comes first: it pins what its pyproject asks for.
CANDIDATES: dict[str, DepKind] = {
    "uv.lock": "lock",
    "poetry.lock": "lock",
    "pylock.toml": "lock",
    "requirements.txt": "requirements",
    "requirements.in": "requirements-in",
    "pyproject.toml": "pyproject",
}


def kind_of(path: Path) -> DepKind:
    """How to read a dependency file the config names or discovery found: by name, else by suffix."""
    if path.name in CANDIDATES:
        return CANDIDATES[path.name]
    if path.name.startswith("pylock.") and path.suffix == ".toml":
        return "lock"  # PEP 751: pylock.NAME.toml
    return "requirements-in" if path.suffix == ".in" else "requirements"


def with_dependencies(fn: FunctionConfig) -> FunctionConfig:
    """`fn` with the dependency file it uses and what the build should say about the others.

    Only Python functions built from source are looked at: Node reads package.json, prebuilt is zipped as is.
    """
    if fn.role != "function" or fn.kind != "auto" or fn.runtime.language != "python":
        return fn
    found = candidates(fn)
    if fn.requirements is not None:
        unused = [p for p in found if p.resolve() != fn.requirements.resolve()]
        return replace(fn, dependency_warnings=_unused(unused, fn, f"`requirements = {_rel(fn.requirements, fn)}`"))
    if not found:
        return fn
    if len(found) > 1:
        listed = ", ".join(_describe(p, fn) for p in found)
        raise ConfigError(
            f'function "{fn.name}": several dependency files and no `requirements` key: {listed}',
            hint=f'set requirements = "{_rel(found[0], fn)}" (or another of them) in the config',
        )
    used = found[0]
    return replace(
        fn,
        requirements=used,
        dependency_note=f"dependencies from {_describe(used, fn)}: found, as the config names none",
    )


def candidates(fn: FunctionConfig) -> list[Path]:
    """The dependency files in the source directory and the project directory, a lock replacing its source.

    A requirements.txt compiled from requirements.in or pyproject.toml (pip-compile and `uv pip compile`
    name their input in its comments) is that file's lock: the pair is one candidate, the lock.
    """
    found: list[Path] = []
    for directory in _dirs(fn):
        here = [directory / name for name in CANDIDATES if _names_dependencies(fn, directory / name)]
        found += [p for p in here if not any(_compiled_from(other, p) for other in here if other != p)]
    return found


def _dirs(fn: FunctionConfig) -> list[Path]:
    dirs = [fn.source.resolve(), fn.project_dir.resolve()]
    return dirs[:1] if dirs[0] == dirs[1] else dirs


def _names_dependencies(fn: FunctionConfig, path: Path) -> bool:
    if not path.is_file():
        return False
    if kind_of(path) != "pyproject":
        return True
    data = _toml(path)
    project = data.get("project")
    if not isinstance(project, dict):
        return False
    # A project with a build backend is built into a wheel (its code and its dependencies) unless a source is set.
    builds = "build-system" in data and not fn.source_set and path.parent == fn.project_dir.resolve()
    return bool(project.get("dependencies")) or builds


def _compiled_from(lock: Path, source: Path) -> bool:
    if kind_of(lock) == "lock":
        # uv.lock, poetry.lock and a pylock.toml exported from them pin what the pyproject asks for.
        return kind_of(source) == "pyproject"
    if kind_of(lock) != "requirements" or kind_of(source) == "requirements":
        return False
    try:
        text = lock.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    comments = [line.partition("#")[2] for line in text.splitlines() if "#" in line]
    return any(source.name in comment for comment in comments)


def _toml(path: Path) -> dict[str, Any]:
    try:
        return read_toml(path)
    except ConfigError:
        return {}  # the config loader reports a broken pyproject.toml; here it names no dependencies


def _unused(paths: Iterable[Path], fn: FunctionConfig, used: str) -> tuple[str, ...]:
    return tuple(
        f"{_describe(p, fn)} is not used: dependencies come from {used} (delete it, or point `requirements` at it)"
        for p in paths
    )


def _describe(path: Path, fn: FunctionConfig) -> str:
    what = " [project] dependencies" if kind_of(path) == "pyproject" else ""
    return _rel(path, fn) + what


def _rel(path: Path, fn: FunctionConfig) -> str:
    try:
        return path.resolve().relative_to(fn.project_dir.resolve()).as_posix()
    except ValueError:
        return path.name
