"""The pipeline: resolve -> sources -> prune -> bytecode -> emit -> size. The only module that connects stages."""

from __future__ import annotations

import ast
import dataclasses
import logging
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lpack import _archive, _keys, _reuse, sources
from lpack.bytecode import BytecodeResult, compile_tree
from lpack.cache import Cache, make_key
from lpack.config import BuildConfig, FunctionConfig
from lpack.emit import Artifact
from lpack.emit.zip import ZipEmitter
from lpack.errors import ConfigError, LpackError, SizeLimitError
from lpack.prune import PruneReport, prune
from lpack.resolve._run import Runner, run_subprocess, target_label
from lpack.resolve.python import Resolved, installer_state, resolve
from lpack.runtimes import RUNTIME_PROVIDED_PYTHON
from lpack.size import SizeReport, measure
from lpack.staging import Entry, StagingTree, file_sha256, retarget, scan

log = logging.getLogger("lpack")
TASK_ROOT = "/var/task"  # where Lambda extracts a function zip (LAMBDA_TASK_ROOT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Progress: `stage` started (or `done`) for `function`."""

    function: str
    stage: str
    detail: str = ""


EventHandler = Callable[[Event], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionResult:
    name: str
    runtime: str
    architecture: str
    artifact: Artifact
    size: SizeReport
    pruned: PruneReport
    bytecode: BytecodeResult
    installer: str
    notes: tuple[str, ...]  # what was done (locked, built, fell back to pip)
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    functions: tuple[FunctionResult, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"{f.name}: {w}" for f in self.functions for w in f.warnings)


def build(
    config: BuildConfig,
    *,
    runner: Runner = run_subprocess,
    on_event: EventHandler | None = None,
    cache: Cache | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
) -> BuildResult:
    """Build every function in `config` into `config.out_dir`; raises LpackError on the first failure.

    `cache` defaults to the user's cache directory (LPACK_CACHE_DIR); `jobs` functions are built at once
    (default: one per core), and functions with the same dependencies share one install through the cache.
    """
    notify = on_event or (lambda _e: None)
    store = (cache or Cache.default()) if use_cache else None

    def one(fn: FunctionConfig) -> FunctionResult:
        try:
            return _build_function(fn, config.out_dir, runner, notify, store)
        except LpackError as err:
            if len(config.functions) > 1:
                raise err.prefixed(fn.name) from err
            raise

    workers = max(1, min(jobs or os.cpu_count() or 1, len(config.functions)))
    if workers == 1:
        return BuildResult(functions=tuple(one(fn) for fn in config.functions))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lpack-build") as pool:
        return BuildResult(functions=tuple(pool.map(one, config.functions)))  # in config order


def _build_function(
    fn: FunctionConfig, out_dir: Path, runner: Runner, notify: EventHandler, cache: Cache | None
) -> FunctionResult:
    dest = out_dir / f"{fn.name}.zip"
    key = _inputs_key(fn, out_dir) if cache is not None else None
    if cache is not None and key is not None:
        previous = _reused(fn, dest, cache, key)
        if previous is not None:
            notify(Event(function=fn.name, stage="done", detail=str(dest)))
            return previous
    result = _fresh(fn, out_dir, runner, notify, cache)
    if cache is not None and key is not None:
        _reuse.store_result(cache, key, result)
    return result


def _inputs_key(fn: FunctionConfig, out_dir: Path) -> str | None:
    if not fn.source.is_dir():
        return None  # the build reports it
    code = sources.collect(fn.source, include=fn.include, exclude=fn.exclude, out_dir=out_dir).tree
    return _keys.inputs_key(fn, out_dir, code)


def _reused(fn: FunctionConfig, dest: Path, cache: Cache, key: str) -> FunctionResult | None:
    """The last result for these exact inputs, if its artifact is still there unchanged."""
    previous = _reuse.load_result(cache, key, FunctionResult)
    if previous is None or not dest.is_file() or previous.artifact.path != dest:
        return None
    if fn.bytecode == "auto" and previous.bytecode.interpreter is None:
        return None  # an interpreter may have appeared since
    if file_sha256(dest) != previous.artifact.sha256:
        return None  # edited or replaced by something else
    # The earlier notes said how that build resolved ("installed into the cache"): nothing ran this time.
    return dataclasses.replace(previous, notes=(f"reused {dest.name}: no input changed",))


def _fresh(
    fn: FunctionConfig, out_dir: Path, runner: Runner, notify: EventHandler, cache: Cache | None
) -> FunctionResult:
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lpack-") as tmp:
        work = Path(tmp)
        notify(Event(function=fn.name, stage="resolve", detail=target_label(fn)))
        if cache is None:
            deps_dir, entry = work / "deps", None
            resolved = resolve(fn, deps_dir, work / "resolve", runner=runner)
        else:
            resolved, deps_dir, entry = _reuse.resolve_cached(fn, work, runner, cache)
        tree = _stage(fn, resolved, deps_dir, work, out_dir, entry=entry, warnings=warnings, notify=notify)
        notify(Event(function=fn.name, stage="prune"))
        provided = RUNTIME_PROVIDED_PYTHON if fn.exclude_runtime_provided else ()
        memo = _reuse.ImportMemo(entry) if entry is not None else None
        tree, pruned = prune(tree, fn.prune, runtime_provided=provided, direct=resolved.direct, imports_of=memo)
        if memo is not None:
            memo.save()
        warnings += check_handler(fn, tree)
        notify(Event(function=fn.name, stage="bytecode"))
        tree, bytecode = _bytecode(fn, tree, work / "pyc", entry, cache)
        if bytecode.reason:
            warnings.append(bytecode.reason)
        notify(Event(function=fn.name, stage="emit"))
        artifact, size = _emit(fn, tree, out_dir, cache, entry)
        warnings += [f.message for f in size.findings if f.severity == "warning"]
    notify(Event(function=fn.name, stage="done", detail=str(artifact.path)))
    return FunctionResult(
        name=fn.name,
        runtime=fn.runtime.name,
        architecture=fn.architecture,
        artifact=artifact,
        size=size,
        pruned=pruned,
        bytecode=bytecode,
        installer=resolved.installer,
        notes=resolved.notes,
        warnings=tuple(warnings),
    )


def _stage(
    fn: FunctionConfig,
    resolved: Resolved,
    deps_dir: Path,
    work: Path,
    out_dir: Path,
    *,
    entry: Path | None,
    warnings: list[str],
    notify: EventHandler,
) -> StagingTree:
    keep = lambda rel, is_dir: not installer_state(rel, is_dir)  # noqa: E731
    deps = StagingTree.of([])
    if deps_dir.is_dir():

        def walk() -> StagingTree:
            return scan(deps_dir, "deps", keep=keep)

        deps = _reuse.site_tree(deps_dir.parent, walk) if entry is not None else walk()
    deps = normalize_scripts(deps, work / "scripts")
    if resolved.built_wheel and not fn.source_set:
        return deps  # the project's own wheel carries its code
    notify(Event(function=fn.name, stage="sources", detail=str(fn.source)))
    if not fn.source.is_dir():
        raise ConfigError(f"source directory {fn.source} does not exist", hint="fix `source` in the config")
    selection = sources.collect(fn.source, include=fn.include, exclude=fn.exclude, out_dir=out_dir)
    if selection.skipped_sensitive:
        shown = ", ".join(selection.skipped_sensitive[:8])
        more = f" and {len(selection.skipped_sensitive) - 8} more" if len(selection.skipped_sensitive) > 8 else ""
        warnings.append(f"not packed (list them in `include` to pack them): {shown}{more}")
    shadowed = sorted(deps.paths() & selection.tree.paths())
    if shadowed:
        warnings.append(f"project files replace files from dependencies: {', '.join(shadowed[:5])}")
    return deps.merged(selection.tree)


def normalize_scripts(tree: StagingTree, overlay: Path) -> StagingTree:
    """Console scripts get `#!/usr/bin/env python3`: the installer wrote this machine's interpreter path."""

    def fix(entry: Entry) -> Entry:
        if not entry.path.startswith("bin/") or entry.size > 1 << 20:
            return entry
        data = entry.source.read_bytes()
        first, sep, rest = data.partition(b"\n")
        if not first.startswith(b"#!/") or b"python" not in first:
            return entry
        target = overlay / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"#!/usr/bin/env python3" + sep + rest)
        return retarget(entry, target)

    return tree.mapped(fix)


