"""A hash-pinned lock read as one pin per distribution, so each can be installed and cached on its own.

Only the plain shape qualifies: `name==version --hash=sha256:...` lines (pip-tools' and uv's output) and the
index options that apply to all of them. Anything else (a marker, an extra, a URL or path, an include, an
editable, a per-file option such as --no-binary) returns None, and the lock is installed whole as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from lpack.resolve._local import read_lines

_PIN = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*(?P<version>[A-Za-z0-9.+!_-]+)"
    r"(?P<hashes>(?:\s+--hash[=\s]sha256:[0-9a-fA-F]{64})+)\s*"
)
_HASH = re.compile(r"sha256:([0-9a-fA-F]{64})")
# Options that say where every file comes from: carried into each distribution's install and its key.
_INDEX_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--no-index", "--trusted-host")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pin:
    name: str  # canonical
    version: str
    hashes: tuple[str, ...]  # sha256 hex digests, sorted: the files the installer may pick from
    line: str  # the logical line as written (continuations joined)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pins:
    options: tuple[str, ...]  # index option lines, as written
    pins: tuple[Pin, ...]


def read_pins(lock: Path) -> Pins | None:
    """The lock's pins, or None when any line is not a plain hash pin or an index option."""
    options: list[str] = []
    pins: dict[str, Pin] = {}
    for line in read_lines(lock):
        if line.startswith("-"):
            option, _, value = line.replace("=", " ", 1).partition(" ")
            if option not in _INDEX_OPTIONS or _relative_path(option, value.strip()):
                return None  # a relative path is read against the lock's directory: the copy would lose it
            options.append(line)
            continue
        match = _PIN.fullmatch(line)
        if match is None:
            return None
        name = canonicalize_name(match.group("name"))
        if name in pins:
            return None  # the same distribution twice: the installer decides, not us
        hashes = tuple(sorted(h.lower() for h in _HASH.findall(match.group("hashes"))))
        pins[name] = Pin(name=name, version=match.group("version"), hashes=hashes, line=line)
    return Pins(options=tuple(options), pins=tuple(pins.values()))


def _relative_path(option: str, value: str) -> bool:
    return option not in ("--trusted-host", "--no-index") and "://" not in value and not value.startswith("/")


def write_lock(path: Path, options: tuple[str, ...], pins: list[Pin]) -> None:
    """A lock of `pins` only (with the index options), for installing a few distributions with --no-deps."""
    path.write_text("".join(f"{line}\n" for line in (*options, *(p.line for p in pins))), encoding="utf-8")
