"""Member names and symlinks of a zip read from outside: what would leave the tree, clash, or mean two things."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["file", "dir", "symlink"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveFinding:
    severity: Severity
    code: str  # "absolute-name", "parent-name", "duplicate-name", "symlink-outside", "bad-data", ...
    member: str
    message: str

    def describe(self) -> str:
        return f"{self.member!r}: {self.message}" if self.member else self.message


@dataclass(frozen=True, slots=True, kw_only=True)
class ZipEntry:
    name: str
    kind: Kind
    size: int  # declared unzipped bytes (a symlink's: its target's length)
    compressed: int
    mode: int  # permission bits, as the zip records them (0 when it records none)


_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_HOPS = 40  # Linux's own limit on symlinks followed in one lookup


def check_names(entries: Sequence[ZipEntry], links: Mapping[str, str | None]) -> Iterator[ArchiveFinding]:
    """Findings for names and symlinks; `links` maps each symlink member to its target (None: unreadable)."""
    seen: dict[str, ZipEntry] = {}
    for entry in entries:
        bad = _bad_name(entry.name)
        if bad is not None:
            yield _finding("error", bad[0], entry.name, bad[1])
            continue
        key = _key(entry.name)
        earlier = seen.get(key)
        if earlier is not None and not (earlier.kind == "dir" and entry.kind == "dir"):
            yield _finding("error", "duplicate-name", entry.name, "appears twice: which one Lambda unpacks is unclear")
        seen.setdefault(key, entry)
    yield from _under_non_directory(seen)
    yield from _symlinks(links, {k: v for k, v in links.items() if _bad_name(k) is None})


def _bad_name(name: str) -> tuple[str, str] | None:
    if not _key(name):
        return "empty-name", "an empty member name"
    if name.startswith("/") or _DRIVE.match(name):
        return "absolute-name", "an absolute name: unpacked, it would land outside the function's directory"
    if "\\" in name:
        return "backslash-name", "a backslash in the name: a separator on Windows, part of the name on Lambda"
    if ".." in name.split("/"):
        return "parent-name", "a '..' in the name: unpacked, it would land outside the function's directory"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "control-name", "a control character in the name"
    return None


def _key(name: str) -> str:
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def _under_non_directory(seen: Mapping[str, ZipEntry]) -> Iterator[ArchiveFinding]:
    for key, entry in seen.items():
        parts = key.split("/")
        for depth in range(1, len(parts)):
            parent = seen.get("/".join(parts[:depth]))
            if parent is not None and parent.kind != "dir":
                what = "a symlink" if parent.kind == "symlink" else "a file"
                yield _finding(
                    "error", "under-" + parent.kind, entry.name, f"inside {parent.name!r}, which is {what} in the zip"
                )
                break


def _symlinks(links: Mapping[str, str | None], good: Mapping[str, str | None]) -> Iterator[ArchiveFinding]:
    targets = {_key(k): v for k, v in good.items() if v}
    for name, target in links.items():
        if name not in good:
            continue  # its name is already a finding
        if not target:
            yield _finding("error", "symlink-outside", name, "a symlink with no readable target")
        elif _resolve(_key(name).split("/")[:-1] + target.split("/"), targets, absolute=target.startswith("/")):
            yield _finding("warning", "symlink", name, f"a symlink to {target!r} (inside the zip)")
        else:
            yield _finding(
                "error", "symlink-outside", name, f"a symlink to {target!r}, outside the function's tree (or a loop)"
            )


def _resolve(parts: list[str], links: Mapping[str, str | None], *, absolute: bool) -> bool:
    # Walks the path as the kernel would, following the zip's own symlinks: True when it stays inside the tree.
    if absolute:
        return False
    todo, done, hops = list(parts), list[str](), 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not done:
                return False
            done.pop()
            continue
        done.append(part)
        target = links.get("/".join(done))
        if target is None:
            continue
        hops += 1
        if hops > _MAX_HOPS or not target or target.startswith("/"):
            return False
        done.pop()
        todo[:0] = target.split("/")
    return True


def _finding(severity: Severity, code: str, member: str, message: str) -> ArchiveFinding:
    return ArchiveFinding(severity=severity, code=code, member=member, message=message)
