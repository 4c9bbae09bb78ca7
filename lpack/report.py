"""The JSON report (`--report FILE`, `--json`): plain data, versioned, no rendering."""

from __future__ import annotations

from typing import Any

from lpack import runtimes
from lpack.build import BuildResult, FunctionResult
from lpack.oci import ImageInfo
from lpack.size import SizeReport

SCHEMA_VERSION = 1


def _size(size: SizeReport) -> dict[str, Any]:
    return {
        "largest": [{"name": c.name, "bytes": c.bytes, "files": c.files} for c in size.largest],
        "findings": [
            {"severity": f.severity, "limit": f.limit, "message": f.message, "actual": f.actual, "allowed": f.allowed}
            for f in size.findings
        ],
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
        **({"image": _image(a.image)} if a.image is not None else {}),
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


def limits() -> dict[str, int]:
    return {
        "zipped_direct_upload": runtimes.MAX_ZIPPED,
        "unzipped": runtimes.MAX_UNZIPPED,
        "layers": runtimes.MAX_LAYERS,
        "image": runtimes.MAX_IMAGE_BYTES,
        "image_manifest": runtimes.MAX_MANIFEST_BYTES,
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


def error_report(message: str, hint: str | None, exit_code: int, size: SizeReport | None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "artifacts": [],
        "error": {
            "message": message,
            "hint": hint,
            "exit_code": exit_code,
            **({"size": _size(size)} if size is not None else {}),
        },
        "warnings": [],
        "limits": limits(),
    }
