"""Selects the project's own code with gitignore-style include/exclude patterns."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from lpack.archive.writer import OUTPUT_TAG, TMP_DIR
from lpack.config.model import FunctionConfig, SharedInclude
from lpack.errors import AuditError, ConfigError
from lpack.redact import SHAPES
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
    # Credential files, after gitleaks' and detect-secrets' lists: package-index and registry logins, SSH and
    # TLS keys and keystores, cloud CLIs' configs, Terraform state (it holds every output in clear).
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".ssh/",
    ".gnupg/",
    ".aws/",
    ".azure/",
    ".kube/",
    ".config/gcloud/",
    ".docker/",
    ".dockercfg",
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".git-credentials",
    ".htpasswd",
    ".pgpass",
    ".s3cfg",
    ".boto",
    ".vault-token",
    ".envrc",
    "credentials.json",
    "client_secret*.json",
    "service-account*.json",
    "*.tfstate",
    "*.tfstate.backup",
    ".terraform/",
    "dist/",
    "/tests/",
    "/test/",
)
_SCAN_MAX = 2 << 20  # bytes: source files and configs are small; a data blob is not where keys are pasted

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


# Build output, never packed even when `include` lists it (#12): a build must not pack what builds made, or
# the artifact changes on every build. lpack's own: output directories (tagged with OUTPUT_TAG when lpack
# writes into one, so --out used earlier is recognised too) and reports (--report, --json > FILE, by their
# first bytes). Other tools': their build and cache directories.
OTHER_TOOLS = (
    ".aws-sam/",
    ".serverless/",
    "cdk.out/",
    "__pycache__/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    "node_modules/.cache/",
)
# How every lpack JSON report begins (cli/report.py: schema_version, then command, json.dumps indent=2).
_REPORT_HEAD = re.compile(rb'\{\s*"schema_version":\s*\d+,\s*"command":\s*"[a-z]+"')


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSelection:
    tree: StagingTree
    skipped_sensitive: tuple[str, ...]  # paths left out by SENSITIVE, for the warning
    forced_sensitive: tuple[str, ...] = ()  # paths SENSITIVE matches that `include` forced in: packed, with a warning
    skipped_outputs: tuple[str, ...] = ()  # build output left out ("dist/ (lpack output)"), for a note


def is_lpack_report(path: Path) -> bool:
    """Whether `path` is a JSON report lpack wrote (`--report FILE`, `--json`), by how it begins."""
    try:
        with path.open("rb") as fh:
            return bool(_REPORT_HEAD.match(fh.read(128)))
    except OSError:
        return False


def _output_reason(source: Path, rel: str, is_dir: bool, other_tools: Patterns) -> str | None:
    """Why `rel` is build output that never goes into an artifact, or None."""
    if not is_dir and rel.rpartition("/")[2] == OUTPUT_TAG:
        return "an lpack output directory's tag"
    if is_dir and rel.rstrip("/").rpartition("/")[2] == TMP_DIR:
        return "lpack's temporary files"
    if is_dir and rel.strip("/") and (source / rel / OUTPUT_TAG).is_file():
        return "an lpack output directory"
    if not is_dir and rel.endswith(".json") and is_lpack_report(source / rel):
        return "an lpack report"
    if other_tools.match(rel):
        return "another tool's build output or cache"
    return None


def outputs_note(selection: SourceSelection) -> str | None:
    """One note naming every piece of build output left out, or None."""
    found = selection.skipped_outputs
    if not found:
        return None
    more = f" and {len(found) - 8} more" if len(found) > 8 else ""
    return f"not packed (build output): {', '.join(found[:8])}{more}"


# A prebuilt directory (a Go binary, a .NET publish folder) is the artifact as another tool made it: only
# secrets and VCS data are left out.
_PREBUILT_SENSITIVE = tuple(p for p in SENSITIVE if p not in ("dist/", "/tests/", "/test/", ".venv/", "venv/"))
_PREBUILT_NOISE = (".lpackignore", ".DS_Store")


def collect(
    source: Path, *, include: tuple[str, ...], exclude: tuple[str, ...], out_dir: Path, prebuilt: bool = False
) -> SourceSelection:
    """The files under `source` that go into the artifact."""
    ignore_file = source / ".lpackignore"
    user_exclude = [*exclude, *(_ignore_lines(ignore_file) if ignore_file.is_file() else [])]
    excluded = Patterns(user_exclude)
    sensitive = Patterns(list(_PREBUILT_SENSITIVE if prebuilt else SENSITIVE))
    noise = Patterns(list(_PREBUILT_NOISE if prebuilt else NOISE))
    included = Patterns(list(include)) if include else None
    out_rel = _relative(out_dir, source)
    skipped: list[str] = []
    forced: list[str] = []
    outputs: list[str] = []
    other_tools = Patterns([] if prebuilt else list(OTHER_TOOLS))

    def keep(rel: str, is_dir: bool) -> bool:
        if out_rel is not None and (rel.rstrip("/") == out_rel or rel.startswith(out_rel + "/")):
            outputs.append(f"{rel} (the output directory)")
            return False
        reason = _output_reason(source, rel, is_dir, other_tools)
        if reason is not None:
            outputs.append(f"{rel} ({reason})")
            return False
        explicitly = included is not None and included.match(rel)
        if excluded.match(rel) or (noise.match(rel) and not explicitly):
            return False
        if sensitive.match(rel) and not explicitly:
            skipped.append(rel)
            return False
        if sensitive.match(rel) and not is_dir:
            forced.append(rel)
        # A directory is walked unless excluded; `include` filters files only, as in MANIFEST-style lists.
        return is_dir or included is None or explicitly

    tree = scan(source, "code", keep=keep)
    return SourceSelection(
        tree=tree,
        skipped_sensitive=tuple(skipped),
        forced_sensitive=tuple(forced),
        skipped_outputs=tuple(outputs),
    )


def _ignore_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name}: not UTF-8", hint="save it as UTF-8 (gitignore-style patterns)") from None


def _secrets_in(rel: str, path: Path) -> list[str]:
    """What in this file looks like a credential, as "path line N: what"; binary and big files are not read."""
    if path.stat().st_size > _SCAN_MAX:
        return []
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return []
    text = data.decode("latin-1")  # any byte is a character: shapes are ASCII, and offsets stay byte offsets
    found = []
    for what, shape in SHAPES:
        match = shape.search(text)
        if match is not None:
            found.append(f"{rel} line {text.count(chr(10), 0, match.start()) + 1}: {what}")
    return found


def select(fn: FunctionConfig, out_dir: Path) -> SourceSelection:
    """The function's own files, as its config selects them; ConfigError when its source is missing."""
    if fn.source.is_file():
        what = "a zip file" if zipfile.is_zipfile(fn.source) else "a file"
        raise ConfigError(
            f"source {fn.source.name} is {what}, not a directory",
            hint="unzip it into a directory and point `source` at that directory",
        )
    if not fn.source.is_dir():
        raise ConfigError(f"source directory {fn.source} does not exist", hint="fix `source` in the config")
    if out_dir.resolve() == fn.source.resolve():
        # Every build would pack the previous artifact into the next one: the zip grows and never repeats.
        raise ConfigError(
            f"the output directory {out_dir} is the function's source directory",
            hint="write artifacts elsewhere (--out dist, the default), outside or below the source",
        )
    prebuilt = fn.kind == "prebuilt"
    exclude = (*fn.exclude, *_committed_locks(fn))
    selection = collect(fn.source, include=fn.include, exclude=exclude, out_dir=out_dir, prebuilt=prebuilt)
    for shared in fn.shared:
        selection = _with_shared(selection, shared, fn, out_dir)
    return selection


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
        tree = entry.mapped(lambda e: replace(e, path=shared.target))
        # Named in `include` itself, so packed: with the warning any sensitive file forced in gets.
        forced = (shared.target,) if Patterns(list(SENSITIVE)).match(shared.source.name) else ()
        found = SourceSelection(tree=tree, skipped_sensitive=(), forced_sensitive=forced)
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
        tree=own.tree.merged(found.tree),
        skipped_sensitive=(*own.skipped_sensitive, *found.skipped_sensitive),
        forced_sensitive=(*own.forced_sensitive, *found.forced_sensitive),
        skipped_outputs=(*own.skipped_outputs, *found.skipped_outputs),
    )


