"""The pipeline: resolve -> sources -> prune -> audit -> bytecode -> emit -> size. The only module joining stages."""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import os
import sysconfig
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lpack import layers, sources
from lpack.archive import writer as _archive
from lpack.audit import bootstrap as _prebuilt
from lpack.audit.checks import AuditReport, audit
from lpack.bytecode import BytecodeResult, compile_tree
from lpack.cache import Cache, make_key
from lpack.config.load import ArtifactRole, BuildConfig, FunctionConfig, ImageDelivery
from lpack.emit import Artifact, get_emitter
from lpack.emit.zip import ZipEmitter
from lpack.errors import AuditError, ConfigError, LpackError, SizeLimitError
from lpack.pipeline import reuse as _reuse
from lpack.prune import node as _node
from lpack.prune.rules import PruneReport, prune
from lpack.resolve import keys as _keys
from lpack.resolve.node import resolve_node
from lpack.resolve.python import Resolved, installer_state, resolve
from lpack.resolve.runner import Runner, run_subprocess, target_label
from lpack.runtimes import RUNTIME_PROVIDED_PYTHON
from lpack.size import SizeReport, measure, measure_image
from lpack.staging.tree import Entry, StagingTree, file_sha256, retarget, scan

log = logging.getLogger("lpack")


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
    handler: str
    artifact: Artifact
    size: SizeReport
    pruned: PruneReport
    bytecode: BytecodeResult
    audit: AuditReport
    installer: str
    notes: tuple[str, ...]  # what was done (locked, built, fell back to pip)
    warnings: tuple[str, ...]
    role: ArtifactRole = "function"
    layers: tuple[str, ...] = ()  # a function's layers, whose bytes its size findings include
    compatible_runtimes: tuple[str, ...] = ()  # a layer's, for PublishLayerVersion
    compatible_architectures: tuple[str, ...] = ()


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
    enforce_limits: bool = True,
    cache: Cache | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
) -> BuildResult:
    """Build every function in `config` into `config.out_dir`; raises LpackError on the first failure.

    With `enforce_limits=False` (what `lpack check` uses), an artifact over a limit or budget is still
    written and its findings returned instead of raised. `cache` defaults to the user's cache directory
    (LPACK_CACHE_DIR); `jobs` artifacts are built at once (default: one per core), and artifacts with the
    same dependencies share one install through the cache.
    """
    notify = on_event or (lambda _e: None)
    store = (cache or Cache.default()) if use_cache else None
    many = len(config.functions) + len(config.layers) > 1
    built_layers: dict[str, FunctionResult] = {}

    def one(fn: FunctionConfig) -> FunctionResult:
        try:
            used = [built_layers[name] for name in fn.layers]
            return _build_function(
                fn,
                config.out_dir,
                runner,
                notify,
                used=used,
                enforce=enforce_limits,
                delivery=config.image,
                cache=store,
            )
        except LpackError as err:
            if many:
                raise err.prefixed(fn.name) from err
            raise

    # Layers first: a function's check needs its layers' sizes and packages.
    layer_results = _each(one, config.layers, jobs)
    built_layers.update((r.name, r) for r in layer_results)
    return BuildResult(functions=(*layer_results, *_each(one, config.functions, jobs)))


def _each(
    build_one: Callable[[FunctionConfig], FunctionResult], fns: tuple[FunctionConfig, ...], jobs: int | None
) -> tuple[FunctionResult, ...]:
    """`build_one` over `fns` in threads, results in config order."""
    workers = max(1, min(jobs or os.cpu_count() or 1, len(fns)))
    if workers == 1:
        return tuple(build_one(fn) for fn in fns)
    # sysconfig fills its variables lazily and not thread-safely: two threads asking at once (uv's
    # find_uv_bin does) can get None. Fill them before the threads start.
    sysconfig.get_config_vars()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lpack-build") as pool:
        return tuple(pool.map(build_one, fns))


def _part(name: str, size: SizeReport) -> layers.Part:
    found = {p.name: p.version for p in size.packages if p.kind != "code"}
    return layers.Part(name=name, unzipped_bytes=size.unzipped_bytes, packages=found)


