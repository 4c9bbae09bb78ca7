"""The JSON report (`--report FILE`, `--json`): plain data, versioned, no rendering."""

from __future__ import annotations

from typing import Any

from lpack import runtimes
from lpack.audit import AuditReport, Finding
from lpack.build import BuildResult, FunctionResult
from lpack.size import SizeReport
from lpack.verify import VerifyResult

SCHEMA_VERSION = 1


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


def _audit(audit: AuditReport) -> dict[str, Any]:
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
        "handler": fn.handler,
        "installer": fn.installer,
        "notes": list(fn.notes),
        "bytecode": {
            "compiled": fn.bytecode.compiled,
            "failed": fn.bytecode.failed,
            "interpreter": fn.bytecode.interpreter,
            "skipped_reason": fn.bytecode.reason,
        },
        "size": _size(fn.size),
        "audit": _audit(fn.audit),
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
    }


def limits() -> dict[str, int]:
    return {
        "zipped_direct_upload": runtimes.MAX_ZIPPED,
        "unzipped": runtimes.MAX_UNZIPPED,
        "layers": runtimes.MAX_LAYERS,
        "image": runtimes.MAX_IMAGE_BYTES,
    }


def build_report(result: BuildResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
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
        "limits": limits(),
    }


def error_report(
    message: str, hint: str | None, exit_code: int, size: SizeReport | None, findings: tuple[Finding, ...] = ()
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
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
