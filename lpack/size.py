"""Sizes against Lambda's limits and the project's budget, with what is big."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from lpack import runtimes
from lpack._units import format_size
from lpack.config import Budget
from lpack.staging import StagingTree

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

    @property
    def over(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


_DIST_INFO = re.compile(r"^(?P<name>[^-]+)-[^-]+\.(dist|egg)-info$")


def _group(path: str) -> str:
    top, _, rest = path.partition("/")
    if top == "__pycache__":  # a top-level module's bytecode counts toward the module: "app.py"
        return rest.split(".", 1)[0] + ".py"
    # A distribution's metadata counts toward its package: "numpy-2.1.dist-info" -> "numpy".
    match = _DIST_INFO.match(top)
    return match.group("name").lower() if match else top


def largest(tree: StagingTree, count: int = 10) -> tuple[Contributor, ...]:
    sizes: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for entry in tree:
        key = _group(entry.path)
        sizes[key] += entry.size
        files[key] += 1
    ranked = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:count]
    return tuple(Contributor(name=n, bytes=b, files=files[n]) for n, b in ranked)


def _check(limit: str, actual: int, allowed: int | None, severity: Severity, what: str) -> list[Finding]:
    if allowed is None or actual <= allowed:
        return []
    message = f"{what} is {format_size(actual)} ({actual:,} bytes), over {format_size(allowed)} ({allowed:,} bytes)"
    return [Finding(severity=severity, limit=limit, message=message, actual=actual, allowed=allowed)]


def measure(tree: StagingTree, *, zipped_bytes: int, budget: Budget) -> SizeReport:
    """Check one artifact's sizes; an "error" finding means the build must not ship it."""
    unzipped = tree.unzipped_bytes
    findings = [
        *_check("lambda-unzipped", unzipped, runtimes.MAX_UNZIPPED, "error", "unzipped size"),
        # Over 50 MB still deploys, but only through S3: say so, do not fail.
        *_check(
            "lambda-zipped-direct",
            zipped_bytes,
            runtimes.MAX_ZIPPED,
            "warning",
            "zipped size (direct upload limit; deploy through S3)",
        ),
        *_check("budget-zipped", zipped_bytes, budget.max_zipped, "error", "zipped size (budget max-zipped)"),
        *_check("budget-unzipped", unzipped, budget.max_unzipped, "error", "unzipped size (budget max-unzipped)"),
    ]
    return SizeReport(
        zipped_bytes=zipped_bytes,
        unzipped_bytes=unzipped,
        files=len(tree),
        largest=largest(tree),
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
