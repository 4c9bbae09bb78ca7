"""uv.lock: uv's own exporter chooses the packages (`uv export --frozen`), for the function's workspace member.

`uv export` is exact for what a lock holds and what extras and groups pull in, but it writes a universal
requirements file with markers; the markers are evaluated here for the target (an installer would use the
host's). uv.lock itself is read (tomllib) only for what the export leaves out: the files each package offers
(to fail early when none fits the target) and which workspace member a function is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from lpack.config.load import read_toml
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve.locks.base import Pin, Selection, check_groups, target_environment, wheel_name
from lpack.resolve.runner import Runner, uv_bin, uv_env

_LOCAL_SOURCES = ("virtual", "editable", "directory")

FIX = (
    "uv locks only the wheels of the environments it resolves for: add "
    "required-environments = [\"sys_platform == 'linux' and platform_machine == '{machine}'\"] "
    "under [tool.uv] in pyproject.toml and run `uv lock`"
)


def select(lock: Path, fn: FunctionConfig, runner: Runner) -> Selection:
    """The packages `fn` needs from `lock` (uv.lock) for its target: its member's, with its extras and groups."""
    check_groups(fn.lock_groups, lock)
    packages = _packages(lock)
    _check_current(lock, packages, fn.lock_groups)
    member = _member(packages, lock.parent, fn.source)
    env = target_environment(fn)
    pins = []
    for req, hashes in _exported(lock, fn, member, runner):
        if req.marker is None or req.marker.evaluate(env):
            pins.append(_pin(req, hashes, packages))
    return Selection(pins=tuple(pins), direct=_direct(packages, member, fn))


def _check_current(lock: Path, packages: list[dict[str, Any]], groups: tuple[str, ...]) -> None:
    """Refuse a uv.lock older than a pyproject.toml it covers: `uv export --frozen` would build the old pins.

    By hand, not `uv lock --check`: that needs an interpreter the project's requires-python admits (a python3.12
    project cannot be checked from a 3.11 host) and, offline, cannot tell a stale lock from a need for the network.
    Each local package's requirements (name, extras, specifier; markers are left out, as uv rewrites them) are
    compared with what uv recorded in `[package.metadata]`.
    """
    for package in packages:
        rel = _local_path(package)
        pyproject = lock.parent / rel / "pyproject.toml" if rel is not None else None
        if pyproject is None or not pyproject.is_file():
            continue
        data = read_toml(pyproject)
        metadata = package.get("metadata", {})
        pairs = [(_declared(data.get("project")), _recorded(metadata.get("requires-dist")))]
        for group in groups:
            declared = data.get("dependency-groups", {}).get(group)
            recorded = metadata.get("requires-dev", {}).get(group)
            if isinstance(declared, list) and all(isinstance(d, str) for d in declared):
                pairs.append((sorted(_key(Requirement(d)) for d in declared), _recorded(recorded)))
        if any(declared is not None and declared != recorded for declared, recorded in pairs):
            raise ConfigError(
                f"{lock.name} does not match {pyproject.relative_to(lock.parent).as_posix()}: "
                "its dependencies changed since `uv lock`",
                hint="run `uv lock` and commit uv.lock",
            )


def _declared(project: object) -> list[tuple[str, ...]] | None:
    # [project] dependencies and every extra's, flattened; None when they are dynamic (only a build knows them).
    if not isinstance(project, dict) or "dependencies" in project.get("dynamic", []):
        return None
    specs = [str(d) for d in project.get("dependencies", [])]
    specs += [str(d) for deps in project.get("optional-dependencies", {}).values() for d in deps]
    try:
        return sorted(_key(Requirement(s)) for s in specs)
    except InvalidRequirement:
        return None


def _recorded(entries: object) -> list[tuple[str, ...]]:
    if not isinstance(entries, list):
        return []
    found = []
    for entry in entries:
        if isinstance(entry, dict):
            extras = ",".join(sorted(canonicalize_name(e) for e in entry.get("extras", [])))
            spec = str(SpecifierSet(str(entry.get("specifier", ""))))
            found.append((canonicalize_name(str(entry.get("name"))), extras, spec))
    return sorted(found)


def _key(req: Requirement) -> tuple[str, ...]:
    return (canonicalize_name(req.name), ",".join(sorted(canonicalize_name(e) for e in req.extras)), str(req.specifier))


