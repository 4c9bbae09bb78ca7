"""`lpack lock`: a lock per function (and layer) and target, written into the project's lpack-locks/.

Python: pip-tools' requirements format with hashes, resolved by uv for the target's markers (pip-compile
resolves for the host's, so it cannot lock for python3.12/arm64 from an x86_64 machine), or the selection
from uv.lock / poetry.lock / pylock.toml; a pip-compile-style header carries the digest of the inputs
that `lpack build --locked` checks. Node.js: package-lock.json next to package.json when there is none.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from lpack.archive.writer import atomic_output
from lpack.config.model import BuildConfig, FunctionConfig
from lpack.resolve import _inputs
from lpack.resolve import committed as _committed
from lpack.resolve.locks import lock_format
from lpack.resolve.node import write_package_lock
from lpack.resolve.runner import Runner, run_subprocess, target_label


@dataclass(frozen=True, slots=True, kw_only=True)
class WrittenLock:
    name: str  # the function's or layer's
    role: str  # "function" or "layer"
    target: str  # "python3.12/arm64"
    path: Path
    changed: bool  # False: the file already held exactly this


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    name: str
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LockResult:
    locks: tuple[WrittenLock, ...]
    skipped: tuple[Skipped, ...]


def lock_project(config: BuildConfig, *, runner: Runner = run_subprocess) -> LockResult:
    """Lock every selected function and layer of `config` for its target, into the project."""
    written: list[WrittenLock] = []
    skipped: list[Skipped] = []
    for fn in (*config.layers, *config.functions):
        with tempfile.TemporaryDirectory(prefix="lpack-lock-") as tmp:
            found = _lock_one(fn, Path(tmp), runner)
        if isinstance(found, str):
            skipped.append(Skipped(name=fn.name, why=found))
        else:
            written.append(found)
    return LockResult(locks=tuple(written), skipped=tuple(skipped))


def _lock_one(fn: FunctionConfig, work: Path, runner: Runner) -> WrittenLock | str:
    if fn.kind == "prebuilt":
        return "prebuilt: nothing to resolve"
    if fn.runtime.language == "node":
        node_lock = write_package_lock(fn, runner=runner)
        if node_lock is None:
            return "no dependencies in package.json"
        path, changed = node_lock
        return WrittenLock(name=fn.name, role=fn.role, target=target_label(fn), path=path, changed=changed)
    if fn.requirements is not None and fn.requirements.suffix == ".txt":
        return f"{_committed.shown(fn.requirements, fn)} is pinned already"
    made = _python_lock(fn, work, runner)
    if made is None:
        return "no dependencies"
    text, digest = made
    what = _committed.shown(fn.requirements, fn) if fn.requirements is not None else "pyproject.toml"
    content = _committed.header(fn, digest, what) + text
    path = _committed.committed_path(fn)
    changed = not path.is_file() or path.read_text(encoding="utf-8") != content
    if changed:
        with atomic_output(path) as tmp:
            tmp.write_text(content, encoding="utf-8")
    return WrittenLock(name=fn.name, role=fn.role, target=target_label(fn), path=path, changed=changed)


def _python_lock(fn: FunctionConfig, work: Path, runner: Runner) -> tuple[str, str] | None:
    """The lock's body and its inputs' digest, made afresh (never from a committed lock or the cache)."""
    digests: list[str] = []
    infiles: list[tuple[Path, str]] = []

    def recording(
        fn: FunctionConfig, lines: list[str], infile: Path, lock: Path, runner: Runner, *, what: str
    ) -> list[str]:
        digests.append(_committed.lines_digest(fn, lines, infile))
        infiles.append((infile, what))
        return _inputs.lock_fresh(fn, lines, infile, lock, runner, what=what)

    inputs = _inputs.gather(fn, work, runner, locker=recording, committed=False)
    if inputs.lock is None:
        return None
    if fn.requirements is not None and lock_format(fn.requirements) is not None:
        digests.append(_committed.lock_file_digest(fn, fn.requirements))
    text = inputs.lock.read_text(encoding="utf-8")
    for infile, what in infiles:
        # `# via -r <file>` names the file uv read: a temporary one, or the project's by its full path.
        shown = _committed.shown(infile, fn) if infile.is_relative_to(fn.project_dir) else what
        text = text.replace(f"-r {infile}", f"-r {shown}")
    return text, digests[-1]