_HINT = "fix `include` in the config: `from` is relative to the project directory, `to` to the artifact's root"


def _under(selection: SourceSelection, target: str) -> SourceSelection:
    if not target:
        return selection
    return SourceSelection(
        tree=selection.tree.mapped(lambda e: replace(e, path=f"{target}/{e.path}")),
        skipped_sensitive=tuple(f"{target}/{rel}" for rel in selection.skipped_sensitive),
        forced_sensitive=tuple(f"{target}/{rel}" for rel in selection.forced_sensitive),
        skipped_outputs=tuple(f"{target}/{rel}" for rel in selection.skipped_outputs),
    )


def check_secrets(fn: FunctionConfig, found: tuple[str, ...]) -> list[str]:
    """What the content scan found in files being packed: a warning, or AuditError with `--strict`. Called where
    files are packed (sources added, a bundle written), so the cache and --no-cache decide alike."""
    if not found:
        return []
    if fn.strict_secrets:
        raise AuditError(
            f"{fn.name}: a packed file looks like it holds a secret: {_listed(found, 3)}",
            hint="move the secret out of the code (environment, Secrets Manager), or exclude the file",
        )
    return [f"packed, and looks like a secret (--strict fails the build): {_listed(found, 5)}"]


def scan_tree(tree: StagingTree) -> tuple[str, ...]:
    """The content scan over `tree`'s files (a bundle's output, for one)."""
    return tuple(f for e in tree for f in _secrets_in(e.path, e.source))


def add_sources(fn: FunctionConfig, deps: StagingTree, selection: SourceSelection) -> tuple[StagingTree, list[str]]:
    """The dependencies with the project's files over them, and warnings for what was left out or replaced."""
    # Scanned here, where files are packed: a reused build reads no file for it, and the paths are final.
    warnings = check_secrets(fn, scan_tree(selection.tree))
    skipped = selection.skipped_sensitive
    if skipped:
        warnings.append(f"not packed (list them in `include` to pack them): {_listed(skipped, 8)}")
    if selection.forced_sensitive:
        warnings.append(
            f"packed because `include` lists them, though they may hold secrets: "
            f"{_listed(selection.forced_sensitive, 8)}"
        )
    shadowed = sorted(deps.paths() & selection.tree.paths())
    if shadowed:
        warnings.append(f"project files replace files from dependencies: {', '.join(shadowed[:5])}")
    return deps.merged(selection.tree), warnings


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _listed(items: tuple[str, ...] | list[str], most: int) -> str:
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more
