"""Nothing built for the host: uv locks and installs wheels only, unless a package may be built.

Told to build an sdist for a foreign target, uv compiles it for this machine: with the host's Python and
glibc, a wheel that fails on Lambda (or, as with pandas on python3.9, 400 s of compiling first). So every
uv run gets `--only-binary :all:`: an unpinned requirement resolves to the newest version with a wheel for
the target, a pinned one without such a wheel fails at once. Two kinds of package may still be built, each
named with `--no-binary` (uv then builds that one from source, every other package stays wheels-only):
one that publishes no platform wheels at all, which is probably pure Python and is checked after the
install to have built a `py3-none-any` wheel; and one the config lists in `build-from-source` ("built on
this machine": the user vouches for it, the artifact audit still checks its ELF files).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.tags import Tag, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from lpack import runtimes
from lpack.config.model import FunctionConfig
from lpack.errors import ResolveError
from lpack.resolve import _offered
from lpack.resolve._errors import NO_MATCHING_TAG, NO_USABLE_WHEELS
from lpack.resolve.runner import target_label

# email's header parser and packaging's requirement parser are imported where a fresh install is checked:
# every build imports this module, a no-change rebuild never calls it.
if TYPE_CHECKING:
    from packaging.requirements import Requirement

_BUILD_DISABLED = re.compile(r"Building source distributions is disabled, but attempted to build `(?P<name>[^`]+)`")

Attempt = Callable[[list[str]], subprocess.CompletedProcess[str]]


def build_args(allowed: Iterable[str]) -> list[str]:
    """uv's flags: wheels only, except the packages in `allowed`, which are built from their sdists."""
    args = ["--only-binary", ":all:"]
    for name in sorted(allowed):
        args += ["--no-binary", name]
    return args


def run_binary_only(fn: FunctionConfig, attempt: Attempt) -> tuple[subprocess.CompletedProcess[str], frozenset[str]]:
    """Run `attempt` with wheels only; a package that needs building and may be built is allowed, and again.

    Returns the last run and the packages allowed to build. A failure is the caller's to explain.
    """
    allowed: set[str] = set()
    while True:
        proc = attempt(build_args(allowed))
        if proc.returncode == 0:
            return proc, frozenset(allowed)
        found = needs_building(proc.stdout + proc.stderr)
        if found is None or found[0] in allowed or not (found[1] or may_build(fn, found[0])):
            return proc, frozenset(allowed)
        allowed.add(found[0])


def needs_building(output: str) -> tuple[str, bool] | None:
    """The package uv would have had to build (canonical name), and whether the requirements name its source.

    A package given by path or URL (the user's own code, a local wheelhouse's sdist) is built: there is no
    index to offer a wheel. It is checked after the install like every build.
    """
    text = " ".join(output.split())
    if match := _BUILD_DISABLED.search(text):
        return canonicalize_name(match.group("name")), True
    match = NO_USABLE_WHEELS.search(text) or NO_MATCHING_TAG.search(text)
    return (canonicalize_name(match.group("name")), False) if match else None


def may_build(fn: FunctionConfig, name: str) -> bool:
    """Whether `name`'s sdist may be built: listed in build-from-source, or with no platform wheels anywhere."""
    if name in {canonicalize_name(n) for n in fn.build_from_source}:
        return True
    files = _offered.offered_files(name, fn.index, fn.project_dir)
    return bool(files) and all(_pure(f) for f in files if f.endswith(".whl"))


def _pure(wheel: str) -> bool:
    try:
        tags = parse_wheel_filename(wheel)[3]
    except InvalidWheelFilename:
        return False
    return _pure_tags(tags)


def _pure_tags(tags: Iterable[Tag]) -> bool:
    tags = list(tags)
    return bool(tags) and all(t.abi == "none" and t.platform == "any" for t in tags)


def check_built(fn: FunctionConfig, site: Path, built: frozenset[str]) -> list[str]:
    """Notes on packages built from source into `site`; a wheel that does not fit the target fails the build.

    Every installed distribution is checked, not only those this run allowed to build: uv reuses a wheel it
    built earlier (for the lock, or another project) even under --only-binary.
    """
    vouched = {canonicalize_name(n) for n in fn.build_from_source}
    target = set(runtimes.supported_tags(fn.runtime, fn.architecture))
    notes = [f"{name}: built from source into a pure-Python wheel (no wheel to install)" for name in sorted(built)]
    for name, tags in sorted(_installed_tags(site).items()):
        if not tags or set(tags) & target:
            continue
        if name in vouched:
            notes.append(f"{name}: built on this machine from its source distribution (build-from-source)")
            continue
        shown = ", ".join(sorted(str(t) for t in tags))
        raise ResolveError(
            f"resolving for {target_label(fn)}: {name} has no wheel for the target, and its source distribution "
            f"built a wheel for this machine ({shown}), not a pure-Python one",
            hint=f"use a version of {name} with manylinux wheels for {fn.architecture}, or add it to "
            f'build-from-source = ["{name}"] if a build on this machine runs on {fn.runtime.name}',
        )
    return [n for n in notes if not n.startswith(tuple(f"{v}: no wheel" for v in vouched))]


def _installed_tags(site: Path) -> dict[str, list[Tag]]:
    from email.parser import HeaderParser  # noqa: PLC0415 - see the imports

    found: dict[str, list[Tag]] = {}
    for wheel_file in site.glob("*.dist-info/WHEEL"):
        meta = HeaderParser().parsestr(wheel_file.read_text(encoding="utf-8", errors="replace"))
        name = canonicalize_name(wheel_file.parent.name.split("-", 1)[0])  # dist-info names escape "-"
        found[name] = [tag for value in meta.get_all("Tag") or [] for tag in parse_tag(value)]
    return found


def newer_releases(fn: FunctionConfig, lines: list[str], lock: Path) -> list[str]:
    """Notes on unpinned direct requirements locked to an older version than the newest release they allow.

    Wheels only means an unpinned name resolves to the newest version with a wheel for the target; the user
    should know when that is not the newest release. One look at the index per unpinned name, on a fresh lock.
    """
    pins = _pins(lock)
    notes: list[str] = []
    for line in lines:
        req = _requirement(line)
        if req is None or any(s.operator in ("==", "===") for s in req.specifier):
            continue
        name = canonicalize_name(req.name)
        locked = pins.get(name)
        offered = [v for v in map(_file_version, _offered.offered_files(name, fn.index, fn.project_dir)) if v]
        allowed = [v for v in offered if not v.is_prerelease and req.specifier.contains(v)]
        if locked is not None and allowed and max(allowed) > locked:
            notes.append(
                f"{name}: locked {locked}, the newest version with a wheel for {target_label(fn)}; "
                f"{max(allowed)} is newer but has no wheel for it (or needs another Python)"
            )
    return notes


def _requirement(line: str) -> Requirement | None:
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415 - see the imports

    try:
        return Requirement(line)
    except InvalidRequirement:
        return None


def _pins(lock: Path) -> dict[str, Version]:
    found: dict[str, Version] = {}
    for raw in lock.read_text(encoding="utf-8").splitlines():
        name, sep, rest = raw.strip().partition("==")
        if sep and not raw.startswith((" ", "#")):
            try:
                found[canonicalize_name(name)] = Version(rest.split()[0].rstrip("\\").split(";")[0])
            except InvalidVersion:
                continue
    return found


def _file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
