"""`lpack inspect`: what any Lambda zip or layer zip holds, whoever wrote it."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lpack import runtimes
from lpack.archive.names import ArchiveFinding, ZipEntry
from lpack.archive.reader import SafeZip, open_zip
from lpack.audit.checks import AuditReport, audit_zip
from lpack.errors import ArchiveError, InspectError
from lpack.resolve.bundle import PROJECT, package_of
from lpack.runtimes import Arch
from lpack.size import Finding, check_limits
from lpack.staging.packages import Member, Package, Reader, packages
from lpack.tools.reports import runtime_named

ArtifactShape = Literal["function", "layer"]

_MACHINES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm"}
_PYC_TAG = re.compile(r"__pycache__/[^/]+\.cpython-(?P<v>3\d+)\.pyc$")
_SO_TAG = re.compile(r"\.cpython-(?P<v>3\d+)-(?P<arch>[a-z0-9_]+)-linux-(?P<libc>gnu|musl)\.so$")
_MAX_MAP = 64 * 1024 * 1024  # a source map larger than this is not read
_LAYER_TOPS = frozenset({"python", "nodejs", "bin", "lib", "java", "ruby", "etc", "share"})


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeFile:
    path: str
    machine: str  # "x86_64", "aarch64", or "e_machine=N"


@dataclass(frozen=True, slots=True, kw_only=True)
class Inspection:
    path: Path
    shape: ArtifactShape
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    packages: tuple[Package, ...]
    largest_files: tuple[Member, ...]
    natives: tuple[NativeFile, ...]
    python_versions: tuple[str, ...]  # from pyc cache tags and extension-module tags: "3.12"
    architectures: tuple[str, ...]  # Lambda's names, from the ELF files: "arm64"
    findings: tuple[Finding, ...]
    # What makes the zip unsafe or unreadable (names leaving the tree, duplicates, symlinks, bombs, bad CRCs).
    archive_findings: tuple[ArchiveFinding, ...] = ()

    @property
    def unsafe(self) -> bool:
        return any(f.severity == "error" for f in self.archive_findings)

    language: Literal["python", "node", "unknown"] = "unknown"  # what the code is: Python, Node.js, neither


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditedInspection:
    inspection: Inspection
    audit: AuditReport | None  # None when no runtime was given and the zip's bytecode names none


def inspect_and_audit(
    path: Path, *, runtime_name: str | None = None, architecture: Arch | None = None
) -> AuditedInspection:
    """`lpack inspect`: what the zip holds, and the build's audit for the runtime it was built for."""
    found = inspect_artifact(path)
    runtime = runtime_named(runtime_name) if runtime_name else detected_runtime(found)
    if runtime is None or found.unsafe:  # an unsafe zip is never unpacked, so it is not audited either
        return AuditedInspection(inspection=found, audit=None)
    return AuditedInspection(inspection=found, audit=audit_zip(found.path, runtime, architecture or _main_arch(found)))


def _main_arch(found: Inspection) -> Arch:
    # Mixed machines: audit against the most common one, so the odd files out are the findings.
    machines = Counter(n.machine for n in found.natives).most_common(1)
    return "arm64" if machines and machines[0][0] == "aarch64" else "x86_64"


def inspect_artifact(path: Path) -> Inspection:
    """Sizes by package, largest files, native files' architecture, and Lambda's limits, for any zip."""
    if not path.is_file():
        raise InspectError(f"{path}: no such file", hint="pass a .zip built by lpack or any other tool")
    try:
        with open_zip(path) as safe:
            return _inspect_zip(path, safe)
    except ArchiveError as err:
        raise InspectError(err.msg, hint="lpack inspect reads Lambda function and layer zips") from None