def _packages(lock: Path) -> list[dict[str, Any]]:
    packages = read_toml(lock).get("package", [])
    return [p for p in packages if isinstance(p, dict)] if isinstance(packages, list) else []


def _local_path(package: dict[str, Any]) -> str | None:
    source = package.get("source", {})
    for kind in _LOCAL_SOURCES:
        if isinstance(source, dict) and isinstance(source.get(kind), str):
            return str(source[kind])
    return None


def _member(packages: list[dict[str, Any]], root: Path, source: Path) -> dict[str, Any] | None:
    """The workspace member (or the root project) whose directory holds the function's source: the deepest."""
    best: tuple[int, dict[str, Any]] | None = None
    for package in packages:
        rel = _local_path(package)
        if rel is None:
            continue
        where = (root / rel).resolve()
        if source.resolve().is_relative_to(where) and (best is None or len(where.parts) > best[0]):
            best = (len(where.parts), package)
    return best[1] if best else None


def _exported(
    lock: Path, fn: FunctionConfig, member: dict[str, Any] | None, runner: Runner
) -> list[tuple[Requirement, tuple[str, ...]]]:
    cmd = [uv_bin(), "export", "--frozen", "--format", "requirements-txt", "--no-header", "--no-annotate"]
    cmd += ["--no-emit-workspace", "--no-default-groups"]
    if member is not None:
        cmd += ["--package", str(member["name"])]
    for extra in fn.lock_extras:
        cmd += ["--extra", extra]
    for group in fn.lock_groups:
        cmd += ["--group", group]
    proc = runner(cmd, env=uv_env(), cwd=lock.parent)
    if proc.returncode != 0:
        last = next((ln.strip() for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "uv export failed")
        raise ResolveError(
            f"{lock.name}: {last}",
            hint="check `extras` and `groups` against the project's pyproject.toml, and that uv.lock is current "
            "(`uv lock --check`)",
            details=f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}",
        )
    return parse_requirements(proc.stdout, lock)


def parse_requirements(text: str, lock: Path) -> list[tuple[Requirement, tuple[str, ...]]]:
    """`name==version ; marker --hash=...` entries of a requirements file, continuation lines joined."""
    found = []
    for entry in text.replace("\\\n", " ").splitlines():
        code = entry.split("#", 1)[0] if not entry.lstrip().startswith("--hash") else entry
        words = code.split()
        if not words:
            continue
        hashes = tuple(w.removeprefix("--hash=") for w in words if w.startswith("--hash="))
        spec = " ".join(w for w in words if not w.startswith("--hash="))
        try:
            found.append((Requirement(spec), hashes))
        except InvalidRequirement:
            raise ResolveError(
                f"{lock.name}: `{spec}` is not a package from an index",
                hint="lpack installs a lock's index packages with their hashes: publish it as a wheel, or make it "
                "part of the function's code",
            ) from None
    return found


def _pin(req: Requirement, hashes: tuple[str, ...], packages: list[dict[str, Any]]) -> Pin:
    version = next((s.version for s in req.specifier if s.operator == "=="), "")
    name = canonicalize_name(req.name)
    entry = next(
        (p for p in packages if canonicalize_name(str(p.get("name"))) == name and str(p.get("version")) == version),
        None,
    )
    if entry is None:
        return Pin(name=name, version=version, hashes=hashes, known_files=False)
    wheels = tuple(
        wheel_name(str(w.get("url") or w.get("path") or w.get("filename") or "")) for w in entry.get("wheels", [])
    )
    return Pin(name=name, version=version, hashes=hashes, wheels=wheels, sdist="sdist" in entry)


def _direct(packages: list[dict[str, Any]], member: dict[str, Any] | None, fn: FunctionConfig) -> frozenset[str]:
    if member is None:  # the whole lock: keep everything it names
        return frozenset(canonicalize_name(str(p.get("name"))) for p in packages if _local_path(p) is None)
    deps = list(member.get("dependencies", []))
    for table, chosen in (("optional-dependencies", fn.lock_extras), ("dev-dependencies", fn.lock_groups)):
        named = member.get(table, {})
        deps += [d for key in chosen for d in (named.get(key, []) if isinstance(named, dict) else [])]
    return frozenset(canonicalize_name(str(d.get("name"))) for d in deps if isinstance(d, dict))
