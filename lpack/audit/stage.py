"""The audit stage for one artifact: its findings, and the error that stops a build that would fail on Lambda."""

from __future__ import annotations

from lpack.audit.checks import AuditReport, ElfReader, audit
from lpack.config.model import FunctionConfig
from lpack.errors import AuditError
from lpack.staging.tree import StagingTree

_SHOWN = 20  # errors listed in the message; the JSON report has all of them


def audit_artifact(
    fn: FunctionConfig, tree: StagingTree, *, elf_of: ElfReader | None = None
) -> tuple[StagingTree, AuditReport]:
    """The tree without what does nothing on Lambda (*-nspkg.pth), and the report; AuditError on any error."""
    report = audit(tree, fn.runtime, fn.architecture, waive=fn.audit.waive, elf_of=elf_of)
    errors = report.errors
    if errors:
        lines = "\n".join(f"  {f.describe()}" for f in errors[:_SHOWN])
        if len(errors) > _SHOWN:
            lines += f"\n  ... and {len(errors) - _SHOWN} more (--report FILE lists them all)"
        raise AuditError(
            f"{len(errors)} file(s) would fail on {fn.runtime.name}/{fn.architecture}:\n{lines}",
            hint=f'if one is never loaded on Lambda, waive it: audit = {{ waive = ["{errors[0].key}"] }}',
            findings=errors,
        )
    return tree.without(report.drop), report