def _inspect_zip(path: Path, safe: SafeZip) -> Inspection:
    listing = safe.listing
    data_findings = safe.check_data()  # first: a member found corrupt here is not read below
    members = [Member(path=e.name, size=e.size) for e in listing.entries if e.kind != "dir"]
    natives = tuple(_natives(safe, listing.entries))
    unzipped = listing.unzipped_bytes
    zipped = listing.zipped_bytes
    return Inspection(
        path=path,
        shape=_shape(members),
        zipped_bytes=zipped,
        unzipped_bytes=unzipped,
        files=len(members),
        packages=(*packages(members, safe.read), *bundled_packages(safe.read, members)),
        largest_files=tuple(sorted(members, key=lambda m: (-m.size, m.path))[:10]),
        natives=natives,
        python_versions=_python_versions(members),
        architectures=tuple(sorted({_lambda_arch(n.machine) for n in natives})),
        findings=tuple(check_limits(zipped_bytes=zipped, unzipped_bytes=unzipped)),
        archive_findings=(*listing.findings, *data_findings),
        language=_language(members),
    )


def _language(members: list[Member]) -> Literal["python", "node", "unknown"]:
    # By what most of the code is: a Node.js zip may carry a stray .py (node-gyp), a Python one a .js asset.
    counts = Counter(Path(m.path).suffix for m in members)
    python = counts[".py"] + counts[".pyc"]
    node = counts[".js"] + counts[".mjs"] + counts[".cjs"] + sum(1 for m in members if m.path == "package.json")
    if not python and not node:
        return "unknown"
    return "node" if node > python else "python"


def bundled_packages(read: Reader, members: list[Member]) -> list[Package]:
    """A bundle's packages, from a source map beside it ("index.js.map" with "index.js"): their source bytes."""
    paths = {m.path for m in members}
    sizes: dict[str, list[int]] = {}
    for member in members:
        bundle = member.path.removesuffix(".map")
        if bundle == member.path or not bundle.endswith((".js", ".mjs", ".cjs")) or bundle not in paths:
            continue
        if member.size > _MAX_MAP:
            continue
        try:
            data = json.loads(read(member.path))
            pairs = zip(data["sources"], data.get("sourcesContent") or [], strict=False)
            found = [(package_of(str(src)), len(str(text).encode())) for src, text in pairs]
        except (ValueError, KeyError, TypeError):
            continue  # not a source map lpack can read: the bundle stays one file of code
        for name, size in found:
            if name != PROJECT:
                sizes.setdefault(name, []).append(size)
    return [
        Package(name=f"{n} (bundled)", version=None, kind="node", bytes=sum(v), files=len(v))
        for n, v in sorted(sizes.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    ]


def _shape(members: list[Member]) -> ArtifactShape:
    tops = {m.path.split("/", 1)[0] for m in members if "/" in m.path}
    loose = [m for m in members if "/" not in m.path]
    return "layer" if tops and tops <= _LAYER_TOPS and not loose else "function"


def _natives(safe: SafeZip, entries: tuple[ZipEntry, ...]) -> list[NativeFile]:
    found = []
    for entry in entries:
        if entry.kind != "file":
            continue
        named = entry.name.endswith((".so", ".node")) or ".so." in entry.name or entry.name.endswith("bootstrap")
        if not named and not entry.mode & 0o111:
            continue
        head = safe.head(entry.name, 20)
        if head[:4] == b"\x7fELF" and len(head) == 20:
            e_machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
            found.append(NativeFile(path=entry.name, machine=_MACHINES.get(e_machine, f"e_machine={e_machine}")))
    return found


def _python_versions(members: list[Member]) -> tuple[str, ...]:
    tags: Counter[str] = Counter()
    for member in members:
        match = _PYC_TAG.search(member.path) or _SO_TAG.search(member.path)
        if match:
            digits = match.group("v")
            tags[f"{digits[0]}.{digits[1:]}"] += 1
    return tuple(sorted(tags))


def _lambda_arch(machine: str) -> str:
    return {"x86_64": "x86_64", "aarch64": "arm64"}.get(machine, machine)


def detected_runtime(inspection: Inspection) -> runtimes.Runtime | None:
    """The Python runtime the artifact was built for, when its bytecode or extensions say one version."""
    if len(inspection.python_versions) != 1:
        return None
    try:
        return runtimes.get_runtime(f"python{inspection.python_versions[0]}")
    except KeyError:
        return None
