"""Layers: where their files go under /opt, and what a function plus its layers may add up to.

Lambda extracts each layer into /opt: Python imports from /opt/python and
/opt/python/lib/python3.X/site-packages, /opt/bin is on PATH and /opt/lib on LD_LIBRARY_PATH
[docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html]; every file in /opt/extensions is started as an
external extension [lambda/latest/dg/lambda-extensions.html, "Extensions API"].
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lpack import runtimes
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, EmitError, SizeLimitError
from lpack.size import Finding, SizeReport
from lpack.staging.tree import StagingTree, scan
from lpack.units import format_size

TASK_ROOT = "/var/task"  # where a function zip is extracted (LAMBDA_TASK_ROOT)
_VERSIONED_EXTENSION = re.compile(r"\.cpython-3(\d+)-")


def prefix(fn: FunctionConfig) -> str:
    """The directory inside the zip that the artifact's packages go to ("" for a function)."""
    if fn.role == "function" or fn.runtime.language not in ("python", "node"):
        return ""
    assert fn.runtime.version is not None
    major, minor = fn.runtime.version
    if fn.runtime.language == "node":  # the tree holds node_modules/...: nodejs/node_modules or nodejs/nodeNN/
        return f"nodejs/node{major}/" if fn.layout == "versioned" else "nodejs/"
    return f"python/lib/python{major}.{minor}/site-packages/" if fn.layout == "site-packages" else "python/"


def run_root(fn: FunctionConfig) -> str:
    """Where the packages sit at run time: the path compiled into their bytecode."""
    return TASK_ROOT if fn.role == "function" else "/opt/" + prefix(fn).rstrip("/")


def finish(fn: FunctionConfig, tree: StagingTree) -> tuple[StagingTree, list[str]]:
    """Move a layer's packages under its prefix and add its bin/ and lib/ directories.

    Console scripts the installer wrote to bin/ stay at the layer's bin/: /opt/bin is on PATH.
    """
    moved = StagingTree.of(
        e if e.origin == "deps" and e.path.startswith("bin/") else dataclasses.replace(e, path=prefix(fn) + e.path)
        for e in tree
    )
    extra = [_subtree(fn.bin_dir, "bin/"), _subtree(fn.lib_dir, "lib/"), extensions(fn.extensions_dir)]
    layer = moved.merged(e for sub in extra for e in sub)
    if not len(layer):
        raise EmitError(
            f'layer "{fn.name}" is empty: Lambda rejects an empty layer',
            hint="give it requirements, a source, or bin/lib/extensions directories",
        )
    return layer, [*_warnings(fn, layer), *_extension_warnings(layer)]


def extensions(directory: Path | None) -> StagingTree:
    """A layer's `extensions` directory as extensions/: Lambda executes each file directly in it (0755)."""
    found = _subtree(directory, "extensions/")
    return StagingTree.of(dataclasses.replace(e, executable=True) if e.path.count("/") == 1 else e for e in found)


def _extension_warnings(layer: StagingTree) -> list[str]:
    # Lambda execs these: a file that is neither an ELF nor a #! script fails at init with "exec format error".
    found = []
    for e in layer:
        if e.path.startswith("extensions/") and e.path.count("/") == 1:
            with e.source.open("rb") as fh:
                head = fh.read(4)
            if head[:2] != b"#!" and head != b"\x7fELF":
                found.append(f"{e.path}: neither an ELF nor a #! script: Lambda cannot start it as an extension")
    return found


def _subtree(directory: Path | None, under: str) -> StagingTree:
    if directory is None:
        return StagingTree.of([])
    if not directory.is_dir():
        raise ConfigError(
            f"{directory.name}: directory not found", hint="fix `bin` / `lib` / `extensions` in the layer's table"
        )
    return StagingTree.of(dataclasses.replace(e, path=under + e.path) for e in scan(directory, "code"))


