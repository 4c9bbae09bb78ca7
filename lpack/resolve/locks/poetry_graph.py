"""poetry.lock before lock-version 2.1 (Poetry 1.x): the packages a function needs, found by walking the graph.

Those locks record every package of every group with no note of who needs it, so the walk starts at the
pyproject's dependencies (main, plus the chosen groups and extras) and follows each locked package's
dependencies whose conditions hold on the target. Conditions are PEP 508 markers (packaging evaluates them)
or Poetry's `python` constraints ("^3.8", "~3.9", ">=3.8,<4.0", "3.9 || 3.10"), translated here to PEP 440
specifiers because packaging does not speak Poetry's caret and tilde.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

# (name, extras wanted) for each dependency whose condition holds on the target
Edge = tuple[str, frozenset[str]]
_CARET = re.compile(r"^\^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_TILDE = re.compile(r"^~(?!=)\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$")


def python_allows(constraint: str, python: str) -> bool:
    """Whether Poetry's python constraint admits the target's `python` ("3.12.0"); unknown syntax admits it."""
    version = Version(python)
    for alternative in constraint.split("||"):
        parts = [p.strip() for p in re.split(r",|\s+(?=[<>=!^~])", alternative.strip()) if p.strip()]
        try:
            if all(_one(part).contains(version, prereleases=True) for part in parts):
                return True
        except InvalidSpecifier:
            return True  # a constraint we cannot read narrows nothing: the lock's own choice stands
    return False


def _one(part: str) -> SpecifierSet:
    if part in ("*", ""):
        return SpecifierSet()
    for pattern, upper in ((_CARET, _caret_upper), (_TILDE, _tilde_upper)):
        if match := pattern.match(part):
            nums = [int(n) if n is not None else None for n in match.groups()]
            low = ".".join(str(n) for n in nums if n is not None)
            return SpecifierSet(f">={low},<{upper(nums)}")
    if part[0].isdigit():  # Poetry's "3.9" is any 3.9.x
        return SpecifierSet(f"=={part}.*" if part.count(".") < 2 else f"=={part}")
    return SpecifierSet(part)


def _caret_upper(nums: list[int | None]) -> str:
    # ^1.2.3 -> <2.0.0; ^0.2.3 -> <0.3.0; ^0.0.3 -> <0.0.4 (the first non-zero part is kept)
    values = [n or 0 for n in nums]
    given = [n for n in nums if n is not None]
    for i, n in enumerate(values[: len(given)]):
        if n != 0 or i == len(given) - 1:
            return ".".join(str(v) for v in [*values[:i], n + 1])
    return str(values[0] + 1)


def _tilde_upper(nums: list[int | None]) -> str:
    # ~1.2.3 -> <1.3; ~1.2 -> <1.3; ~1 -> <2
    major, minor = nums[0] or 0, nums[1]
    return f"{major}.{minor + 1}" if minor is not None else str(major + 1)


def holds(spec: dict[str, Any], env: dict[str, str], extras: frozenset[str]) -> bool:
    """Whether a Poetry dependency table's conditions (`markers`, `python`, `platform`) hold on the target."""
    if "python" in spec and not python_allows(str(spec["python"]), env["python_full_version"]):
        return False
    if "platform" in spec and str(spec["platform"]) != env["sys_platform"]:
        return False
    if "markers" in spec:
        try:
            marker = Marker(str(spec["markers"]))
        except InvalidMarker:
            return True
        return any(marker.evaluate({**env, "extra": e}) for e in (extras or {""}))
    return True


def edges(deps: object, env: dict[str, str], *, chosen: frozenset[str], extras: frozenset[str]) -> Iterator[Edge]:
    """The dependencies (a Poetry table or PEP 508 strings) wanted on the target; optional ones only when an
    extra in `chosen` names them."""
    items = deps.items() if isinstance(deps, dict) else ((None, d) for d in deps) if isinstance(deps, list) else ()
    for name, spec in items:
        if name is None:
            yield from _pep508(str(spec), env, extras)
            continue
        for one in spec if isinstance(spec, list) else [spec]:
            table = one if isinstance(one, dict) else {}
            if table.get("optional") and canonicalize_name(str(name)) not in chosen:
                continue
            if holds(table, env, extras):
                yield canonicalize_name(str(name)), frozenset(canonicalize_name(e) for e in table.get("extras", []))


def _pep508(spec: str, env: dict[str, str], extras: frozenset[str]) -> Iterator[Edge]:
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        return
    if req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
        yield canonicalize_name(req.name), frozenset(canonicalize_name(e) for e in req.extras)
