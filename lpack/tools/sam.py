"""After a build from a SAM template: `.aws-sam/build/` as `sam build` leaves it, so `sam package` and
`sam deploy` ship lpack's artifacts. One directory per built resource, holding the artifact's files, and a
template.yaml whose CodeUri / ContentUri / Code point at those directories."""

from __future__ import annotations

import copy
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from lpack.errors import EmitError
from lpack.pipeline.build import BuildResult

# lpack.config.sam (and YAML with it) is imported when a SAM template is used: `lpack build` imports this
# module, and reads its template through read_sam and load_sam below, only with --sam-template.
if TYPE_CHECKING:
    from lpack.config.model import BuildConfig, Overrides
    from lpack.config.sam import SamTemplate

# Fixed so the directories (and so `sam package`'s zips of them) do not depend on when the build ran.
_MTIME = 315532800  # 1980-01-01, the zip epoch


def read_sam(path: Path, parameters: Mapping[str, str] | None = None) -> SamTemplate:
    from lpack.config import sam  # noqa: PLC0415 - see the imports

    return sam.read_sam(path, parameters)


def load_sam(template: SamTemplate, overrides: Overrides | None = None) -> BuildConfig:
    from lpack.config import sam  # noqa: PLC0415 - see the imports

    return sam.load_sam(template, overrides)


@dataclass(frozen=True, slots=True, kw_only=True)
class SamBuild:
    build_dir: Path  # .aws-sam/build
    template: Path  # .aws-sam/build/template.yaml
    resources: tuple[str, ...]  # logical ids written


def write_sam_build(template: SamTemplate, result: BuildResult, build_dir: Path | None = None) -> SamBuild:
    """Write `.aws-sam/build/<LogicalId>/` for each zip artifact and the rewritten template beside them."""
    build_dir = build_dir or template.path.parent / ".aws-sam" / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    artifacts = {r.name: r.artifact.path for r in result.functions if r.name in template.built}
    for logical_id, artifact in sorted(artifacts.items()):
        _extract(artifact, build_dir / logical_id)
    from lpack.config.intrinsics import dump_template  # noqa: PLC0415 - see the imports

    data = _rewritten(template, sorted(artifacts))
    out = build_dir / "template.yaml"
    _write_atomically(out, dump_template(data))
    return SamBuild(build_dir=build_dir, template=out, resources=tuple(sorted(artifacts)))


def _rewritten(template: SamTemplate, built: list[str]) -> dict[str, Any]:
    # The template as written, intrinsics untouched (CloudFormation resolves them at deploy), with each built
    # resource's code property pointing at its directory, relative to the new template (as sam build does).
    from lpack.config.sam import CODE_PROPERTY  # noqa: PLC0415 - see the imports

    data = copy.deepcopy(dict(template.data))
    for logical_id in built:
        resource = data["Resources"][logical_id]
        resource.setdefault("Properties", {})[CODE_PROPERTY[resource["Type"]]] = logical_id
        metadata = resource.setdefault("Metadata", {})
        metadata["SamResourceId"] = logical_id
        metadata["BuiltBy"] = "lpack"
    return data


def _extract(artifact: Path, dest: Path) -> None:
    # Into a temporary sibling, then swapped in: a failed extraction leaves the previous directory whole.
    if not zipfile.is_zipfile(artifact):
        raise EmitError(
            f"{artifact.name}: not a zip, cannot write it to .aws-sam/build", hint="build with format = zip"
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        with zipfile.ZipFile(artifact) as archive:
            for info in archive.infolist():
                _extract_one(archive, info, tmp)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _extract_one(archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path) -> None:
    name = PurePosixPath(info.filename)
    # Our own zip, but read back all the same: no member may land outside the directory.
    if name.is_absolute() or ".." in name.parts:
        raise EmitError(f"{info.filename}: a member outside the artifact's root", hint="rebuild the artifact")
    target = root / name
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    mode = (info.external_attr >> 16) & 0o777
    target.chmod(0o755 if mode & stat.S_IXUSR else 0o644)
    _touch(target)


def _touch(path: Path) -> None:
    os.utime(path, (_MTIME, _MTIME))


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
