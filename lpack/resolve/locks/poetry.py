"""poetry.lock, read with tomllib and selected for the target with packaging's markers.

Poetry's exporter needs Poetry and poetry-plugin-export installed next to lpack, and exports markers for
every environment; the selection is small enough to do here. Lock version 2.1 (Poetry 2.1+) records on each
package the groups that need it and the marker under which they do, so no graph walk or Poetry-specific
constraint syntax is involved: a package goes in when one of the chosen groups lists it and its marker holds on
the target (with the chosen extras). Older locks lack those fields and are refused with the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from lpack.config.load import FunctionConfig, read_toml
from lpack.errors import ConfigError
from lpack.resolve.locks.base import Pin, Selection, check_groups, target_environment, wheel_name
from lpack.resolve.runner import Runner

FIX = (
    "Poetry locks the files the index offers for the versions it picked; none is for {machine}: "
    "pin a version of the package that publishes manylinux wheels for it, and run `poetry lock`"
)


def select(lock: Path, fn: FunctionConfig, runner: Runner) -> Selection:
    """The packages `fn` needs from `lock` (poetry.lock 2.1) for its target: main plus the chosen groups."""
    check_groups(fn.lock_groups, lock)
    data = read_toml(lock)
    version = str(data.get("metadata", {}).get("lock-version", "?"))
    if tuple(int(p) for p in version.split(".") if p.isdigit()) < (2, 1):
        raise ConfigError(
            f"{lock.name}: lock-version {version} does not record which groups need each package",
            hint="run `poetry lock` with Poetry 2.1 or later (it writes lock-version 2.1), and commit the lock",
        )
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