def _with_layers(
    fn: FunctionConfig, size: SizeReport, used: list[FunctionResult], *, enforce: bool
) -> tuple[SizeReport, list[str]]:
    """The function's size findings with its layers counted, and what it shares with them."""
    parts = [_part(u.name, u.size) for u in used]
    warnings, findings = layers.check_stack(fn, _part(fn.name, size), parts, enforce=enforce)
    for layer in used:
        if fn.runtime.name not in layer.compatible_runtimes:
            warnings.append(f'layer "{layer.name}" does not list {fn.runtime.name} in compatible-runtimes')
    return dataclasses.replace(size, findings=(*size.findings, *findings)), warnings


def artifact_path(fn: FunctionConfig, out_dir: Path) -> Path:
    """Where a zip artifact goes: dist/NAME.zip for a function, dist/NAME-layer.zip for a layer."""
    return out_dir / (f"{fn.name}.zip" if fn.role == "function" else f"{fn.name}-layer.zip")


def _build_function(
    fn: FunctionConfig,
    out_dir: Path,
    runner: Runner,
    notify: EventHandler,
    *,
    used: list[FunctionResult],
    enforce: bool,
    delivery: ImageDelivery,
    cache: Cache | None,
) -> FunctionResult:
    dest = artifact_path(fn, out_dir)
    key = _inputs_key(fn, out_dir, used, enforce) if cache is not None else None
    if cache is not None and key is not None:
        previous = _reused(fn, dest, cache, key)
        if previous is not None:
            notify(Event(function=fn.name, stage="done", detail=str(dest)))
            return previous
    result = _fresh(fn, out_dir, runner, notify, used=used, enforce=enforce, delivery=delivery, cache=cache)
    if cache is not None and key is not None:
        _reuse.store_result(cache, key, result)
    return result


def _inputs_key(fn: FunctionConfig, out_dir: Path, used: list[FunctionResult], enforce: bool) -> str | None:
    if fn.format == "image" or not fn.source.is_dir():
        return None  # an image build may push or load: always run it; a missing source is reported later
    code = sources.collect(
        fn.source, include=fn.include, exclude=fn.exclude, out_dir=out_dir, prebuilt=fn.kind == "prebuilt"
    ).tree
    # A function's findings include its layers', and `lpack check` builds without enforcing limits.
    context = [f"enforce={enforce}", *(u.artifact.sha256 for u in used)]
    return make_key(_keys.inputs_key(fn, out_dir, code), *context)


def _reused(fn: FunctionConfig, dest: Path, cache: Cache, key: str) -> FunctionResult | None:
    """The last result for these exact inputs, if its artifact is still there unchanged."""
    previous = _reuse.load_result(cache, key, FunctionResult)
    if previous is None or not dest.is_file() or previous.artifact.path != dest:
        return None
    if fn.bytecode == "auto" and fn.runtime.language == "python" and previous.bytecode.interpreter is None:
        return None  # an interpreter may have appeared since
    if file_sha256(dest) != previous.artifact.sha256:
        return None  # edited or replaced by something else
    # The earlier notes said how that build resolved ("installed into the cache"): nothing ran this time.
    return dataclasses.replace(previous, notes=(f"reused {dest.name}: no input changed",))


