"""One function's (or layer's) run: resolve -> sources -> prune -> checks -> audit -> bytecode -> emit.

Each stage takes plain data and returns a result; what differs by language comes from its Language, and
the cache stands in for a stage's work only here (installed dependencies, their listing, pyc and
compressed members, the modules they import).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from lpack import layers, lifecycle, sources
from lpack.archive.zipformat import RawMember
from lpack.audit.checks import AuditReport
from lpack.audit.stage import audit_artifact
from lpack.bytecode import BytecodeResult, check_own_code, compile_tree, sourceless
from lpack.cache import Cache
from lpack.config.model import FunctionConfig, ImageDelivery
from lpack.emit.artifact import Emitted, emit_artifact
from lpack.pipeline import reuse as _reuse
from lpack.pipeline import store as _store
from lpack.pipeline.dists import share
from lpack.pipeline.entries import Entries, check_entry_files, site_tree
from lpack.pipeline.languages import Language, language_for
from lpack.pipeline.results import Event, EventHandler, FunctionResult
from lpack.prune.rules import PruneReport, prune
from lpack.resolve.result import Deps
from lpack.resolve.runner import Runner, target_label
from lpack.staging.scripts import normalize_scripts
from lpack.staging.tree import StagingTree, scan

# Checks a function's new zip (at a temporary path) before it replaces the previous one; raises to keep it.
BeforeReplace = Callable[[FunctionConfig, Path, Sequence[FunctionResult]], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What every run of one build shares."""

    out_dir: Path
    runner: Runner
    notify: EventHandler
    enforce: bool
    delivery: ImageDelivery
    cache: Cache | None
    before_replace: BeforeReplace | None = None


def run(
    fn: FunctionConfig,
    settings: Settings,
    *,
    used: Sequence[FunctionResult] = (),
    selection: sources.SourceSelection | None = None,
) -> FunctionResult:
    """Build `fn` afresh; `used` are its layers' results, `selection` its files if already collected."""
    lang, notify = language_for(fn), settings.notify
    warnings: list[str] = list(fn.dependency_warnings)
    deprecation = lifecycle.lifecycle_warning(fn.runtime, lifecycle.today())
    warnings += [deprecation] if deprecation else []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lpack-") as tmp:
        work = Path(tmp)
        notify(Event(function=fn.name, stage="resolve", detail=target_label(fn)))
        deps = lang.resolve(fn, work, settings.runner, settings.cache)
        warnings += deps.resolved.warnings
        tree = _stage(fn, lang, deps, work, settings, selection=selection, warnings=warnings, notes=notes)
        notify(Event(function=fn.name, stage="prune"))
        entries = Entries(deps.entries)
        tree, pruned = _prune(fn, lang, tree, deps, entries)
        tree, found = lang.check(fn, tree)
        warnings += found
        # Layers too: their .so files load into the function, and /opt/python is no site directory either.
        notify(Event(function=fn.name, stage="audit"))
        tree, audited = _audit(fn, tree, entries)
        warnings += [f.describe() for f in audited.warnings]
        notify(Event(function=fn.name, stage="bytecode"))
        tree, bytecode, grown = _bytecode(fn, lang, tree, work / "pyc", entries=entries, cache=settings.cache)
        if bytecode.reason:
            warnings.append(bytecode.reason)
        if lang.bytecode:  # a module of the function's own that does not compile fails the build
            warnings += check_own_code(tree, fn.runtime, bytecode)
        if fn.role == "layer":
            tree, layer_warnings = layers.finish(fn, tree)
            warnings += layer_warnings
        notify(Event(function=fn.name, stage="emit"))
        emitted, stored = _emit(fn, tree, settings, used, entries, made=deps.made)
        if settings.cache is not None:
            share(fn, settings.cache, deps.entries, grown | stored | deps.made)
        warnings += [*emitted.warnings, *(f.message for f in emitted.size.findings if f.severity == "warning")]
    notify(Event(function=fn.name, stage="done", detail=str(emitted.artifact.path)))
    return _result(fn, deps, emitted, pruned=pruned, bytecode=bytecode, audited=audited, warnings=warnings, notes=notes)


def _stage(
    fn: FunctionConfig,
    lang: Language,
    deps: Deps,
    work: Path,
    settings: Settings,
    *,
    selection: sources.SourceSelection | None,
    warnings: list[str],
    notes: list[str],
) -> StagingTree:
    tree = normalize_scripts(_deps_tree(lang, deps), work / "scripts")
    if (deps.resolved.built_wheel or fn.role == "layer") and not fn.source_set:
        return tree  # the project's own wheel carries its code; a layer has code only when told
    if deps.resolved.bundle is not None:  # a Node.js bundle carries the code: scan what it inlined
        bundled = StagingTree(entries=tuple(e for e in tree if e.path == deps.resolved.bundle.output))
        warnings += sources.check_secrets(fn, sources.scan_tree(bundled))
        return tree
    settings.notify(Event(function=fn.name, stage="sources", detail=str(fn.source)))
    selection = selection or sources.select(fn, settings.out_dir)
    tree, found = sources.add_sources(fn, tree, selection)
    warnings += found
    left_out = sources.outputs_note(selection)
    if left_out:
        notes.append(left_out)
    return tree


