"""The JSON report (`--report FILE`, `--json`): plain data, versioned, no rendering."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lpack import runtimes

# Annotations only: each command imports the stages it runs (see console.py).
if TYPE_CHECKING:
    from lpack.audit.checks import AuditReport, Finding
    from lpack.oci import ImageInfo
    from lpack.pipeline.build import BuildResult, FunctionResult
    from lpack.publish.layers import PublishResult
    from lpack.resolve.result import BundleReport
    from lpack.size import SizeReport
    from lpack.staging.packages import Package
    from lpack.tools.check import CheckResult
    from lpack.tools.diff import ArtifactDiff
    from lpack.tools.inspect import Inspection
    from lpack.tools.verify import VerifyResult

SCHEMA_VERSION = 1
# The JSON Schema every report validates against (tests/integration/test_check.py checks each command).
SCHEMA_PATH = Path(__file__).parents[1] / "schemas" / "report-v1.schema.json"


def packages_json(found: Iterable[Package]) -> list[dict[str, Any]]:
    return [{"name": p.name, "version": p.version, "kind": p.kind, "bytes": p.bytes, "files": p.files} for p in found]


def _size(size: SizeReport) -> dict[str, Any]:
    return {
        "largest": [{"name": c.name, "bytes": c.bytes, "files": c.files} for c in size.largest],
        "findings": [
            {"severity": f.severity, "limit": f.limit, "message": f.message, "actual": f.actual, "allowed": f.allowed}
            for f in size.findings
        ],
    }


def finding(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity,
        "path": f.path,
        "package": f.package,
        "message": f.message,
        "fix": f.fix,
        "waived": f.waived,
        "waive_key": f.key,
    }


def audit_json(audit: AuditReport) -> dict[str, Any]:
    return {
        "elf_files": audit.elf_files,
        "left_out": list(audit.drop),
        "findings": [finding(f) for f in audit.findings],
    }


def _artifact(fn: FunctionResult) -> dict[str, Any]:
    a = fn.artifact
    return {
        "name": fn.name,
        "kind": a.kind,
        "path": str(a.path),
        "sha256": a.sha256,
        "sha256_base64": a.sha256_b64,
        "zipped_bytes": a.zipped_bytes,
        "unzipped_bytes": a.unzipped_bytes,
        "files": a.files,
        "runtime": fn.runtime,
        "architecture": fn.architecture,
        "installer": fn.installer,
        "notes": list(fn.notes),
        "bytecode": {
            "compiled": fn.bytecode.compiled,
            "failed": fn.bytecode.failed,
            "interpreter": fn.bytecode.interpreter,
            "skipped_reason": fn.bytecode.reason,
        },
        "size": _size(fn.size),
        "audit": audit_json(fn.audit),
        "packages": packages_json(fn.size.packages),
        **(
            {"handler": fn.handler, "layers": list(fn.layers)}
            if fn.role == "function"
            else {
                "compatible_runtimes": list(fn.compatible_runtimes),
                "compatible_architectures": list(fn.compatible_architectures),
            }
        ),
        **({"image": _image(a.image)} if a.image is not None else {}),
        **({"bundle": bundle_json(fn.bundle)} if fn.bundle is not None else {}),
    }


def bundle_json(bundle: BundleReport) -> dict[str, Any]:
    # The metafile's package list: what esbuild inlined (bytes in the bundle) and what ships in node_modules.
    return {
        "entry": bundle.entry,
        "output": bundle.output,
        "format": bundle.format,
        "target": bundle.target,
        "esbuild": bundle.esbuild,
        "bytes": bundle.bytes,
        "sourcemap": bundle.sourcemap,
        "bundled": [{"name": p.name, "version": p.version, "bytes": p.bytes} for p in bundle.bundled],
        "external": [{"name": p.name, "version": p.version, "bytes": p.bytes} for p in bundle.external],
    }


def _image(image: ImageInfo) -> dict[str, Any]:
    return {
        "digest": image.digest,
        "media_type": image.manifest_media_type,
        "manifest_bytes": image.manifest_bytes,
        "config_digest": image.config_digest,
        "base": image.base,
        "platform": image.platform,
        "uncompressed_bytes": image.uncompressed_bytes,
        "pushed": image.pushed,
        "push": {"uploaded": image.uploaded, "mounted": image.mounted, "present": image.present},
        "outputs": list(image.outputs),
        "layers": [
            {
                "origin": layer.origin,
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "bytes": layer.size,
                "uncompressed_bytes": layer.uncompressed_size,
            }
            for layer in image.layers
        ],
    }


def verify_report(result: VerifyResult) -> dict[str, Any]:
    return {
        "artifact": str(result.artifact),
        "runtime": result.runtime,
        "interpreter": result.interpreter,
        "handler": result.handler,
        "init_ms": round(result.init_ms, 3),
        "invoked": result.invoked,
        "invoke_ms": None if result.invoke_ms is None else round(result.invoke_ms, 3),
        "result": result.result,
        "warnings": list(result.warnings),
        "isolation": result.isolation,
        "status": result.status,
    }


def limits() -> dict[str, int]:
    return {
        "zipped_direct_upload": runtimes.MAX_ZIPPED,
        "unzipped": runtimes.MAX_UNZIPPED,
        "layers": runtimes.MAX_LAYERS,
        "image": runtimes.MAX_IMAGE_BYTES,
        "image_manifest": runtimes.MAX_MANIFEST_BYTES,
    }


def published_json(found: Iterable[PublishResult]) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "layer_version_arn": p.layer_version_arn,
            "version": p.version,
            "sha256": p.sha256,
            "s3": {"bucket": p.bucket, "key": p.key, "uri": p.s3_uri} if p.bucket else None,
            "created": p.created,
            "uploaded": p.uploaded,
            "resumed_parts": p.resumed_parts,
            "granted": list(p.granted),
        }
        for p in found
    ]


def publish_report(published: Iterable[PublishResult], warnings: Iterable[str] = ()) -> dict[str, Any]:
    """`lpack publish layer --json`: each layer's version ARN, and whether anything was created."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "publish",
        "published": published_json(published),
        "warnings": list(warnings),
    }