def _fresh(
    fn: FunctionConfig,
    out_dir: Path,
    runner: Runner,
    notify: EventHandler,
    *,
    used: list[FunctionResult],
    enforce: bool,
    delivery: ImageDelivery,
    cache: Cache | None,
) -> FunctionResult:
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lpack-") as tmp:
        work = Path(tmp)
        notify(Event(function=fn.name, stage="resolve", detail=target_label(fn)))
        resolved, deps_dir, entry = _resolve(fn, work, runner, cache)
        tree = _stage(fn, resolved, deps_dir, work, out_dir, entry=entry, warnings=warnings, notify=notify)
        notify(Event(function=fn.name, stage="prune"))
        language = "prebuilt" if fn.kind == "prebuilt" else fn.runtime.language
        provided = _PROVIDED.get(language, ()) if fn.exclude_runtime_provided else ()
        memo = _reuse.ImportMemo(entry) if entry is not None else None
        tree, pruned = prune(
            tree, fn.prune, runtime_provided=provided, direct=resolved.direct, language=language, imports_of=memo
        )
        if memo is not None:
            memo.save()
        tree = _prebuilt.check_bootstrap(fn, tree)
        if fn.role == "function" and fn.kind != "prebuilt":
            warnings += check_handler(fn, tree)
        # Layers too: their .so files load into the function, and /opt/python is no site directory either.
        notify(Event(function=fn.name, stage="audit"))
        tree, audited = _audit(fn, tree)
        warnings += [f.describe() for f in audited.warnings]
        notify(Event(function=fn.name, stage="bytecode"))
        tree, bytecode = _bytecode(fn, tree, work / "pyc", entry, cache)
        if bytecode.reason:
            warnings.append(bytecode.reason)
        if fn.role == "layer":
            tree, layer_warnings = layers.finish(fn, tree)
            warnings += layer_warnings
        notify(Event(function=fn.name, stage="emit"))
        artifact, size = _emit(
            fn,
            tree,
            out_dir,
            used=used,
            enforce=enforce,
            warnings=warnings,
            delivery=delivery,
            cache=cache,
            entry=entry,
        )
        warnings += [f.message for f in size.findings if f.severity == "warning"]
    notify(Event(function=fn.name, stage="done", detail=str(artifact.path)))
    return FunctionResult(
        name=fn.name,
        runtime=fn.runtime.name,
        architecture=fn.architecture,
        handler=fn.handler,
        artifact=artifact,
        size=size,
        pruned=pruned,
        bytecode=bytecode,
        audit=audited,
        installer=resolved.installer,
        notes=(*resolved.notes, *(f.describe() for f in audited.findings if f.severity == "info")),
        warnings=tuple(warnings),
        role=fn.role,
        layers=fn.layers,
        compatible_runtimes=fn.compatible_runtimes,
        compatible_architectures=fn.compatible_architectures,
    )


_PROVIDED = {"python": RUNTIME_PROVIDED_PYTHON, "node": _node.PROVIDED_SCOPES}


def _resolve(fn: FunctionConfig, work: Path, runner: Runner, cache: Cache | None) -> tuple[Resolved, Path, Path | None]:
    """What was resolved, the directory holding it, and its cache entry (None: not cached)."""
    if fn.runtime.language == "python" and fn.kind != "prebuilt" and cache is not None:
        return _reuse.resolve_cached(fn, work, runner, cache)
    return _resolve_here(fn, work, runner), work / "deps", None


def _resolve_here(fn: FunctionConfig, work: Path, runner: Runner) -> Resolved:
    if fn.kind == "prebuilt":
        return Resolved(lock=None, direct=frozenset(), installer="none")
    if fn.runtime.language != "node":
        return resolve(fn, work / "deps", work / "resolve", runner=runner)
    installed = resolve_node(fn, work / "deps", runner=runner)
    manifest = fn.requirements or fn.project_dir / "package.json"
    direct = _node.direct_dependencies(json.loads(manifest.read_text())) if manifest.is_file() else set()
    return Resolved(lock=None, direct=frozenset(direct), installer="npm" if installed else "none")


def _node_keep(rel: str, is_dir: bool) -> bool:
    # Only the installed tree: not the package.json copies npm ran in, nor npm's own state and its
    # .bin links (at any depth: nested node_modules have them too).
    return rel.startswith("node_modules") and not rel.endswith(("/.bin/", "/.package-lock.json"))


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
    keep = _node_keep if fn.runtime.language == "node" else (lambda rel, d: not installer_state(rel, d))
    deps = StagingTree.of([])
    if deps_dir.is_dir():

        def walk() -> StagingTree:
            return scan(deps_dir, "deps", keep=keep)

        deps = _reuse.site_tree(deps_dir.parent, walk) if entry is not None else walk()
    deps = normalize_scripts(deps, work / "scripts")
    if (resolved.built_wheel or fn.role == "layer") and not fn.source_set:
        return deps  # the project's own wheel carries its code; a layer has code only when told
    notify(Event(function=fn.name, stage="sources", detail=str(fn.source)))
    if not fn.source.is_dir():
        raise ConfigError(f"source directory {fn.source} does not exist", hint="fix `source` in the config")
    prebuilt = fn.kind == "prebuilt"
    selection = sources.collect(fn.source, include=fn.include, exclude=fn.exclude, out_dir=out_dir, prebuilt=prebuilt)
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
    if fn.runtime.language == "node":
        return _check_node_handler(fn, tree)
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