def _warnings(fn: FunctionConfig, layer: StagingTree) -> list[str]:
    found = []
    if fn.layout != "default":
        found.append(f'layout = "{fn.layout}" works on {fn.runtime.name} only: the path names the version')
    minors = {m.group(1) for e in layer if (m := _VERSIONED_EXTENSION.search(e.path))}
    others = [r for r in fn.compatible_runtimes if r != fn.runtime.name]
    if minors and others:
        found.append(
            f"native extensions built for {fn.runtime.name} will not import on {', '.join(others)}: "
            "list only runtimes of the same Python minor in compatible-runtimes"
        )
    if fn.architecture not in fn.compatible_architectures:
        found.append(
            f"built for {fn.architecture}, recorded as compatible with {', '.join(fn.compatible_architectures)}"
        )
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One piece of a function's unzipped total: the function or one of its layers."""

    name: str
    unzipped_bytes: int
    packages: dict[str, str | None]  # Python distributions and npm packages -> version
    compatible_runtimes: tuple[str, ...] = ()  # a layer's


def part(name: str, size: SizeReport, compatible_runtimes: tuple[str, ...] = ()) -> Part:
    """The part an artifact of this size adds to a function's stack."""
    found = {p.name: p.version for p in size.packages if p.kind != "code"}
    return Part(name=name, unzipped_bytes=size.unzipped_bytes, packages=found, compatible_runtimes=compatible_runtimes)


def with_layers(
    fn: FunctionConfig, size: SizeReport, used: Sequence[Part], *, enforce: bool
) -> tuple[SizeReport, list[str]]:
    """The function's size findings with its layers counted, and what it shares with them."""
    warnings, findings = check_stack(fn, part(fn.name, size), used, enforce=enforce)
    for layer in used:
        if fn.runtime.name not in layer.compatible_runtimes:
            warnings.append(f'layer "{layer.name}" does not list {fn.runtime.name} in compatible-runtimes')
    return dataclasses.replace(size, findings=(*size.findings, *findings)), warnings


def check_stack(
    fn: FunctionConfig, own: Part, layers: Sequence[Part], *, enforce: bool
) -> tuple[list[str], list[Finding]]:
    """Function + layers against Lambda's 262,144,000 unzipped bytes, and packages found twice."""
    warnings, findings = _duplicates(fn, own, layers), []
    total = own.unzipped_bytes + sum(p.unzipped_bytes for p in layers)
    if layers and total > runtimes.MAX_UNZIPPED:
        parts = sorted([own, *layers], key=lambda p: -p.unzipped_bytes)
        shown = ", ".join(f"{p.name} {format_size(p.unzipped_bytes)}" for p in parts)
        message = (
            f"function + layers unzipped is {format_size(total)} ({total:,} bytes), over "
            f"{format_size(runtimes.MAX_UNZIPPED)}: {shown}"
        )
        finding = Finding(
            severity="error",
            limit="lambda-unzipped-with-layers",
            message=message,
            actual=total,
            allowed=runtimes.MAX_UNZIPPED,
        )
        if enforce:
            raise SizeLimitError(
                f"{fn.name}: {message}",
                hint=f"the biggest part is {parts[0].name}: shrink it, "
                'or switch to a container image (format = "image")',
                report=SizeReport(zipped_bytes=0, unzipped_bytes=total, files=0, largest=(), findings=(finding,)),
            )
        findings.append(finding)
    return warnings, findings


def _duplicates(fn: FunctionConfig, own: Part, layers: Sequence[Part]) -> list[str]:
    warnings = []
    for layer in layers:
        for name in sorted(own.packages.keys() & layer.packages.keys()):
            mine, theirs = own.packages[name], layer.packages[name]
            if mine != theirs and not fn.allow_duplicate_versions:
                raise ConfigError(
                    f'{fn.name}: {name} {mine} is in the function and {name} {theirs} in layer "{layer.name}"; '
                    "the function's copy shadows the layer's (/var/task comes first on sys.path)",
                    hint="pin one version in both, drop it from one side, or set allow-duplicate-versions = true",
                )
            warnings.append(f'{name} is in the function and in layer "{layer.name}" ({mine}): packed twice')
    return warnings