def _deps_tree(lang: Language, deps: Deps) -> StagingTree:
    def walk(site: Path) -> Callable[[], StagingTree]:
        return lambda: scan(site, "deps", keep=lang.keep)

    if deps.entries:  # disjoint by construction (a file two distributions share has one content: dists.py)
        return StagingTree.of(e for entry in deps.entries for e in site_tree(entry, walk(entry / "site")))
    return walk(deps.directory)() if deps.directory.is_dir() else StagingTree.of([])


def _prune(
    fn: FunctionConfig, lang: Language, tree: StagingTree, deps: Deps, entries: Entries
) -> tuple[StagingTree, PruneReport]:
    provided = lang.provided if fn.exclude_runtime_provided else ()
    memo = _reuse.import_memo(entries) if entries else None
    direct = deps.resolved.direct
    profile = lang.prune_profile
    imports_of = (lambda e: frozenset(memo(e))) if memo is not None else None
    tree, pruned = prune(
        tree, fn.prune, profile=profile, runtime_provided=provided, direct=direct, imports_of=imports_of
    )
    if memo is not None:
        memo.save()
    return tree, pruned


def _audit(fn: FunctionConfig, tree: StagingTree, entries: Entries) -> tuple[StagingTree, AuditReport]:
    if not entries:
        return audit_artifact(fn, tree)
    memo = _reuse.elf_memo(entries)  # the ELF facts of cached files, remembered beside them
    tree, audited = audit_artifact(fn, tree, elf_of=lambda e: _reuse.elf_info(memo(e)))
    memo.save()
    return tree, audited


def _bytecode(
    fn: FunctionConfig, lang: Language, tree: StagingTree, work: Path, *, entries: Entries, cache: Cache | None
) -> tuple[StagingTree, BytecodeResult, set[Path]]:
    """The tree with its pyc, and the cache entries that got new ones."""
    grown: set[Path] = set()
    if fn.bytecode == "none" or not lang.bytecode:
        return tree, BytecodeResult(compiled=0, failed=0, interpreter=None, reason=None), grown
    assert fn.runtime.version is not None
    root = layers.run_root(fn)
    # Without a cache (--no-cache) too: a downloaded interpreter is a tool kept in the cache's directory.
    found = _reuse.interpreter(cache or Cache.default(), fn.runtime.version, fn.python)
    python = found.path or fn.python
    known = str(found.path) if found.path else None  # found (or remembered) as the target's version
    if not entries or cache is None:
        tree, done = compile_tree(tree, fn.runtime, work, root=root, python=python, interpreter=known)
    else:
        tree, done, grown = _reuse.compile_cached(
            cache, tree, fn.runtime, work, entries, root=root, python=python, interpreter=known
        )
    if done.interpreter is None:
        return tree, dataclasses.replace(done, reason=found.reason or done.reason), grown
    if fn.bytecode == "only":
        tree = sourceless(tree, fn.runtime)
    return tree, dataclasses.replace(done, note=found.note), grown


def _emit(
    fn: FunctionConfig,
    tree: StagingTree,
    settings: Settings,
    used: Sequence[FunctionResult],
    entries: Entries,
    *,
    made: frozenset[Path],
) -> tuple[Emitted, set[Path]]:
    """The artifact, and the cache entries whose compressed members grew. Files of the entries this run made
    (`made`: installed and hashed minutes ago, by this process) are not hashed again before they are packed."""
    # Zip members the dependency cache already holds compressed are copied, not compressed again.
    cache = settings.cache if entries and fn.format != "image" else None
    members: AbstractContextManager[dict[Path, RawMember]] = (
        _store.reusable_members(cache, entries, tree, fn.compression) if cache else nullcontext({})
    )
    with members as reuse:
        if entries:  # every other file the artifact reads from an entry is checked against its manifest
            check_entry_files(entries, tree, reuse, made=made)
        stack = [layers.part(u.name, u.size, u.compatible_runtimes) for u in used]
        hook = settings.before_replace
        emitted = emit_artifact(
            fn,
            tree,
            settings.out_dir,
            delivery=settings.delivery,
            stack=stack,
            enforce=settings.enforce,
            reuse=reuse,
            check=(lambda tmp: hook(fn, tmp, used)) if hook else None,
        )
    if not cache:
        return emitted, set()
    artifact = emitted.artifact.path
    return emitted, _store.remember_members(cache, entries, tree, artifact=artifact, mode=fn.compression, reused=reuse)


def _result(
    fn: FunctionConfig,
    deps: Deps,
    emitted: Emitted,
    *,
    pruned: PruneReport,
    bytecode: BytecodeResult,
    audited: AuditReport,
    warnings: list[str],
    notes: list[str],
) -> FunctionResult:
    return FunctionResult(
        name=fn.name,
        runtime=fn.runtime.name,
        architecture=fn.architecture,
        handler=fn.handler,
        artifact=emitted.artifact,
        size=emitted.size,
        pruned=pruned,
        bytecode=bytecode,
        audit=audited,
        installer=deps.resolved.installer,
        notes=(
            *deps.resolved.notes,
            *notes,
            *(f.describe() for f in audited.findings if f.severity == "info"),
            *([bytecode.note] if bytecode.note else []),
        ),
        warnings=tuple(warnings),
        role=fn.role,
        layers=fn.layers,
        compatible_runtimes=fn.compatible_runtimes,
        compatible_architectures=fn.compatible_architectures,
        bundle=deps.resolved.bundle,
    )
