"""What a build reports: progress events while it runs, and one result per function and layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lpack.audit.checks import AuditReport
from lpack.bytecode import BytecodeResult
from lpack.config.model import ArtifactRole
from lpack.emit.base import Artifact
from lpack.prune.rules import PruneReport
from lpack.resolve.result import BundleReport
from lpack.size import SizeReport


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Progress: `stage` started (or `done`) for `function`."""

    function: str
    stage: str
    detail: str = ""


EventHandler = Callable[[Event], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionResult:
    name: str
    runtime: str
    architecture: str
    handler: str
    artifact: Artifact
    size: SizeReport
    pruned: PruneReport
    bytecode: BytecodeResult
    audit: AuditReport
    installer: str
    notes: tuple[str, ...]  # what was done (locked, built, fell back to pip)
    warnings: tuple[str, ...]
    role: ArtifactRole = "function"
    layers: tuple[str, ...] = ()  # a function's layers, whose bytes its size findings include
    compatible_runtimes: tuple[str, ...] = ()  # a layer's, for PublishLayerVersion
    compatible_architectures: tuple[str, ...] = ()
    bundle: BundleReport | None = None  # a Node.js function bundled with esbuild: what went in, what stayed out


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    functions: tuple[FunctionResult, ...]
    notes: tuple[str, ...] = ()  # about the whole build: what the remote cache fetched and pushed

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"{f.name}: {w}" for f in self.functions for w in f.warnings)
