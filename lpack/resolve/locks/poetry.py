"""poetry.lock, read with tomllib and selected for the target with packaging's markers.

Poetry's exporter needs Poetry and poetry-plugin-export installed next to lpack, and exports markers for
every environment; the selection is small enough to do here. Lock version 2.1 (Poetry 2.1+) records on each
package the groups that need it and the marker under which they do, so no graph walk or Poetry-specific
constraint syntax is involved: a package goes in when one of the chosen groups lists it and its marker holds on
the target (with the chosen extras). Older locks (Poetry 1.x) lack those fields: poetry_graph walks their
dependency graph from the pyproject instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from lpack.config.load import read_toml
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError
from lpack.resolve.locks import poetry_graph as graph
from lpack.resolve.locks.base import Pin, Selection, check_groups, target_environment, wheel_name
from lpack.resolve.runner import Runner

FIX = (
    "Poetry locks the files the index offers for the versions it picked; none is for {machine}: "
    "pin a version of the package that publishes manylinux wheels for it, and run `poetry lock`"
)


def select(lock: Path, fn: FunctionConfig, runner: Runner) -> Selection:
    """The packages `fn` needs from `lock` (poetry.lock) for its target: main plus the chosen groups and extras."""
    check_groups(fn.lock_groups, lock)
    data = read_toml(lock)
    version = str(data.get("metadata", {}).get("lock-version", "?"))
    if tuple(int(p) for p in version.split(".") if p.isdigit()) < (2, 1):
        pyproject = lock.parent / "pyproject.toml"
        packages = _walk(data, read_toml(pyproject) if pyproject.is_file() else {}, fn, lock)
        return Selection(pins=tuple(_pin(p) for p in packages), direct=_direct(lock.parent / "pyproject.toml", fn))
    groups = {"main", *fn.lock_groups}
    extras: set[str] = {canonicalize_name(e) for e in fn.lock_extras}
    optional = _optional_names(data, extras)
    pins = []
    for package in data.get("package", []):
        if isinstance(package, dict) and _wanted(package, groups, extras, optional, fn=fn, lock=lock):
            pins.append(_pin(package))
    return Selection(pins=tuple(pins), direct=_direct(lock.parent / "pyproject.toml", fn))


def _optional_names(data: dict[str, Any], extras: set[str]) -> set[str]:
    table = data.get("extras", {})
    if not isinstance(table, dict):
        return set()
    return {
        canonicalize_name(str(n).split()[0])
        for key, names in table.items()
        if canonicalize_name(key) in extras
        for n in names
    }


def _wanted(
    package: dict[str, Any], groups: set[str], extras: set[str], optional: set[str], *, fn: FunctionConfig, lock: Path
) -> bool:
    env = target_environment(fn)
    markers = package.get("markers")
    for group in set(package.get("groups", [])) & groups:
        text = markers.get(group) if isinstance(markers, dict) else markers
        if text is None:
            # An optional package with no marker: wanted only through a chosen extra.
            if not package.get("optional") or canonicalize_name(str(package["name"])) in optional:
                return True
            continue
        try:
            marker = Marker(str(text))
        except InvalidMarker as err:
            raise ConfigError(f"{lock.name}: package {package.get('name')}: {err}", hint="run `poetry lock`") from None
        if any(marker.evaluate({**env, "extra": extra}) for extra in (extras or {""})):
            return True
    return False


def _pin(package: dict[str, Any]) -> Pin:
    files = [f for f in package.get("files", []) if isinstance(f, dict)]
    names = [wheel_name(str(f.get("file", ""))) for f in files]
    return Pin(
        name=canonicalize_name(str(package["name"])),
        version=str(package.get("version", "")),
        hashes=tuple(str(f["hash"]) for f in files if str(f.get("hash", "")).startswith("sha256:")),
        wheels=tuple(n for n in names if n.endswith(".whl")),
        sdist=any(not n.endswith(".whl") for n in names),
        known_files=bool(files),
    )


def _direct(pyproject: Path, fn: FunctionConfig) -> frozenset[str]:
    data = read_toml(pyproject) if pyproject.is_file() else {}
    names = [str(d) for d in data.get("project", {}).get("dependencies", [])]
    poetry = data.get("tool", {}).get("poetry", {})
    names += [n for n in poetry.get("dependencies", {}) if n != "python"]
    for group in fn.lock_groups:
        names += list(poetry.get("group", {}).get(group, {}).get("dependencies", {}))
        names += [str(d) for d in data.get("dependency-groups", {}).get(group, []) if isinstance(d, str)]
    return frozenset(canonicalize_name(_name_of(n)) for n in names)


def _name_of(spec: str) -> str:
    # "requests[socks]>=2 ; python_version < '3.13'" -> "requests"
    end = next((i for i, c in enumerate(spec) if not (c.isalnum() or c in "-_.")), len(spec))
    return spec[:end]


def _walk(data: dict[str, Any], pyproject: dict[str, Any], fn: FunctionConfig, lock: Path) -> list[dict[str, Any]]:
    """The locked packages reachable from the pyproject's chosen dependencies on the target (lock-version < 2.1)."""
    env = target_environment(fn)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in data.get("package", []):
        if isinstance(package, dict):
            by_name.setdefault(canonicalize_name(str(package.get("name"))), []).append(package)
    found: dict[str, dict[str, Any]] = {}
    done: dict[str, frozenset[str]] = {}
    queue = _roots(pyproject, fn, env)
    while queue:
        name, extras = queue.pop()
        if name in done and extras <= done[name]:
            continue
        package = _choose(by_name.get(name, []), env)
        if package is None:
            raise ConfigError(
                f"{lock.name}: '{name}' is a dependency but not in the lock", hint="run `poetry lock` and commit it"
            )
        found[name], done[name] = package, done.get(name, frozenset()) | extras
        named = package.get("extras", {})
        chosen = {canonicalize_name(str(s).split()[0]) for e in extras for s in named.get(e, [])}
        queue += graph.edges(package.get("dependencies", {}), env, chosen=frozenset(chosen), extras=extras)
    return [found[n] for n in sorted(found)]


