"""`lpack init`: a runnable starting project from templates/."""

from __future__ import annotations

import shutil
from pathlib import Path

from lpack.errors import ConfigError

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
