"""Sizes against Lambda's limits and the project's budget, with what is big."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lpack import runtimes
from lpack.config.model import Budget
from lpack.staging.packages import Member, Package, packages
from lpack.staging.tree import StagingTree
from lpack.units import format_size

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Contributor:
    name: str  # "numpy" or "app.py": a top-level package, module or directory
    bytes: int
    files: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    severity: Severity
    limit: str  # "lambda-unzipped", "budget-zipped", ...
    message: str
    actual: int
    allowed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeReport:
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    largest: tuple[Contributor, ...]
    findings: tuple[Finding, ...]
    packages: tuple[Package, ...] = ()  # everything, largest first: what `lpack diff` compares

    @property
    def over(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


def tree_packages(tree: StagingTree) -> tuple[Package, ...]:
    sources = {e.path: e.source for e in tree}
    return packages((Member(path=e.path, size=e.size) for e in tree), lambda p: sources[p].read_bytes())


def largest(tree: StagingTree, count: int = 10) -> tuple[Contributor, ...]:
    return tuple(Contributor(name=p.name, bytes=p.bytes, files=p.files) for p in tree_packages(tree)[:count])


def _check(limit: str, actual: int, allowed: int | None, severity: Severity, what: str) -> list[Finding]:
    if allowed is None or actual <= allowed:
        return []
    message = f"{what} is {format_size(actual)} ({actual:,} bytes), over {format_size(allowed)} ({allowed:,} bytes)"
    return [Finding(severity=severity, limit=limit, message=message, actual=actual, allowed=allowed)]


def check_limits(*, zipped_bytes: int, unzipped_bytes: int) -> list[Finding]:
    """Lambda's own limits for a function zip (with its layers' bytes in `unzipped_bytes`)."""
    return [
        *_check("lambda-unzipped", unzipped_bytes, runtimes.MAX_UNZIPPED, "error", "unzipped size"),
        # Over 50 MB still deploys, but only through S3: say so, do not fail.
        *_check(
            "lambda-zipped-direct",
            zipped_bytes,
            runtimes.MAX_ZIPPED,
            "warning",
            "zipped size (direct upload limit; deploy through S3)",
        ),
    ]


def check_budget(*, zipped_bytes: int, unzipped_bytes: int, budget: Budget) -> list[Finding]:
    edge = {"viewer": runtimes.MAX_EDGE_VIEWER_ZIPPED, "origin": runtimes.MAX_EDGE_ORIGIN_ZIPPED}
    return [
        *_check(
            "lambda-edge-zipped",
            zipped_bytes,
            edge.get(budget.edge or ""),
            "error",
            f"zipped size (Lambda@Edge {budget.edge} function quota)",
        ),
        *_check("budget-zipped", zipped_bytes, budget.max_zipped, "error", "zipped size (budget max-zipped)"),
        *_check("budget-unzipped", unzipped_bytes, budget.max_unzipped, "error", "unzipped size (budget max-unzipped)"),
    ]


def measure(tree: StagingTree, *, zipped_bytes: int, budget: Budget) -> SizeReport:
    """Check one artifact's sizes; an "error" finding means the build must not ship it."""
    unzipped = tree.unzipped_bytes
    found = tree_packages(tree)
    findings = [
        *check_limits(zipped_bytes=zipped_bytes, unzipped_bytes=unzipped),
        *check_budget(zipped_bytes=zipped_bytes, unzipped_bytes=unzipped, budget=budget),
    ]
    return SizeReport(
        zipped_bytes=zipped_bytes,
        unzipped_bytes=unzipped,
        files=len(tree),
        largest=tuple(Contributor(name=p.name, bytes=p.bytes, files=p.files) for p in found[:10]),
        packages=found,
        findings=tuple(findings),
    )


def measure_image(
    tree: StagingTree,
    *,
    image_bytes: int,
    compressed_bytes: int,
    own_compressed: int,
    manifest_bytes: int,
    budget: Budget,
) -> SizeReport:
    """Check an image: Lambda's 10 GB counts every layer, the base's too; budgets count the function's layers."""
    findings = [
        *_check("lambda-image", image_bytes, runtimes.MAX_IMAGE_BYTES, "error", "image size (uncompressed, with base)"),
        # "under 25,400 bytes": one less is the largest allowed.
        *_check("lambda-image-manifest", manifest_bytes, runtimes.MAX_MANIFEST_BYTES - 1, "error", "image manifest"),
        *_check(
            "budget-zipped", own_compressed, budget.max_zipped, "error", "function layers, compressed (max-zipped)"
        ),
        *_check("budget-unzipped", tree.unzipped_bytes, budget.max_unzipped, "error", "function files (max-unzipped)"),
    ]
    return SizeReport(
        zipped_bytes=compressed_bytes,
        unzipped_bytes=image_bytes,
        files=len(tree),
        largest=largest(tree),
        findings=tuple(findings),
    )


def size_hint(size: SizeReport, *, exclude_runtime_provided: bool) -> str:
    """What to shrink first, for the hint of a SizeLimitError."""
    top = ", ".join(f"{c.name} {c.bytes / 1e6:.1f} MB" for c in size.largest[:3])
    extra = "" if exclude_runtime_provided else "; set exclude-runtime-provided = true to drop boto3/botocore"
    return f"largest: {top}{extra}"