def check_handler(fn: FunctionConfig, tree: StagingTree) -> list[str]:
    """The handler's module must be in the artifact; a missing function is a warning (it may be dynamic)."""
    module, _, func = fn.handler.rpartition(".")
    base = module.replace(".", "/")
    candidates = [f"{base}.py", f"{base}/__init__.py"]
    paths = tree.paths()
    found = next((c for c in candidates if c in paths), None)
    if found is None:
        if any(p.startswith(base + ".") and p.endswith(".so") for p in paths):
            return []
        raise ConfigError(
            f'handler "{fn.handler}": neither {candidates[0]} nor {candidates[1]} is in the artifact',
            hint="fix `handler`, or `source`/`include` so the module is packed",
        )
    entry = next(e for e in tree if e.path == found)
    return [] if _defines(entry.source, func) else [f'handler "{fn.handler}": {found} has no top-level "{func}"']


def _defines(path: Path, name: str) -> bool:
    try:
        module = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return False
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def _bytecode(
    fn: FunctionConfig, tree: StagingTree, work: Path, entry: Path | None, cache: Cache | None
) -> tuple[StagingTree, BytecodeResult]:
    if fn.bytecode == "none":
        return tree, BytecodeResult(compiled=0, failed=0, interpreter=None, reason=None)
    assert fn.runtime.version is not None
    python = (_reuse.interpreter(cache, fn.runtime.version, fn.python) if cache else None) or fn.python
    if entry is None:
        return compile_tree(tree, fn.runtime, work, root=TASK_ROOT, python=python)
    # Cached dependencies keep their pyc next to them: a rebuild compiles only the project's code.
    cached = StagingTree(entries=tuple(e for e in tree if e.source.is_relative_to(entry / "site")))
    rest = tree.without(cached.paths())
    # A pyc records the path it runs from (co_filename): one directory per interpreter version and root.
    pyc_dir = entry / "pyc-cpython-{}{}-{}".format(*fn.runtime.version, make_key(TASK_ROOT)[:12])
    deps, done = compile_tree(cached, fn.runtime, pyc_dir, root=TASK_ROOT, python=python, keep_existing=True)
    code, more = compile_tree(rest, fn.runtime, work, root=TASK_ROOT, python=python)
    both = dataclasses.replace(more, compiled=done.compiled + more.compiled, failed=done.failed + more.failed)
    return deps.merged(code), both


