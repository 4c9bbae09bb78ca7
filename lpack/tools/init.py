"""`lpack init`: a runnable starting project from templates/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tomli_w

from lpack.config.load import load_config
from lpack.config.sam import read_sam
from lpack.errors import ConfigError, LpackError

# Shipped inside the package (lpack/_templates links to the repository's templates/ directory).
TEMPLATES = Path(__file__).parents[1] / "_templates"
_PLACEHOLDER = "my-function"
# A directory holding only these counts as empty: `git init x && lpack init x` is a common start.
_IGNORED = frozenset({".git"})


def available() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.is_symlink())


def init(template: str, dest: Path) -> list[Path]:
    """Write the template into `dest`, which must be new or empty; writes nothing when it refuses.

    Only a template lpack ships can be named (never a path), only its regular files are copied, and every
    file is created new under `dest`, never through a symlink.
    """
    source = _template(template)
    files = _files(source)
    _require_empty(dest)
    name = _function_name(dest)
    targets = []
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = (source / rel).read_text(encoding="utf-8")
        mode = 0o755 if (source / rel).stat().st_mode & 0o111 else 0o644
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text.replace(_PLACEHOLDER, name))
        targets.append(target)
    return targets


def _template(template: str) -> Path:
    names = available()
    if template not in names:
        raise ConfigError(
            f'no template "{template}": --template takes the name of one lpack ships, not a path',
            hint="choose one of: " + ", ".join(names),
        )
    return TEMPLATES / template


def _files(source: Path) -> list[Path]:
    # Regular files only, and only those really inside the template: a symlink is never copied or followed.
    found = []
    for base, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not (Path(base) / d).is_symlink())
        for file_name in sorted(names):
            path = Path(base) / file_name
            if path.is_file() and not path.is_symlink():
                found.append(path.relative_to(source))
    return found


def _require_empty(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest}: a file, not a directory", hint="pass a new or empty directory")
    present = sorted(p.name for p in dest.iterdir() if p.name not in _IGNORED) if dest.is_dir() else []
    if present:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise ConfigError(
            f"{dest}: not empty ({shown}); lpack init writes only into a new or empty directory",
            hint="pick another directory, or move those files out first",
        )


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
