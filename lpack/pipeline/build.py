"""build(): every layer, then every function, each through pipeline.run, in threads; a cached result stands in
for a run when none of its inputs changed."""

from __future__ import annotations

import dataclasses
import logging
import os
import sysconfig
from collections.abc import Callable, Sequence

from lpack import lifecycle, sources
from lpack.cache import Cache, CorruptEntry, make_key
from lpack.config.model import BuildConfig, FunctionConfig
from lpack.emit.artifact import artifact_path
from lpack.errors import LpackError
from lpack.pipeline import reuse as _reuse
from lpack.pipeline.results import BuildResult, Event, EventHandler, FunctionResult
from lpack.pipeline.run import BeforeReplace, Settings, run
from lpack.resolve import keys as _keys
from lpack.resolve.node_cache import project_digest
from lpack.resolve.runner import Runner, run_subprocess

__all__ = ["BuildResult", "Event", "EventHandler", "FunctionResult", "artifact_path", "build"]
log = logging.getLogger("lpack")


def build(
    config: BuildConfig,
    *,
    runner: Runner = run_subprocess,
    on_event: EventHandler | None = None,
    enforce_limits: bool = True,
    cache: Cache | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
    before_replace: BeforeReplace | None = None,
) -> BuildResult:
    """Build every function in `config` into `config.out_dir`; raises LpackError on the first failure.

    With `enforce_limits=False` (what `lpack check` uses), an artifact over a limit or budget is still
    written and its findings returned instead of raised. `cache` defaults to the user's cache directory
    (LPACK_CACHE_DIR), with the remote cache `config.cache_remote` names attached; `use_cache=False` uses neither.
    `jobs` artifacts are built at once (default: one per core), and artifacts with the
    same dependencies share one install through the cache. `before_replace(fn, tmp, layer_results)` checks
    each function zip written afresh before it replaces the previous one (what `build --verify` runs).
    """
    settings = Settings(
        out_dir=config.out_dir,
        runner=runner,
        notify=on_event or (lambda _e: None),
        enforce=enforce_limits,
        delivery=config.image,
        cache=_with_remote(cache or Cache.default(), config) if use_cache else None,
        before_replace=before_replace,
    )
    many = len(config.functions) + len(config.layers) > 1
    built_layers: dict[str, FunctionResult] = {}

    def one(fn: FunctionConfig) -> FunctionResult:
        try:
            return _build_one(fn, settings, [built_layers[name] for name in fn.layers])
        except LpackError as err:
            if many:
                raise err.prefixed(fn.name) from err
            raise

    # Layers first: a function's check needs its layers' sizes and packages.
    layer_results = _each(one, config.layers, jobs)
    built_layers.update((r.name, r) for r in layer_results)
    functions = (*layer_results, *_each(one, config.functions, jobs))
    remote = settings.cache.remote if settings.cache is not None else None
    return BuildResult(functions=functions, notes=tuple(remote.notes()) if remote is not None else ())


def _with_remote(cache: Cache, config: BuildConfig) -> Cache:
    """`cache` with the remote cache the config names (LPACK_CACHE_REMOTE, [tool.lpack.cache] remote)."""
    if config.cache_remote is None or cache.remote is not None:
        return cache
    from lpack.remote import open_remote  # noqa: PLC0415 - only a build that shares its cache loads the S3 client

    return dataclasses.replace(cache, remote=open_remote(config.cache_remote))


def _each(
    build_one: Callable[[FunctionConfig], FunctionResult], fns: tuple[FunctionConfig, ...], jobs: int | None
) -> tuple[FunctionResult, ...]:
    """`build_one` over `fns` in threads, results in config order."""
    workers = max(1, min(jobs or os.cpu_count() or 1, len(fns)))
    if workers == 1:
        return tuple(build_one(fn) for fn in fns)
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - one artifact (a no-change rebuild) needs no pool

    # sysconfig fills its variables lazily and not thread-safely: two threads asking at once (uv's
    # find_uv_bin does) can get None. Fill them before the threads start.
    sysconfig.get_config_vars()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lpack-build") as pool:
        return tuple(pool.map(build_one, fns))


def _build_one(fn: FunctionConfig, settings: Settings, used: Sequence[FunctionResult]) -> FunctionResult:
    """The last result for the same inputs if its artifact is intact, else a fresh run (then remembered)."""
    cache = settings.cache
    # An image build may push or load: always run it. A missing source is reported by the run.
    if cache is None or fn.format == "image" or not fn.source.is_dir():
        return _run_checked(fn, settings, used=used)
    # The project's files are walked once: for the key here, and by the run if it needs them.
    selection = sources.select(fn, settings.out_dir)
    # A function's findings include its layers', and `lpack check` builds without enforcing limits.
    # The runtime's lifecycle warning depends on the day: a result from before a deprecation date is not reused.
    lifecycle_note = lifecycle.lifecycle_warning(fn.runtime, lifecycle.today()) or ""
    context = [f"enforce={settings.enforce}", lifecycle_note, *(u.artifact.sha256 for u in used)]
    if fn.bundle is not None:  # a bundle reads any project file its imports reach, inside `source` or not
        context.append(project_digest(fn, settings.out_dir))
    key = make_key(_keys.inputs_key(fn, settings.out_dir, selection.tree), *context)
    dest = artifact_path(fn, settings.out_dir)
    previous = _reuse.reused_result(fn, dest, cache, key)
    if previous is not None:
        settings.notify(Event(function=fn.name, stage="done", detail=str(dest)))
        left_out = sources.outputs_note(selection)
        return dataclasses.replace(previous, notes=(*previous.notes, left_out)) if left_out else previous
    result = _run_checked(fn, settings, used=used, selection=selection)
    _reuse.store_result(cache, key, result)
    return result


def _run_checked(
    fn: FunctionConfig,
    settings: Settings,
    *,
    used: Sequence[FunctionResult],
    selection: sources.SourceSelection | None = None,
) -> FunctionResult:
    """run(), and once more after discarding a cache entry it found damaged: a damaged entry never reaches an
    artifact. A second damaged entry fails the build, naming it and `lpack cache clean`."""
    cache = settings.cache
    try:
        return run(fn, settings, used=used, selection=selection)
    except CorruptEntry as err:
        if cache is None:
            raise
        cache.discard_entry(err.entry)
        warning = f"{err.msg}: discarded and built again"
    except FileNotFoundError as err:
        # Another function of this build found an entry both use damaged and discarded it under our feet.
        if cache is None or not str(err.filename or "").startswith(f"{cache.root.resolve()}/"):
            raise
        warning = f"cache entry of {err.filename} was discarded while in use: built again"
    log.warning("%s", warning)
    if cache is not None and cache.remote is not None:  # the run again with the local cache only: an entry
        settings = dataclasses.replace(settings, cache=dataclasses.replace(cache, remote=None))  # fetched again
    result = run(fn, settings, used=used, selection=selection)
    return dataclasses.replace(result, warnings=(warning, *result.warnings))
