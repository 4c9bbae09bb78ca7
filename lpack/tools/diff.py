"""`lpack diff OLD NEW`: packages added, removed and changed between two artifacts or two reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lpack.errors import DiffError
from lpack.staging.packages import Package
from lpack.tools.inspect import detected_runtime, inspect_artifact
from lpack.tools.reports import read_artifacts

Change = Literal["added", "removed", "changed", "resized"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    label: str  # the artifact name, or the file name
    zipped_bytes: int
    unzipped_bytes: int
    packages: tuple[Package, ...]
    runtime: str | None = None  # when the report says, or the zip's bytecode does
    architecture: str | None = None  # when the report says, or the zip's native code does


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageChange:
    name: str
    change: Change
    old_version: str | None
    new_version: str | None
    old_bytes: int
    new_bytes: int

    @property
    def delta(self) -> int:
        return self.new_bytes - self.old_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactDiff:
    label: str
    zipped_delta: int
    unzipped_delta: int
    old: Snapshot | None
    new: Snapshot | None
    changes: tuple[PackageChange, ...]  # largest size change first
    # "architecture x86_64 → arm64", "runtime python3.11 → python3.12": a new target, whatever the sizes say
    target_changes: tuple[str, ...] = ()


def load(path: Path) -> list[Snapshot]:
    """A zip (any Lambda artifact) or an lpack JSON report (`--report` / `--json`)."""
    if not path.is_file():
        raise DiffError(f"{path}: no such file", hint="pass two zips or two reports written by `lpack build --report`")
    if path.suffix == ".json":
        return _from_report(path)
    found = inspect_artifact(path)
    unsafe = [f for f in found.archive_findings if f.severity == "error"]
    if unsafe:
        raise DiffError(f"{path}: {unsafe[0].describe()}", hint="`lpack inspect` lists what is wrong with it")
    runtime = detected_runtime(found)
    return [
        Snapshot(
            label=path.stem,
            zipped_bytes=found.zipped_bytes,
            unzipped_bytes=found.unzipped_bytes,
            packages=found.packages,
            runtime=runtime.name if runtime else None,
            architecture=found.architectures[0] if len(found.architectures) == 1 else None,
        )
    ]


def _from_report(path: Path) -> list[Snapshot]:
    try:
        return [_snapshot(a) for a in read_artifacts(path)]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        raise DiffError(
            f"{path}: not an lpack report ({err})", hint="write one with `lpack build --report FILE`"
        ) from None


def _snapshot(artifact: dict[str, Any]) -> Snapshot:
    packages = tuple(
        Package(
            name=p["name"],
            version=p.get("version"),
            kind=p.get("kind", "python"),
            bytes=p["bytes"],
            files=p.get("files", 0),
        )
        for p in artifact["packages"]
    )
    # A Node.js bundle's packages are inside one file: the report keeps them from esbuild's metafile.
    bundled = artifact.get("bundle", {}).get("bundled", [])
    packages += tuple(
        Package(name=f"{p['name']} (bundled)", version=p.get("version"), kind="node", bytes=p["bytes"], files=0)
        for p in bundled
        if p["name"] != "(project)"
    )
    return Snapshot(
        label=artifact["name"],
        zipped_bytes=artifact["zipped_bytes"],
        unzipped_bytes=artifact["unzipped_bytes"],
        packages=packages,
        runtime=artifact.get("runtime"),
        architecture=artifact.get("architecture"),
    )


def diff(old: list[Snapshot], new: list[Snapshot]) -> tuple[ArtifactDiff, ...]:
    """Pair artifacts by name (or the single one on each side) and compare their packages."""
    pairs: list[tuple[str, Snapshot | None, Snapshot | None]]
    if len(old) == 1 and len(new) == 1:
        pairs = [(new[0].label if new[0].label == old[0].label else f"{old[0].label} → {new[0].label}", old[0], new[0])]
    else:
        by_old, by_new = {s.label: s for s in old}, {s.label: s for s in new}
        pairs = [(name, by_old.get(name), by_new.get(name)) for name in sorted(by_old.keys() | by_new.keys())]
    return tuple(_compare(label, a, b) for label, a, b in pairs)


def _compare(label: str, old: Snapshot | None, new: Snapshot | None) -> ArtifactDiff:
    before = {p.name: p for p in (old.packages if old else ())}
    after = {p.name: p for p in (new.packages if new else ())}
    changes = [c for name in before.keys() | after.keys() if (c := _change(name, before.get(name), after.get(name)))]
    changes.sort(key=lambda c: (-abs(c.delta), c.name))
    return ArtifactDiff(
        label=label,
        zipped_delta=(new.zipped_bytes if new else 0) - (old.zipped_bytes if old else 0),
        unzipped_delta=(new.unzipped_bytes if new else 0) - (old.unzipped_bytes if old else 0),
        old=old,
        new=new,
        changes=tuple(changes),
        target_changes=_target_changes(old, new),
    )


def _target_changes(old: Snapshot | None, new: Snapshot | None) -> tuple[str, ...]:
    if old is None or new is None:
        return ()
    pairs = (("architecture", old.architecture, new.architecture), ("runtime", old.runtime, new.runtime))
    return tuple(f"{what} {a} → {b}" for what, a, b in pairs if a and b and a != b)


def _change(name: str, old: Package | None, new: Package | None) -> PackageChange | None:
    if old and new and old.version == new.version and old.bytes == new.bytes:
        return None
    kind: Change = (
        "added"
        if old is None
        else "removed"
        if new is None
        else ("changed" if old.version != new.version else "resized")
    )
    return PackageChange(
        name=name,
        change=kind,
        old_version=old.version if old else None,
        new_version=new.version if new else None,
        old_bytes=old.bytes if old else 0,
        new_bytes=new.bytes if new else 0,
    )


def describe(change: PackageChange) -> str:
    """One reviewer-facing line: "+12.4 MB: pandas 2.2 → 2.3"."""
    sign = "+" if change.delta >= 0 else "-"
    size = f"{sign}{abs(change.delta) / 1e6:.1f} MB" if abs(change.delta) >= 100_000 else f"{change.delta:+,} B"
    if change.change == "added":
        what = f"{change.name} {change.new_version or ''} added"
    elif change.change == "removed":
        what = f"{change.name} {change.old_version or ''} removed"
    elif change.change == "changed":
        what = f"{change.name} {change.old_version} → {change.new_version}"
    else:
        what = f"{change.name} {change.new_version or ''}".rstrip()
    return f"{size}: {' '.join(what.split())}"
