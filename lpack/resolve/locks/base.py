"""What every lock format comes down to: pins with the hashes the lock holds, for one Lambda target.

Each format's reader selects the packages for the target (markers evaluated for the runtime's Python on
Linux and the target's machine, never the host's) and returns Pins; `render` writes them in pip-tools'
requirements format, which uv and pip install with `--require-hashes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from lpack import runtimes
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve.runner import target_label

# Groups that hold tools for developing the function, never code it runs.
DEV_GROUPS = frozenset({"dev", "dev-dependencies"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Pin:
    name: str  # canonical
    version: str
    hashes: tuple[str, ...]  # "sha256:<hex>", one per file the lock records
    wheels: tuple[str, ...] = ()  # wheel file names the lock offers; empty with `sdist`: build from source
    sdist: bool = False
    known_files: bool = True  # False: the lock names no files (the installer alone finds them)


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """What one function takes from a lock: the packages for its target, and which ones it asked for."""

    pins: tuple[Pin, ...]
    direct: frozenset[str]


def target_environment(fn: FunctionConfig) -> dict[str, str]:
    """PEP 508 marker variables on Lambda for `fn`'s runtime and architecture.

    The patch version is unknown (AWS updates it): x.y.0 stands in, which decides only markers on a patch.
    """
    assert fn.runtime.version is not None
    version = "{}.{}".format(*fn.runtime.version)
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": runtimes.machine_name(fn.architecture),
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
    }


def target_tags(fn: FunctionConfig) -> list[Tag]:
    return runtimes.supported_tags(fn.runtime, fn.architecture)


def check_groups(groups: Iterable[str], lock: Path) -> None:
    dev = sorted(g for g in groups if canonicalize_name(g) in DEV_GROUPS)
    if dev:
        raise ConfigError(
            f"groups: {', '.join(dev)} is a development group; its packages never go into a Lambda artifact",
            hint=f"remove it from `groups`, or move what the function imports to another group of {lock.name}",
        )


def check_wheels(fn: FunctionConfig, pins: Iterable[Pin], lock: Path, fix: str) -> None:
    """Fail naming the first package whose lock offers wheels, none of which the target can install."""
    tags = set(target_tags(fn))
    for pin in pins:
        if not pin.known_files or not pin.wheels or _fits(pin.wheels, tags):
            continue
        offered = sorted({t.platform for w in pin.wheels for t in _tags(w)})
        raise ResolveError(
            f"{lock.name}: no wheel of '{pin.name}' {pin.version} in the lock fits {target_label(fn)} "
            f"(the lock has wheels for {', '.join(offered) or 'no platform'})",
            hint=fix,
        )


def _tags(wheel: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(wheel)[3]
    except InvalidWheelFilename:
        return frozenset()


def _fits(wheels: Iterable[str], tags: set[Tag]) -> bool:
    return any(_tags(w) & tags for w in wheels)


def check_hashed(pins: Iterable[Pin], lock: Path) -> None:
    for pin in pins:
        if not pin.hashes:
            raise ResolveError(
                f"{lock.name}: '{pin.name}' {pin.version} has no hash in the lock",
                hint="lpack installs a lock with --require-hashes: lock it from an index that serves hashes "
                "(a path, git or URL dependency has none: publish it as a wheel, or vendor it as code)",
            )


def render(pins: Iterable[Pin], *, via: str) -> list[str]:
    """pip-tools' requirements format: one pin per package, a --hash per file, and where it came from."""
    lines: list[str] = []
    for pin in sorted(pins, key=lambda p: p.name):
        hashes = sorted(set(pin.hashes))
        lines.append(f"{pin.name}=={pin.version}" + (" \\" if hashes else ""))
        lines += [f"    --hash={h}" + (" \\" if i < len(hashes) - 1 else "") for i, h in enumerate(hashes)]
        lines.append(f"    # via {via}")
    return lines


def wheel_name(location: str) -> str:
    # A URL's or path's last part: the file name that carries the wheel's tags.
    return location.rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0]