def _choose(candidates: list[dict[str, Any]], env: dict[str, str]) -> dict[str, Any] | None:
    # A lock may hold two versions of one package for different Pythons: the one the target's admits.
    fits = [
        p for p in candidates if graph.python_allows(str(p.get("python-versions", "*")), env["python_full_version"])
    ]
    return (fits or candidates)[0] if candidates else None


def _roots(pyproject: dict[str, Any], fn: FunctionConfig, env: dict[str, str]) -> list[graph.Edge]:
    poetry = pyproject.get("tool", {}).get("poetry", {})
    project = pyproject.get("project", {})
    extras = [canonicalize_name(e) for e in fn.lock_extras]
    optional = {canonicalize_name(_name_of(str(n))) for e in extras for n in _by_extra(poetry.get("extras", {}), e)}
    main = {k: v for k, v in poetry.get("dependencies", {}).items() if k != "python"}
    roots = [*graph.edges(main, env, chosen=frozenset(optional), extras=frozenset())]
    roots += graph.edges(project.get("dependencies", []), env, chosen=frozenset(), extras=frozenset())
    for extra in extras:
        roots += graph.edges(
            _by_extra(project.get("optional-dependencies", {}), extra), env, chosen=frozenset(), extras=frozenset()
        )
    for group in fn.lock_groups:
        roots += graph.edges(
            poetry.get("group", {}).get(group, {}).get("dependencies", {}), env, chosen=frozenset(), extras=frozenset()
        )
        strings = [d for d in pyproject.get("dependency-groups", {}).get(group, []) if isinstance(d, str)]
        roots += graph.edges(strings, env, chosen=frozenset(), extras=frozenset())
    return roots


def _by_extra(table: object, extra: str) -> list[Any]:
    if not isinstance(table, dict):
        return []
    return next((list(v) for k, v in table.items() if canonicalize_name(k) == extra), [])
