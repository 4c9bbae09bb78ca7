"""pylock.toml (PEP 751), read and selected for the target with packaging's own reader (packaging.pylock).

`Pylock.select` evaluates markers, extras and dependency groups for the environment it is given, and picks
a wheel for the tags it is given: the Lambda target's, never the host's.
"""

from __future__ import annotations

from pathlib import Path

from packaging.pylock import (
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockUnsupportedVersionError,
    PylockValidationError,
)
from packaging.utils import canonicalize_name

from lpack.config.load import read_toml
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve.locks.base import Pin, Selection, check_groups, target_environment, target_tags, wheel_name
from lpack.resolve.runner import Runner, target_label

FIX = (
    "write pylock.toml again with wheels for the target, e.g. `uv export --format pylock.toml` after adding "
    "required-environments = [\"sys_platform == 'linux' and platform_machine == '{machine}'\"] under [tool.uv]"
)


def select(lock: Path, fn: FunctionConfig, runner: Runner) -> Selection:
    """The packages `fn` needs from `lock` (a PEP 751 file) for its target, with the extras and groups chosen."""
    check_groups(fn.lock_groups, lock)
    try:
        pylock = Pylock.from_dict(read_toml(lock))
    except (PylockValidationError, PylockUnsupportedVersionError) as err:
        raise ConfigError(
            f"{lock.name}: not a valid PEP 751 lock: {err}", hint="write it again with its tool"
        ) from None
    groups = fn.lock_groups or None  # None: the lock's default groups, as PEP 751 says
    try:
        chosen = list(
            pylock.select(
                environment=target_environment(fn),  # type: ignore[arg-type]
                tags=target_tags(fn),
                extras=fn.lock_extras,
                dependency_groups=groups,
            )
        )
    except PylockSelectError as err:
        raise ResolveError(f"{lock.name} for {target_label(fn)}: {err}", hint=_hint(fn)) from None
    pins = []
    for package, dist in chosen:
        if not isinstance(dist, PackageWheel | PackageSdist):
            raise ResolveError(
                f"{lock.name}: '{package.name}' comes from a {type(dist).__name__.removeprefix('Package').lower()}, "
                "not an index",
                hint="lpack installs a lock's index packages with their hashes: publish it as a wheel, or make it "
                "part of the function's code",
            )
        files: list[PackageWheel | PackageSdist] = [
            *(package.wheels or ()),
            *([package.sdist] if package.sdist else []),
        ]
        hashes = tuple(f"sha256:{f.hashes['sha256']}" for f in files if "sha256" in f.hashes)
        wheels = tuple(wheel_name(w.name or w.url or str(w.path or "")) for w in package.wheels or ())
        version = str(package.version) if package.version is not None else ""
        pins.append(
            Pin(
                name=canonicalize_name(package.name),
                version=version,
                hashes=hashes,
                wheels=wheels,
                sdist=bool(package.sdist),
            )
        )
    return Selection(pins=tuple(pins), direct=frozenset(p.name for p in pins))


def _hint(fn: FunctionConfig) -> str:
    return FIX.format(machine="aarch64" if fn.architecture == "arm64" else "x86_64")
