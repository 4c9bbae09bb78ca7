"""Installer failures turned into typed errors that say what to do."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

from lpack.config.model import FunctionConfig
from lpack.errors import ResolveError
from lpack.resolve import _offered
from lpack.resolve.runner import target_label

NO_MATCHING_TAG = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==(?P<version>[^\s`]+))? has no wheels with a matching "
    r"(?P<what>platform|Python ABI|Python implementation|Python version)? ?tag"
)
# What uv says under --only-binary when a package offers no wheel at all for the target (only an sdist).
NO_USABLE_WHEELS = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==(?P<version>[^\s`]+))? has no usable wheels")
_PIP_NO_MATCH = re.compile(
    r"No matching distribution found for (?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==(?P<version>[^\s,;)]+))?"
)
_NATIVE_BUILT = re.compile(r"The built wheel `(?P<wheel>[^`]+)` is not compatible with the target")
_NOT_FOUND = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) was not found in the (?:package registry|provided)")
_HASH = re.compile(r"hash mismatch|do not match the hashes|must have a hash|not have a hash", re.IGNORECASE)


def explain_failure(fn: FunctionConfig, output: str, where: str, command: str) -> ResolveError:
    """Turn an installer's failure into one typed, actionable error."""
    details = f"$ {command}\n{output.strip()}"
    raw_output = output
    # uv wraps long lines to the terminal's width; match on the text with whitespace folded.
    output = " ".join(output.split())
    if match := _NATIVE_BUILT.search(output):
        name = match.group("wheel").split("-")[0]
        return ResolveError(
            f"resolving {where}: '{canonicalize_name(name)}' has only a source distribution with native code, "
            f"which cannot be built for {target_label(fn)} on this machine",
            hint=f"use a version of {canonicalize_name(name)} that publishes manylinux wheels, or build it for the "
            "target elsewhere and add the wheel with find-links",
            details=details,
        )
    if match := (NO_MATCHING_TAG.search(output) or NO_USABLE_WHEELS.search(output) or _PIP_NO_MATCH.search(output)):
        version = match.groupdict().get("version") or pinned_version(match.group("name"), output)
        return _no_wheel_error(fn, match.group("name"), version, where, details)
    if match := _NOT_FOUND.search(output):
        return ResolveError(
            f"resolving {where}: package '{match.group('name')}' was not found in the index",
            hint="check the name and version, and index-url / find-links",
            details=details,
        )
    if _HASH.search(output):
        return ResolveError(
            f"resolving {where}: a file for {target_label(fn)} does not match the hashes in the lock",
            hint="a lock made for one platform lacks the hashes of other platforms' wheels: re-lock with "
            "`uv pip compile --universal --generate-hashes` (or pip-compile on the target); "
            "if a file changed upstream, find out why before re-locking",
            details=details,
        )
    last = next((ln.strip() for ln in reversed(raw_output.splitlines()) if ln.strip()), "installer failed")
    return ResolveError(f"resolving {where}: {last}", hint="run with -v to see the installer's output", details=details)


def _no_wheel_error(fn: FunctionConfig, name: str, version: str | None, where: str, details: str) -> ResolveError:
    offered = _offered.offered_files(name, fn.index, fn.project_dir)
    summary = _offered.describe(name, version, offered, fn.runtime, fn.architecture)
    # lpack builds nothing for this machine unless told: say how, for a package that truly needs it.
    own = canonicalize_name(name)
    vouched = {canonicalize_name(n) for n in fn.build_from_source}
    build = f'; or build-from-source = ["{own}"] (built on this machine: only if that runs on {fn.runtime.name})'
    return ResolveError(
        f"resolving {where}: no wheel of '{own}' fits {target_label(fn)} "
        f"(glibc {fn.runtime.glibc[0]}.{fn.runtime.glibc[1]}); {summary.message}",
        hint=summary.hint + (build if "offers no wheels" in summary.message and own not in vouched else ""),
        details=details,
    )


def pinned_version(name: str, text: str) -> str | None:
    match = re.search(rf"(?im)^\s*{re.escape(name)}==([^\s;\\]+)", text)
    return match.group(1) if match else None
