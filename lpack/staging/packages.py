"""What an artifact holds, by package: Python distributions (dist-info aware), npm packages, the code.

Works on any listing of files, so the sizer (a StagingTree), `inspect` (any zip) and `diff` (two
artifacts or two reports) all name packages the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from packaging.utils import canonicalize_name

PackageKind = Literal["python", "node", "code"]

# Where Lambda puts packages on the import path inside a layer or function zip (packaging-layers.html).
_SITE_PREFIXES = (
    re.compile(r"^python/lib/python3\.\d+/site-packages/"),
    re.compile(r"^python/"),
)
_NODE_MODULES = re.compile(r"^(?:nodejs/(?:node\d+/)?)?node_modules/(?P<name>@[^/]+/[^/]+|[^/@][^/]*)")
_DIST_INFO = re.compile(r"^(?P<dir>[^/]+\.dist-info)/")


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    path: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    name: str  # "numpy", "@aws-sdk/client-s3", or for the project's own files their top-level entry
    version: str | None
    kind: PackageKind
    bytes: int
    files: int


Reader = Callable[[str], bytes]


def site_relative(path: str) -> str:
    """A path as Python sees it under its site directory: layer prefixes stripped."""
    for prefix in _SITE_PREFIXES:
        if prefix.match(path):
            return prefix.sub("", path, count=1)
    return path


@dataclass(frozen=True, slots=True, kw_only=True)
class _Owners:
    """Site-relative path -> distribution: exact files (from RECORD) and top-level names (top_level.txt)."""

    files: dict[str, str]
    tops: dict[str, str]
    versions: dict[str, str]
    dist_infos: dict[str, str]  # name -> its "*.dist-info" directory
    requires: dict[str, frozenset[str]]  # name -> canonical names in Requires-Dist, any marker or extra

    def owner(self, rel: str) -> str | None:
        found = self.files.get(rel) or self.tops.get(rel.split("/", 1)[0]) or self.tops.get(_top_module(rel))
        return found or self._guess(rel.split("/", 1)[0])

    def _guess(self, top: str) -> str | None:
        # Without RECORD (pruned: it is not reproducible) or top_level.txt (only setuptools writes one), a
        # directory may still be a known distribution's: auditwheel's vendored libraries ("numpy.libs",
        # "pillow.libs"), and import names that are the distribution's name less a common affix (attr ->
        # attrs, yaml -> pyyaml, dateutil -> python-dateutil).
        stem = str(canonicalize_name(top.removesuffix(".libs")))
        if top.endswith(".libs") and stem in self.versions:
            return stem
        for candidate in (f"{stem}s", f"py{stem}", f"python-{stem}", f"{stem}-python"):
            if candidate in self.versions and top == _top_module(top):
                return candidate
        return None


def python_owners(members: list[Member], read: Reader) -> _Owners:
    """Who owns what, from every *.dist-info: RECORD when present, else top_level.txt, else the name."""
    # email's header parser and packaging's requirement parser only when a tree is measured (not on a
    # no-change rebuild, which imports this module without measuring anything).
    from email.parser import HeaderParser  # noqa: PLC0415

    owners = _Owners(files={}, tops={}, versions={}, dist_infos={}, requires={})
    by_rel = {site_relative(m.path): m.path for m in members}
    dirs = sorted({m.group("dir") for rel in by_rel if (m := _DIST_INFO.match(rel))})
    for dist_info in dirs:
        meta_path = by_rel.get(f"{dist_info}/METADATA")
        if meta_path is None:
            continue
        meta = HeaderParser().parsestr(read(meta_path).decode("utf-8", "replace"))
        name = str(canonicalize_name(meta.get("Name") or dist_info.split("-")[0]))
        owners.versions[name] = meta.get("Version", "")
        owners.dist_infos[name] = dist_info
        owners.requires[name] = frozenset(_requirement_names(meta.get_all("Requires-Dist") or []))
        owners.tops[dist_info] = name
        _claim(owners, dist_info, name, by_rel, read)
    return owners


def _requirement_names(lines: list[str]) -> set[str]:
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415 - see python_owners

    names = set()
    for line in lines:
        try:
            names.add(str(canonicalize_name(Requirement(line).name)))
        except InvalidRequirement:
            continue
    return names


def _claim(owners: _Owners, dist_info: str, name: str, by_rel: dict[str, str], read: Reader) -> None:
    entry_points = by_rel.get(f"{dist_info}/entry_points.txt")
    if entry_points is not None:  # console scripts: bin/<name> belongs to the distribution that declares it
        for script in _console_scripts(read(entry_points).decode("utf-8", "replace")):
            owners.files.setdefault(f"bin/{script}", name)
    record = by_rel.get(f"{dist_info}/RECORD")
    if record is not None:  # exact, when the pruner kept it
        for line in read(record).decode("utf-8", "replace").splitlines():
            owners.files.setdefault(line.split(",", 1)[0], name)
        return
    top_level = by_rel.get(f"{dist_info}/top_level.txt")
    names = {n.strip() for n in read(top_level).decode("utf-8", "replace").splitlines()} if top_level else set()
    for top in {n for n in names if n and "/" not in n} or {name.replace("-", "_")}:
        owners.tops.setdefault(top, name)


def _console_scripts(text: str) -> list[str]:
    import configparser  # noqa: PLC0415 - see python_owners

    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # script names are case-sensitive
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    return list(parser["console_scripts"]) if parser.has_section("console_scripts") else []


def _top_module(rel: str) -> str:
    top = rel.split("/", 1)[0]
    if top == "__pycache__" and "/" in rel:
        return rel.split("/")[1].split(".", 1)[0]
    # "six.py", "_cffi_backend.cpython-312-x86_64-linux-gnu.so" -> "six", "_cffi_backend"
    return top.split(".", 1)[0] if "/" not in rel else top


def packages(members: Iterable[Member], read: Reader) -> tuple[Package, ...]:
    """Every package and top-level code entry with its bytes, largest first."""
    members = list(members)
    owners = python_owners(members, read)
    node_versions: dict[str, str | None] = {}
    totals: dict[tuple[str, PackageKind], list[int]] = {}
    for member in members:
        name, kind = _classify(member.path, owners, node_versions, read)
        total = totals.setdefault((name, kind), [0, 0])
        total[0] += member.size
        total[1] += 1
    versions = owners.versions | {k: v for k, v in node_versions.items() if v}
    found = [
        Package(name=n, version=versions.get(n) if k != "code" else None, kind=k, bytes=t[0], files=t[1])
        for (n, k), t in totals.items()
    ]
    return tuple(sorted(found, key=lambda p: (-p.bytes, p.name)))


def _classify(
    path: str, owners: _Owners, node_versions: dict[str, str | None], read: Reader
) -> tuple[str, PackageKind]:
    node = _NODE_MODULES.match(path)
    if node:
        name = node.group("name")
        if name not in node_versions:
            node_versions[name] = _node_version(node.group(0) + "/package.json", read)
        return name, "node"
    rel = site_relative(path)
    owner = owners.owner(rel)
    if owner is not None:
        return owner, "python"
    top = PurePosixPath(rel).parts[0] if rel else path
    if top == "__pycache__":
        return _top_module(rel) + ".py", "code"
    return top, "code"


def _node_version(package_json: str, read: Reader) -> str | None:
    try:
        data = json.loads(read(package_json))
    except (KeyError, ValueError, OSError, RecursionError):  # a zip from outside: any package.json at all
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None