def _check_node_handler(fn: FunctionConfig, tree: StagingTree) -> list[str]:
    module, _, func = fn.handler.rpartition(".")
    found = _node.handler_file(fn.handler, tree.paths())
    if found is None:
        raise ConfigError(
            f'handler "{fn.handler}": none of {module}.js, {module}.mjs, {module}.cjs is in the artifact',
            hint="fix `handler`, or `source`/`include` so the file is packed",
        )
    text = next(e for e in tree if e.path == found).source.read_text(encoding="utf-8", errors="replace")
    return [] if _node.exports(text, func) else [f'handler "{fn.handler}": {found} does not visibly export "{func}"']


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


def _audit(fn: FunctionConfig, tree: StagingTree) -> tuple[StagingTree, AuditReport]:
    report = audit(tree, fn.runtime, fn.architecture, waive=fn.audit.waive)
    errors = report.errors
    if errors:
        shown = 20  # the JSON report has all of them
        lines = "\n".join(f"  {f.describe()}" for f in errors[:shown])
        if len(errors) > shown:
            lines += f"\n  ... and {len(errors) - shown} more (--report FILE lists them all)"
        raise AuditError(
            f"{len(errors)} file(s) would fail on {fn.runtime.name}/{fn.architecture}:\n{lines}",
            hint=f'if one is never loaded on Lambda, waive it: audit = {{ waive = ["{errors[0].key}"] }}',
            findings=errors,
        )
    # What the audit found to do nothing on Lambda (*-nspkg.pth) is left out of the artifact.
    return tree.without(report.drop), report


def _bytecode(
    fn: FunctionConfig, tree: StagingTree, work: Path, entry: Path | None, cache: Cache | None
) -> tuple[StagingTree, BytecodeResult]:
    if fn.bytecode == "none" or fn.runtime.language != "python" or fn.kind == "prebuilt":
        return tree, BytecodeResult(compiled=0, failed=0, interpreter=None, reason=None)
    assert fn.runtime.version is not None
    root = layers.run_root(fn)
    python = (_reuse.interpreter(cache, fn.runtime.version, fn.python) if cache else None) or fn.python
    if entry is None:
        return compile_tree(tree, fn.runtime, work, root=root, python=python)
    # Cached dependencies keep their pyc next to them: a rebuild compiles only the project's code.
    cached = StagingTree(entries=tuple(e for e in tree if e.source.is_relative_to(entry / "site")))
    rest = tree.without(cached.paths())
    # A pyc records the path it runs from (co_filename): one directory per interpreter version and root.
    pyc_dir = entry / "pyc-cpython-{}{}-{}".format(*fn.runtime.version, make_key(root)[:12])
    deps, done = compile_tree(cached, fn.runtime, pyc_dir, root=root, python=python, keep_existing=True)
    code, more = compile_tree(rest, fn.runtime, work, root=root, python=python)
    both = dataclasses.replace(more, compiled=done.compiled + more.compiled, failed=done.failed + more.failed)
    return deps.merged(code), both


