"""`lpack init`: a runnable starting project from templates/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import tomli_w

from lpack.config.load import load_config
from lpack.config.sam import read_sam
from lpack.errors import ConfigError, LpackError

# Shipped inside the package (lpack/_templates links to the repository's templates/ directory).
TEMPLATES = Path(__file__).parents[1] / "_templates"
_PLACEHOLDER = "my-function"


def available() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir())


def init(template: str, dest: Path) -> list[Path]:
    """Write the template into `dest`; refuses (writing nothing) when any file would be overwritten."""
    source = TEMPLATES / template
    if not source.is_dir():
        raise ConfigError(f'no template "{template}"', hint="choose one of: " + ", ".join(available()))
    files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    targets = [dest / p.relative_to(source) for p in files]
    clashes = [t for t in targets if t.exists()]
    if clashes:
        shown = ", ".join(str(c.relative_to(dest)) for c in clashes[:5])
        raise ConfigError(f"{dest}: would overwrite {shown}", hint="pick an empty directory, or move those files")
    name = _function_name(dest)
    for src, target in zip(files, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        text = src.read_text(encoding="utf-8")
        target.write_text(text.replace(_PLACEHOLDER, name), encoding="utf-8")
        shutil.copymode(src, target)
    return targets


def _function_name(dest: Path) -> str:
    # The directory's name, if it is a valid project name; the template's otherwise.
    name = dest.resolve().name.lower().replace("_", "-")
    return name if name and all(c.isalnum() or c in "-." for c in name) else _PLACEHOLDER


def init_from_sam(template_path: Path, dest: Path | None = None, parameters: dict[str, str] | None = None) -> Path:
    """Write `lpack.toml` for the template's zip functions and layers into `dest` (default: beside it).

    The file is loaded back before this returns; one that would not load is removed, not left half-right.
    """
    template = read_sam(template_path, parameters)
    dest = (dest or template.path.parent).resolve()
    target = dest / "lpack.toml"
    if target.exists():
        raise ConfigError(f"{target}: already exists", hint="move it away, or edit it by hand")
    table = {kind: _rebased(entries, template.path.parent, dest) for kind, entries in template.table.items() if entries}
    header = (
        f"# Written by `lpack init --from-sam {template.path.name}`: one table per zip function and layer of the\n"
        "# template, by logical id, with its parameters' defaults and Globals resolved. `lpack build` reads this;\n"
        "# `lpack build --sam-template` reads the template itself.\n\n"
    )
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / ".lpack.toml.tmp"
    tmp.write_text(header + tomli_w.dumps(table), encoding="utf-8")
    tmp.replace(target)
    try:
        load_config(dest)
    except LpackError:
        target.unlink()
        raise
    return target


def _rebased(entries: dict[str, Any], base: Path, dest: Path) -> dict[str, Any]:
    # The template's paths are relative to its directory; the config's to the config's.
    def rebase(value: str) -> str:
        return Path(os.path.relpath(base / value, dest)).as_posix()

    return {
        name: {k: rebase(v) if k in ("source", "requirements") else v for k, v in entry.items()}
        for name, entry in entries.items()
    }
