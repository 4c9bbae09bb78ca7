"""The keys of a function's or a layer's table, each parsed into FunctionConfig's arguments (typed, not a dict of
objects): `options` go to FunctionConfig as they are; `extra` become paths relative to the project, the index
options, the Lambda@Edge budget, or are checked first (runtime, handler)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypedDict

from lpack import runtimes
from lpack.archive.deflate import COMPRESSIONS, Compression
from lpack.config.fields import (
    Where,
    check_keys,
    choice,
    expect,
    flag,
    parse_arch,
    parse_audit,
    parse_base,
    parse_budget,
    parse_bundle,
    parse_compatible_arches,
    parse_compatible_runtimes,
    parse_prune,
    parse_publish,
    parse_runtime,
    str_list,
    table_of,
)
from lpack.config.model import (
    BYTECODES,
    EDGE_EVENTS,
    FORMATS,
    INSTALLERS,
    KINDS,
    LAYER_LAYOUTS,
    AuditConfig,
    Budget,
    BundleConfig,
    Bytecode,
    EdgeEvent,
    Format,
    Installer,
    Kind,
    LayerLayout,
    PruneConfig,
    PublishConfig,
)
from lpack.runtimes import Arch


# FunctionConfig's arguments a table gives as they are (relative `bin` and `lib` resolved later).
class Options(TypedDict, total=False):
    architecture: Arch
    lock_extras: tuple[str, ...]
    lock_groups: tuple[str, ...]
    locked: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    exclude_runtime_provided: bool
    prune: PruneConfig
    budget: Budget
    audit: AuditConfig
    installer: Installer
    bytecode: Bytecode
    compression: Compression
    layers: tuple[str, ...]
    node_scripts: bool
    build_from_source: tuple[str, ...]
    kind: Kind
    allow_duplicate_versions: bool
    layout: LayerLayout
    compatible_runtimes: tuple[str, ...]
    compatible_architectures: tuple[Arch, ...]
    bin_dir: Path
    lib_dir: Path
    publish: PublishConfig
    environment: tuple[tuple[str, str], ...]
    format: Format
    base: str
    bundle: BundleConfig | None
    external: tuple[str, ...]
    extensions_dir: Path


# What the loader checks or turns into other arguments once a function's tables are merged.
class Extra(TypedDict, total=False):
    runtime: runtimes.Runtime
    handler: str
    source: str
    shared: tuple[tuple[str, str], ...]  # include's { from, to } tables, resolved against the project later
    requirements: str
    python: str
    index_url: str
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    no_index: bool
    edge: EdgeEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class Values:
    # One table's values, or several merged: a function's own over the top-level defaults.
    options: Options = field(default_factory=Options)
    extra: Extra = field(default_factory=Extra)

    def __or__(self, other: Values) -> Values:  # `other`'s values on top, key by key
        return Values(options={**self.options, **other.options}, extra={**self.extra, **other.extra})


def _include(value: object, where: Where, key: str) -> Values:
    # Patterns select the source's own files; { from, to } tables bring files from outside it (shared code).
    what = 'a list of patterns or { from = "../shared", to = "shared" } tables'
    patterns: list[str] = []
    tables: list[tuple[str, str]] = []
    for item in expect(value, list, where, key, what):
        if isinstance(item, str):
            patterns.append(item)
        else:
            tables.append(_shared_entry(item, where, key))
    return Values(options={"include": tuple(patterns)}, extra={"shared": tuple(tables)})


def _shared_entry(item: object, where: Where, key: str) -> tuple[str, str]:
    table = expect(item, dict, where, key, 'a pattern or a { from = "../shared", to = "shared" } table')
    check_keys(table, ["from", "to"], where.sub(key))
    if "from" not in table:
        raise where.error(key, "an include table needs `from`", hint='e.g. { from = "../shared", to = "shared" }')
    source = expect(table["from"], str, where.sub(key), "from", "a path relative to the project")
    target = expect(table.get("to", ""), str, where.sub(key), "to", "a path inside the artifact")
    parts = PurePosixPath(target).parts
    if target.startswith("/") or "\\" in target or ".." in parts:
        raise where.sub(key).error("to", f'"{target}" must be a relative path inside the artifact, without ".."')
    return source, "/".join(p for p in parts if p != ".")


def _environment(value: object, where: Where, key: str) -> tuple[tuple[str, str], ...]:
    table = table_of(value, where, key, 'a table like { TABLE = "orders" }')
    return tuple(sorted((k, expect(v, str, where.sub(key), k, "a string")) for k, v in table.items()))


def _text(what: str) -> Callable[[object, Where, str], str]:
    return lambda v, w, k: expect(v, str, w, k, what)


# Config key -> its parser. Parsers see raw TOML values and raise ConfigError; the order is the one
# "valid: ..." lists when an unknown key resembles none of these.
_KEYS: dict[str, Callable[[object, Where, str], Values]] = {
    "runtime": lambda v, w, k: Values(extra={"runtime": parse_runtime(v, w, k)}),
    "architecture": lambda v, w, k: Values(options={"architecture": parse_arch(v, w, k)}),
    "handler": lambda v, w, k: Values(extra={"handler": _text('a handler like "app.handler"')(v, w, k)}),
    "source": lambda v, w, k: Values(extra={"source": _text("a directory path")(v, w, k)}),
    "requirements": lambda v, w, k: Values(extra={"requirements": _text("a file path")(v, w, k)}),
    "build-from-source": lambda v, w, k: Values(options={"build_from_source": str_list(v, w, k)}),
    "extras": lambda v, w, k: Values(options={"lock_extras": str_list(v, w, k)}),
    "groups": lambda v, w, k: Values(options={"lock_groups": str_list(v, w, k)}),
    "include": _include,
    "exclude": lambda v, w, k: Values(options={"exclude": str_list(v, w, k)}),
    "exclude-runtime-provided": lambda v, w, k: Values(options={"exclude_runtime_provided": flag(v, w, k)}),
    "prune": lambda v, w, k: Values(options={"prune": parse_prune(v, w, k)}),
    "budget": lambda v, w, k: Values(options={"budget": parse_budget(v, w, k)}),
    "audit": lambda v, w, k: Values(options={"audit": parse_audit(v, w, k)}),
    "installer": lambda v, w, k: Values(options={"installer": choice(v, INSTALLERS, w, k)}),
    "edge": lambda v, w, k: Values(extra={"edge": choice(v, EDGE_EVENTS, w, k)}),
    "bytecode": lambda v, w, k: Values(options={"bytecode": choice(v, BYTECODES, w, k)}),
    "compression": lambda v, w, k: Values(options={"compression": choice(v, COMPRESSIONS, w, k)}),
    "python": lambda v, w, k: Values(extra={"python": _text("an interpreter path")(v, w, k)}),
    "index-url": lambda v, w, k: Values(extra={"index_url": _text("a URL")(v, w, k)}),
    "extra-index-urls": lambda v, w, k: Values(extra={"extra_index_urls": str_list(v, w, k)}),
    "find-links": lambda v, w, k: Values(extra={"find_links": str_list(v, w, k)}),
    "no-index": lambda v, w, k: Values(extra={"no_index": flag(v, w, k)}),
    "layers": lambda v, w, k: Values(options={"layers": str_list(v, w, k)}),
    "node-scripts": lambda v, w, k: Values(options={"node_scripts": flag(v, w, k)}),
    "kind": lambda v, w, k: Values(options={"kind": choice(v, KINDS, w, k)}),
    "allow-duplicate-versions": lambda v, w, k: Values(options={"allow_duplicate_versions": flag(v, w, k)}),
    "layout": lambda v, w, k: Values(options={"layout": choice(v, LAYER_LAYOUTS, w, k)}),
    "compatible-runtimes": lambda v, w, k: Values(options={"compatible_runtimes": parse_compatible_runtimes(v, w, k)}),
    "compatible-architectures": lambda v, w, k: Values(
        options={"compatible_architectures": parse_compatible_arches(v, w, k)}
    ),
    "bin": lambda v, w, k: Values(options={"bin_dir": Path(_text("a directory path")(v, w, k))}),
    "lib": lambda v, w, k: Values(options={"lib_dir": Path(_text("a directory path")(v, w, k))}),
    "publish": lambda v, w, k: Values(options={"publish": parse_publish(v, w, k)}),
    "environment": lambda v, w, k: Values(options={"environment": _environment(v, w, k)}),
    "format": lambda v, w, k: Values(options={"format": choice(v, FORMATS, w, k)}),
    "base": lambda v, w, k: Values(options={"base": parse_base(v, w, k)}),
    "bundle": lambda v, w, k: Values(options={"bundle": parse_bundle(v, w, k)}),
    "external": lambda v, w, k: Values(options={"external": str_list(v, w, k)}),
    "extensions": lambda v, w, k: Values(options={"extensions_dir": Path(_text("a directory path")(v, w, k))}),
}
TOP_ONLY = ["functions", "out", "cache"]
FUNCTION_ONLY = frozenset(
    {"handler", "layers", "allow-duplicate-versions", "edge", "format", "base", "environment", "bundle", "external"}
)
LAYER_ONLY = frozenset(
    {"layout", "compatible-runtimes", "compatible-architectures", "bin", "lib", "publish", "extensions"}
)
# What a layer takes from the top-level defaults: the target and how to install, not a function's code.
LAYERS_INHERIT = frozenset(
    {
        "runtime",
        "architecture",
        "installer",
        "bytecode",
        "python",
        "index-url",
        "extra-index-urls",
        "find-links",
        "no-index",
        "prune",
        "exclude-runtime-provided",
        "build-from-source",
    }
)


def parse_table(
    table: Mapping[str, object], where: Where, extra: list[str], *, refuse: frozenset[str] = frozenset()
) -> Values:
    # A table's known keys parsed; `extra` are other keys allowed here, `refuse` those of the other kind.
    for key in table:
        if key in refuse:
            what = "a layer" if key in FUNCTION_ONLY else "a function"
            raise where.error(key, f"not a key for {what} here", hint="see the configuration keys in the README")
    check_keys(table, [*_KEYS, *extra], where)
    values = Values()
    for key, raw in table.items():
        if key in _KEYS:
            values |= _KEYS[key](raw, where, key)
    return values