def build_report(result: BuildResult, published: Iterable[PublishResult] | None = None) -> dict[str, Any]:
    """The build's report; with `lpack build --publish`, also what was published."""
    extra = {"published": published_json(published)} if published is not None else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "build",
        "artifacts": [_artifact(f) for f in result.functions],
        "pruned": {
            f.name: {
                "files": f.pruned.files,
                "bytes": f.pruned.bytes,
                "rules": [{"rule": r.rule, "files": r.files, "bytes": r.bytes} for r in f.pruned.rules],
            }
            for f in result.functions
        },
        "warnings": list(result.warnings),
        "notes": list(result.notes),
        "limits": limits(),
        **extra,
    }


def error_report(
    message: str,
    hint: str | None,
    exit_code: int,
    size: SizeReport | None,
    *,
    command: str = "build",
    findings: tuple[Finding, ...] = (),
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "artifacts": [],
        "error": {
            "message": message,
            "hint": hint,
            "exit_code": exit_code,
            **({"size": _size(size)} if size is not None else {}),
            **({"audit": [finding(f) for f in findings]} if findings else {}),
        },
        "warnings": [],
        "limits": limits(),
    }


def check_report(result: CheckResult) -> dict[str, Any]:
    """`lpack check --json`: the build report's artifacts, each with `over` and `suggestions`."""
    artifacts = []
    for fn in result.functions:
        entry = _artifact(fn.result)
        entry["path"] = None  # built in a scratch directory that is gone
        entry["over"] = fn.over
        entry["suggestions"] = [{"message": s.message, "saves_bytes": s.saves_bytes} for s in fn.suggestions]
        artifacts.append(entry)
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "check",
        "over": result.over,
        "artifacts": artifacts,
        "warnings": [f"{f.result.name}: {w}" for f in result.functions for w in f.result.warnings],
        "limits": limits(),
    }


def inspect_report(found: Inspection) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "inspect",
        "path": str(found.path),
        "shape": found.shape,
        "zipped_bytes": found.zipped_bytes,
        "unzipped_bytes": found.unzipped_bytes,
        "files": found.files,
        "python_versions": list(found.python_versions),
        "language": found.language,
        "architectures": list(found.architectures),
        "natives": [{"path": n.path, "machine": n.machine} for n in found.natives],
        "largest_files": [{"path": m.path, "bytes": m.size} for m in found.largest_files],
        "packages": packages_json(found.packages),
        "findings": [
            {"severity": f.severity, "limit": f.limit, "message": f.message, "actual": f.actual, "allowed": f.allowed}
            for f in found.findings
        ],
        "archive_findings": [
            {"severity": f.severity, "code": f.code, "member": f.member, "message": f.message}
            for f in found.archive_findings
        ],
        "limits": limits(),
    }


def diff_report(diffs: Iterable[ArtifactDiff]) -> dict[str, Any]:
    from lpack.tools.diff import describe  # noqa: PLC0415 - `lpack diff` has imported it (see the imports)

    return {
        "schema_version": SCHEMA_VERSION,
        "command": "diff",
        "diffs": [
            {
                "name": d.label,
                "zipped_delta": d.zipped_delta,
                "unzipped_delta": d.unzipped_delta,
                "target_changes": list(d.target_changes),
                "changes": [
                    {
                        "name": c.name,
                        "change": c.change,
                        "old_version": c.old_version,
                        "new_version": c.new_version,
                        "old_bytes": c.old_bytes,
                        "new_bytes": c.new_bytes,
                        "delta": c.delta,
                        "summary": describe(c),
                    }
                    for c in d.changes
                ],
            }
            for d in diffs
        ],
    }