def _emit(
    fn: FunctionConfig,
    tree: StagingTree,
    out_dir: Path,
    *,
    used: list[FunctionResult],
    enforce: bool,
    warnings: list[str],
    delivery: ImageDelivery,
    cache: Cache | None,
    entry: Path | None,
) -> tuple[Artifact, SizeReport]:
    if fn.format == "image":
        return _emit_image(fn, tree, out_dir, delivery, enforce=enforce)
    dest = artifact_path(fn, out_dir)
    reuse = _reuse.reusable_members(entry, tree, fn.compression) if entry else {}
    with _archive.atomic_output(dest) as tmp:
        emitter = ZipEmitter("zip" if fn.role == "function" else "layer", compression=fn.compression, reuse=reuse)
        artifact = emitter.emit(tree, tmp)
        size = measure(tree, zipped_bytes=artifact.zipped_bytes, budget=fn.budget)
        if used:  # checked before the rename: a function too big with its layers is not written
            size, shared = _with_layers(fn, size, used, enforce=enforce)
            warnings += shared
        if size.over and enforce:
            first = next(f for f in size.findings if f.severity == "error")
            raise SizeLimitError(f"{dest.name}: {first.message}", report=size, hint=_size_hint(fn, size))
        if cache is not None and entry is not None:
            _reuse.remember_members(cache, entry, tree, artifact=tmp, mode=fn.compression, reused=reuse)
    return dataclasses.replace(artifact, path=dest), size


def _emit_image(
    fn: FunctionConfig, tree: StagingTree, out_dir: Path, delivery: ImageDelivery, *, enforce: bool
) -> tuple[Artifact, SizeReport]:
    # Image machinery is imported when an image is built: zip builds and no-change rebuilds start faster.
    from lpack.emit.image import ImageOptions  # noqa: PLC0415
    from lpack.oci import layout as oci_layout  # noqa: PLC0415
    from lpack.oci.deliver import deliver  # noqa: PLC0415
    from lpack.oci.reference import parse_reference  # noqa: PLC0415

    layouts = [o.removeprefix("oci:") for o in delivery.outputs if o.startswith("oci:")]
    dest = Path(layouts[0]).resolve() if layouts else out_dir / f"{fn.name}.oci"
    ref = parse_reference(delivery.push) if delivery.push else None
    options = ImageOptions(
        base=fn.base or fn.runtime.base_image or "",
        architecture=fn.architecture,
        handler=fn.handler,
        tag=(ref.tag if ref else None) or "latest",
        insecure=delivery.insecure,
    )
    oci_layout.check_replaceable(dest)
    with _archive.atomic_directory(dest) as tmp:
        artifact = get_emitter("image", options=options).emit(tree, tmp)
        size = _measure_image(fn, tree, artifact, dest, enforce=enforce)
    archives = tuple(
        Path(o.removeprefix("docker-archive:")).resolve() for o in delivery.outputs if o.startswith("docker-")
    )
    assert artifact.image is not None
    image, _ = deliver(
        dest,
        dataclasses.replace(artifact.image, outputs=(f"oci:{dest}",)),
        archives=archives,
        push_to=delivery.push,
        load=delivery.load,
        repo_tag=str(ref) if ref else f"{fn.name.lower()}:latest",
        insecure=delivery.insecure,
    )
    return dataclasses.replace(artifact, path=dest, image=image), size


def _measure_image(
    fn: FunctionConfig, tree: StagingTree, artifact: Artifact, dest: Path, *, enforce: bool
) -> SizeReport:
    assert artifact.image is not None
    own = sum(layer.size for layer in artifact.image.layers if layer.origin != "base")
    size = measure_image(
        tree,
        image_bytes=artifact.image.uncompressed_bytes,
        compressed_bytes=artifact.zipped_bytes,
        own_compressed=own,
        manifest_bytes=artifact.image.manifest_bytes,
        budget=fn.budget,
    )
    if size.over and enforce:
        first = next(f for f in size.findings if f.severity == "error")
        raise SizeLimitError(f"{dest.name}: {first.message}", report=size, hint=_size_hint(fn, size))
    return size


def _size_hint(fn: FunctionConfig, size: SizeReport) -> str:
    top = ", ".join(f"{c.name} {c.bytes / 1e6:.1f} MB" for c in size.largest[:3])
    extra = "" if fn.exclude_runtime_provided else "; set exclude-runtime-provided = true to drop boto3/botocore"
    return f"largest: {top}{extra}"