def _emit(
    fn: FunctionConfig, tree: StagingTree, out_dir: Path, cache: Cache | None, entry: Path | None
) -> tuple[Artifact, SizeReport]:
    dest = out_dir / f"{fn.name}.zip"
    reuse = _reuse.reusable_members(entry, tree, fn.compression) if entry else {}
    with _archive.atomic_output(dest) as tmp:
        artifact = ZipEmitter(compression=fn.compression, reuse=reuse).emit(tree, tmp)
        size = measure(tree, zipped_bytes=artifact.zipped_bytes, budget=fn.budget)
        if size.over:
            first = next(f for f in size.findings if f.severity == "error")
            raise SizeLimitError(f"{dest.name}: {first.message}", report=size, hint=_size_hint(fn, size))
        if cache is not None and entry is not None:
            _reuse.remember_members(cache, entry, tree, artifact=tmp, mode=fn.compression, reused=reuse)
    return dataclasses.replace(artifact, path=dest), size


def _size_hint(fn: FunctionConfig, size: SizeReport) -> str:
    top = ", ".join(f"{c.name} {c.bytes / 1e6:.1f} MB" for c in size.largest[:3])
    extra = "" if fn.exclude_runtime_provided else "; set exclude-runtime-provided = true to drop boto3/botocore"
    return f"largest: {top}{extra}"
