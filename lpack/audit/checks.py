"""Checks a staged tree against the runtime it will run on, before anything is emitted.

The failures found here otherwise surface only at the first invoke: "invalid ELF header", "GLIBC_2.28 not
found", "No module named lp_ns". Each finding names the file, its package, what it needs, what the runtime
has, and what to do about it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from lpack import runtimes
from lpack.archive.reader import open_zip
from lpack.audit import elf as _elf
from lpack.config.model import AUDIT_CODES
from lpack.runtimes import Arch, Runtime
from lpack.staging.tree import Entry, StagingTree, scan

Severity = Literal["error", "warning", "info"]
# Every code a user can waive: `audit = { waive = ["elf-glibc"] }` or one file (the config checks them).
CODES = AUDIT_CODES
# Interpreters a shebang may name on Lambda's OS images; anything else absolute is the build machine's.
_LAMBDA_SHEBANGS = ("/usr/bin/env", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash")
# Where a .pth would sit in a site directory: the zip root (a function's /var/task) or a layer's Python
# paths, which Lambda puts on sys.path without site.addsitedir() all the same [packaging-layers.html].
_SITE_DIR = re.compile(r"|python|python/lib/python3\.\d+/site-packages")
# setuptools' *-nspkg.pth lines register the namespace with `sys.modules.setdefault('ns', ...)`.
_NSPKG_NAME = re.compile(r"sys\.modules\.setdefault\(\s*['\"]([\w.]+)['\"]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    code: str
    severity: Severity
    path: str
    package: str | None  # distribution name; None for the project's own files
    message: str
    fix: str | None = None
    waived: bool = False

    @property
    def key(self) -> str:
        """What `waive` accepts to silence exactly this finding."""
        return f"{self.code}:{self.path}"

    @property
    def fails(self) -> bool:
        return self.severity == "error" and not self.waived

    def describe(self) -> str:
        owner = f" ({self.package})" if self.package else ""
        fix = f"; fix: {self.fix}" if self.fix else ""
        waived = " [waived]" if self.waived else ""
        return f"{self.code} {self.path}{owner}: {self.message}{fix}{waived}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReport:
    findings: tuple[Finding, ...]
    elf_files: int
    drop: tuple[str, ...]  # files that do nothing on Lambda and are left out (*-nspkg.pth)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fails)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning" and not f.waived)


ElfReader = Callable[[Entry], _elf.ElfInfo | None]


def audit(
    tree: StagingTree, runtime: Runtime, arch: Arch, *, waive: Iterable[str] = (), elf_of: ElfReader | None = None
) -> AuditReport:
    """Find what would fail on `runtime`/`arch`; errors are findings, not exceptions (build.py raises).

    `elf_of` reads an ELF file's facts (default: parse it); the pipeline passes one that remembers them for
    files of the cache, which never change."""
    owners = _owners(tree)
    found: list[Finding] = []
    elf_files = 0
    for entry in tree:
        package = owners.get(entry.path)
        head = _head(entry)
        if head is None:
            found.append(_unreadable(entry, package))
            continue
        if head.startswith(_elf.MAGIC):
            elf_files += 1
            found += _check_elf(entry, package, runtime, arch, elf_of or _read_elf)
        else:
            found += _check_script(entry, package, head)
    pth, drop = _check_pth(tree, owners)
    waived = set(waive)
    findings = tuple(_waived(f, waived) for f in [*found, *pth])
    return AuditReport(findings=findings, elf_files=elf_files, drop=drop)


def audit_zip(path: Path, runtime: Runtime, arch: Arch, *, waive: Iterable[str] = ()) -> AuditReport:
    """The audit of a zip already built, by lpack or any tool (`lpack inspect`): unpacked to a scratch tree."""
    with tempfile.TemporaryDirectory(prefix="lpack-audit-") as tmp:
        root = Path(tmp)
        # The safe reader refuses a zip with unsafe members or over Lambda's size before writing anything.
        with open_zip(path) as archive:
            archive.extract(root)
        return audit(scan(root, "deps"), runtime, arch, waive=waive)


def _waived(finding: Finding, waive: set[str]) -> Finding:
    if finding.code in waive or finding.key in waive:
        return replace(finding, waived=True)
    return finding


def _owners(tree: StagingTree) -> dict[str, str]:
    """Archive path -> distribution name: from RECORD where pruning kept it, else by top-level name.

    Top-level names come from each dist-info's top_level.txt (setuptools) where present, and always the
    project's own name and auditwheel's "<name>.libs". One pass over the tree: linear in its size.
    """
    tops: dict[str, str] = {}
    recorded: dict[str, str] = {}
    for entry in tree:
        directory, _, name = entry.path.partition("/")
        if not directory.endswith(".dist-info") or "/" in name:
            continue
        project = directory.split("-")[0]
        owner = str(canonicalize_name(project))
        tops.update({_top_key(project): owner, _top_key(f"{project}.libs"): owner})
        if name == "top_level.txt":
            text = entry.source.read_text(encoding="utf-8", errors="replace")
            tops.update({_top_key(top): owner for top in text.split()})
        elif name == "RECORD":  # exact, where pruning kept it
            text = entry.source.read_text(encoding="utf-8", errors="replace")
            recorded.update({row[0]: owner for row in csv.reader(io.StringIO(text)) if row})
    by_top = {e.path: tops.get(_top_key(e.path.split("/")[0])) for e in tree if e.origin == "deps"}
    return {**{path: owner for path, owner in by_top.items() if owner is not None}, **recorded}


def _top_key(name: str) -> str:
    # "six.py", "_cffi_backend.cpython-312-x86_64-linux-gnu.so" and "lp_nspkg_a-1.0-py3.11-nspkg.pth" all
    # name their owner before the first "." or "-".
    return re.split(r"[.-]", name, maxsplit=1)[0].lower() if not name.endswith(".libs") else name.lower()


def _head(entry: Entry) -> bytes | None:
    # The zip gets 0644/0755 whatever the disk says, so only a file lpack itself cannot read is a problem.
    try:
        with entry.source.open("rb") as fh:
            return fh.read(256)
    except OSError:
        return None


def _unreadable(entry: Entry, package: str | None) -> Finding:
    return Finding(
        code="unreadable",
        severity="error",
        path=entry.path,
        package=package,
        message=f"cannot read {entry.source.name} on this machine",
        fix="fix its permissions (chmod a+r) or exclude it",
    )


# --- ELF ----------------------------------------------------------------------------------------------------


def _read_elf(entry: Entry) -> _elf.ElfInfo | None:
    return _elf.read(entry.source)


def _check_elf(entry: Entry, package: str | None, runtime: Runtime, arch: Arch, read: ElfReader) -> list[Finding]:
    info = read(entry)
    if info is None:
        return [_finding(entry, package, "elf-invalid", "warning", "starts like ELF but does not parse", fix=_remove())]
    findings: list[Finding] = []
    want = runtimes.machine_name(arch)
    if info.machine != want:
        message = f"is built for {info.machine}, the function runs on {arch} ({want})"
        findings.append(_finding(entry, package, "elf-arch", "error", message, fix=_arch_fix(package, info.machine)))
    if info.musl:
        message = "links against musl libc; Lambda's OS is glibc-based"
        fix = f"install a manylinux wheel of {package}, not musllinux" if package else "rebuild it against glibc"
        findings.append(_finding(entry, package, "elf-musl", "error", message, fix=fix))
    if info.glibc is not None and info.glibc > runtime.glibc:
        need, have = _version(info.glibc), _version(runtime.glibc)
        message = f"needs GLIBC_{need}, {runtime.name} has glibc {have} ({runtime.os})"
        findings.append(_finding(entry, package, "elf-glibc", "error", message, fix=_glibc_fix(package, runtime, info)))
    if info.program and not entry.executable:
        message = "is an ELF program without the exec bit"
        findings.append(_finding(entry, package, "no-exec", _exec_severity(entry), message, fix="chmod +x it"))
    return findings


def _finding(entry: Entry, package: str | None, code: str, severity: Severity, message: str, *, fix: str) -> Finding:
    return Finding(code=code, severity=severity, path=entry.path, package=package, message=message, fix=fix)


def _remove() -> str:
    return "remove or exclude the file"


def _version(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def _arch_fix(package: str | None, machine: str) -> str:
    what = f"install the {package} wheel" if package else "rebuild it"
    fix = f"{what} for the function's architecture"
    lambda_arch = {"x86_64": "x86_64", "aarch64": "arm64"}.get(machine)
    # Lambda runs only x86_64 and arm64: an i686 or armv7 file can never load, whatever the setting.
    return f'{fix}, or set architecture = "{lambda_arch}"' if lambda_arch else fix


def _glibc_fix(package: str | None, runtime: Runtime, info: _elf.ElfInfo) -> str:
    assert info.glibc is not None
    newer = [r.name for r in runtimes.RUNTIMES.values() if _fits(r, runtime, info.glibc)]
    options = [f"use runtime {newer[-1]} or newer" if newer else ""]
    have = _version(runtime.glibc)
    if package is not None:
        # The wheel's tag may claim an older glibc than its .so needs: only the file itself is evidence.
        options.append(f"pin a version of {package} whose .so needs glibc {have} or older")
    else:
        options.append(f"rebuild it against glibc {have} or older")
    return "; or ".join(o for o in options if o)


def _fits(candidate: Runtime, current: Runtime, need: tuple[int, ...]) -> bool:
    return (
        candidate.language == current.language
        and candidate.glibc >= need[:2]
        and candidate.deprecated is None
        and (candidate.version or (0, 0)) >= (current.version or (0, 0))
    )


def _exec_severity(entry: Entry) -> Severity:
    # Lambda runs `bootstrap` itself for provided.* runtimes: without 0755 the function never starts.
    return "error" if entry.path == "bootstrap" else "warning"


# --- scripts ------------------------------------------------------------------------------------------------


def _check_script(entry: Entry, package: str | None, head: bytes) -> Iterator[Finding]:
    if not head.startswith(b"#!"):
        return
    is_script = entry.executable or entry.path.startswith("bin/") or entry.path == "bootstrap"
    if not is_script:
        return  # a module with a shebang line, never run as a program
    if not entry.executable:
        message = "starts with #! but has no exec bit"
        yield _finding(entry, package, "no-exec", _exec_severity(entry), message, fix="chmod +x it")
    interpreter = head[2:].split(b"\n", 1)[0].strip().split(b" ", 1)[0].decode(errors="replace")
    if interpreter.startswith("/") and interpreter not in _LAMBDA_SHEBANGS:
        message = f"runs {interpreter}, which is a path on the build machine, not on Lambda"
        fix = "start it with #!/usr/bin/env python3 (or the program it needs)"
        yield _finding(entry, package, "abs-shebang", "warning", message, fix=fix)


# --- .pth files ---------------------------------------------------------------------------------------------
# /var/task and /opt/python are put on sys.path by Lambda's bootstrap, not by site.addsitedir(): .pth files
# there are never read [DESIGN.md "Files"]. Namespace packages from *-nspkg.pth still import under PEP 420 as
# long as no portion ships the namespace's __init__.py; other .pth files silently do nothing.


def _check_pth(tree: StagingTree, owners: dict[str, str]) -> tuple[list[Finding], tuple[str, ...]]:
    findings: list[Finding] = []
    drop: list[str] = []
    paths = tree.paths()
    for entry in tree:
        site, _, name = entry.path.rpartition("/")
        if not name.endswith(".pth") or not _SITE_DIR.fullmatch(site):
            continue
        text = entry.source.read_text(encoding="utf-8", errors="replace")
        package = owners.get(entry.path)
        if name.endswith("-nspkg.pth"):
            drop.append(entry.path)
            prefix = f"{site}/" if site else ""
            findings += [_namespace(entry, package, prefix, ns, paths) for ns in _nspkg_names(text)]
        else:
            findings.append(_plain_pth(entry, package, text))
    return findings, tuple(drop)


def _nspkg_names(text: str) -> list[str]:
    return sorted(set(_NSPKG_NAME.findall(text)))


def _namespace(entry: Entry, package: str | None, prefix: str, name: str, paths: frozenset[str]) -> Finding:
    directory = prefix + name.replace(".", "/")
    portions = sorted({p[len(directory) + 1 :].split("/")[0] for p in paths if p.startswith(directory + "/")})
    if f"{directory}/__init__.py" in paths:
        message = f"{directory}/__init__.py makes {name} a regular package: only one portion of it imports"
        fix = f"remove the distribution that ships {directory}/__init__.py, or waive nspkg:{entry.path} if it works"
        return _finding(entry, package, "nspkg", "error", message, fix=fix)
    if not portions:
        message = f"declares namespace {name}, but nothing is installed under {directory}/"
        return _finding(entry, package, "nspkg", "warning", message, fix="check the distribution's contents")
    message = (
        f"namespace {name} imports by PEP 420 ({', '.join(portions)}); the .pth, which Lambda never runs, is left out"
    )
    return Finding(code="nspkg", severity="info", path=entry.path, package=package, message=message)


def _plain_pth(entry: Entry, package: str | None, text: str) -> Finding:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    effects = [_pth_effect(line) for line in lines[:3]]
    more = f" and {len(lines) - 3} more lines" if len(lines) > 3 else ""
    message = f"Lambda never runs .pth files; this one would have {', '.join(effects) or 'done nothing'}{more}"
    fix = "do it in the handler module (import or sys.path.append), or waive pth if nothing needs it"
    return _finding(entry, package, "pth", "warning", message, fix=fix)


def _pth_effect(line: str) -> str:
    # site.addpackage(): lines starting with "import" are executed, any other line is a directory to add.
    if line.startswith(("import ", "import\t")):
        return f"run `{_shorten(line)}`"
    return f"added {os.path.normpath(line)}/ to sys.path"


def _shorten(line: str) -> str:
    return line if len(line) <= 60 else line[:57] + "..."
