"""Reading lpack's own JSON build reports back: `lpack verify --report` and `lpack diff` take them as input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpack.errors import ConfigError
from lpack.runtimes import Runtime, get_runtime
from lpack.units import format_size

# A report lists packages, not files: even hundreds of functions stay a few MB. Past this it is not one.
_MAX_REPORT = 64 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportedTarget:
    """What a build report says an artifact was built for."""

    runtime: str | None = None
    handler: str | None = None


def read_artifacts(path: Path) -> list[dict[str, Any]]:
    """The `artifacts` entries of a report (`lpack build --report` / `--json`), as JSON decoded them.

    Raises ValueError saying what is wrong; each caller words its own error around it.
    """
    try:
        size = path.stat().st_size
        if size > _MAX_REPORT:
            raise ValueError(f"{format_size(size)}, far more than any report lpack writes")
        entries = json.loads(path.read_bytes())["artifacts"]
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(str(err).splitlines()[0][:200]) from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("'artifacts' is not a list of objects")
    return entries


def reported_target(report: Path, artifact: Path) -> ReportedTarget:
    """The runtime and handler `report` gives for `artifact` (matched by file name, else its first entry)."""
    try:
        entries = read_artifacts(report)
    except ValueError as err:
        raise ConfigError(f"{report}: not an lpack build report ({err})") from None
    found = [e for e in entries if Path(str(e.get("path") or "")).name == artifact.name] or entries[:1]
    if not found:
        return ReportedTarget()
    entry = found[0]
    return ReportedTarget(
        runtime=str(entry["runtime"]) if "runtime" in entry else None,
        handler=str(entry["handler"]) if "handler" in entry else None,
    )


def runtime_named(name: str) -> Runtime:
    """The runtime a user named (`--runtime`), or a usage error."""
    try:
        return get_runtime(name)
    except KeyError:
        raise ConfigError(f'unknown runtime "{name}"', hint="e.g. --runtime python3.12") from None
