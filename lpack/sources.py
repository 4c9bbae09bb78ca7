"""Selects the project's own code with gitignore-style include/exclude patterns."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lpack.config.model import FunctionConfig, SharedInclude
from lpack.errors import ConfigError
from lpack.resolve.committed import LOCK_DIR
from lpack.staging.patterns import Patterns
from lpack.staging.tree import StagingTree, scan

# Never packed unless the user lists them in `include`: secrets, VCS data, environments, build output
# and the project's own test suite. Found ones are named in a warning so nothing vanishes silently.
SENSITIVE = (
    ".git/",
    ".hg/",
    ".svn/",
    ".venv/",
    "venv/",
    ".env",
    ".env.*",
    "*.pem",
    "id_rsa*",
    "id_ed25519*",
    ".aws/",
    "dist/",
    "/tests/",
    "/test/",
)
# Noise: caches and tool state, dropped without a warning.
NOISE = (
    "__pycache__/",
    "*.py[cod]",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    ".lpack/",
    ".idea/",
    ".vscode/",
    ".DS_Store",
    "node_modules/",
    ".lpackignore",
    "lpack.toml",
    "pyproject.toml",
    "requirements*.txt",
    "requirements*.in",
    "package-lock.json",
    "npm-shrinkwrap.json",
    ".gitignore",
    ".github/",
    ".gitlab-ci.yml",
    ".pre-commit-config.yaml",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSelection:
    tree: StagingTree
    skipped_sensitive: tuple[str, ...]  # paths left out by SENSITIVE, for the warning


# A prebuilt directory (a Go binary, a .NET publish folder) is the artifact as another tool made it: only
# secrets and VCS data are left out.
_PREBUILT_SENSITIVE = tuple(p for p in SENSITIVE if p not in ("dist/", "/tests/", "/test/", ".venv/", "venv/"))
_PREBUILT_NOISE = (".lpackignore", ".DS_Store")


def collect(
    source: Path, *, include: tuple[str, ...], exclude: tuple[str, ...], out_dir: Path, prebuilt: bool = False
) -> SourceSelection:
    """The files under `source` that go into the artifact."""
    ignore_file = source / ".lpackignore"
    user_exclude = [*exclude, *(ignore_file.read_text().splitlines() if ignore_file.is_file() else [])]
    excluded = Patterns(user_exclude)
    sensitive = Patterns(list(_PREBUILT_SENSITIVE if prebuilt else SENSITIVE))
    noise = Patterns(list(_PREBUILT_NOISE if prebuilt else NOISE))
    included = Patterns(list(include)) if include else None
    out_rel = _relative(out_dir, source)
    skipped: list[str] = []

    def keep(rel: str, is_dir: bool) -> bool:
        if out_rel is not None and (rel.rstrip("/") == out_rel or rel.startswith(out_rel + "/")):
            return False
        explicitly = included is not None and included.match(rel)
        if excluded.match(rel) or (noise.match(rel) and not explicitly):
            return False
        if sensitive.match(rel) and not explicitly:
            skipped.append(rel)
            return False
        # A directory is walked unless excluded; `include` filters files only, as in MANIFEST-style lists.
        return is_dir or included is None or explicitly

    tree = scan(source, "code", keep=keep)
    return SourceSelection(tree=tree, skipped_sensitive=tuple(skipped))


def select(fn: FunctionConfig, out_dir: Path) -> SourceSelection:
    """The function's own files, as its config selects them; ConfigError when its source is missing."""
    if not fn.source.is_dir():
        raise ConfigError(f"source directory {fn.source} does not exist", hint="fix `source` in the config")
    prebuilt = fn.kind == "prebuilt"
    exclude = (*fn.exclude, *_committed_locks(fn))
    own = collect(fn.source, include=fn.include, exclude=exclude, out_dir=out_dir, prebuilt=prebuilt)
    for shared in fn.shared:
        own = _with_shared(own, shared, fn, out_dir)
    return own


def _committed_locks(fn: FunctionConfig) -> list[str]:
    # The locks `lpack lock` commits belong to the build, not the code.
    rel = _relative(fn.project_dir / LOCK_DIR, fn.source)
    return [f"/{rel}/"] if rel is not None else []


def _with_shared(own: SourceSelection, shared: SharedInclude, fn: FunctionConfig, out_dir: Path) -> SourceSelection:
    # Shared code follows the source's rules: secrets and noise left out (named in the warning), the exclude
    # patterns and its own .lpackignore apply, symlinks must stay inside it. It may not overwrite a file.
    where = f'include {{ from = "{shared.source}", to = "{shared.target}" }}'
    if shared.source.is_file():
        if not shared.target:
            raise ConfigError(f"{where}: a single file needs `to`, its path in the artifact", hint=_HINT)
        entry = scan(shared.source.parent, "code", keep=lambda rel, d: rel == shared.source.name)
        found = SourceSelection(tree=entry.mapped(lambda e: replace(e, path=shared.target)), skipped_sensitive=())
    elif shared.source.is_dir():
        found = collect(shared.source, include=(), exclude=fn.exclude, out_dir=out_dir)
        found = _under(found, shared.target)
    else:
        raise ConfigError(f"{where}: no such file or directory", hint=_HINT)
    clash = sorted(own.tree.paths() & found.tree.paths())
    if clash:
        raise ConfigError(
            f"{where}: {', '.join(clash[:5])} already come from the function's own files",
            hint="choose another `to`, or exclude one of them",
        )
    return SourceSelection(
        tree=own.tree.merged(found.tree), skipped_sensitive=(*own.skipped_sensitive, *found.skipped_sensitive)
    )


_HINT = "fix `include` in the config: `from` is relative to the project directory, `to` to the artifact's root"


def _under(selection: SourceSelection, target: str) -> SourceSelection:
    if not target:
        return selection
    return SourceSelection(
        tree=selection.tree.mapped(lambda e: replace(e, path=f"{target}/{e.path}")),
        skipped_sensitive=tuple(f"{target}/{rel}" for rel in selection.skipped_sensitive),
    )


def add_sources(deps: StagingTree, selection: SourceSelection) -> tuple[StagingTree, list[str]]:
    """The dependencies with the project's files over them, and warnings for what was left out or replaced."""
    warnings = []
    skipped = selection.skipped_sensitive
    if skipped:
        more = f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
        warnings.append(f"not packed (list them in `include` to pack them): {', '.join(skipped[:8])}{more}")
    shadowed = sorted(deps.paths() & selection.tree.paths())
    if shadowed:
        warnings.append(f"project files replace files from dependencies: {', '.join(shadowed[:5])}")
    return deps.merged(selection.tree), warnings


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
