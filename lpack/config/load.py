"""Reads `[tool.lpack]` from pyproject.toml or lpack.toml into frozen, validated dataclasses."""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from lpack import runtimes
from lpack.archive.deflate import COMPRESSIONS, Compression
from lpack.audit.checks import CODES as AUDIT_CODES
from lpack.errors import ConfigError
from lpack.runtimes import Arch
from lpack.units import parse_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

PruneProfile = Literal["safe", "none"]
Installer = Literal["uv", "pip"]
Bytecode = Literal["auto", "none"]
ArtifactRole = Literal["function", "layer"]
LayerLayout = Literal["default", "site-packages", "versioned"]
Format = Literal["zip", "image"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NODE_HANDLER_RE = re.compile(r"^[\w./-]+\.[A-Za-z_$][\w$]*$")  # "src/index.handler": file path, then export
_HANDLER_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*\.[A-Za-z_]\w*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneConfig:
    profile: PruneProfile = "safe"
    remove: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()


EdgeEvent = Literal["viewer", "origin"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    max_zipped: int | None = None
    max_unzipped: int | None = None
    edge: EdgeEvent | None = None  # a Lambda@Edge function: CloudFront's smaller package quotas apply


SseMode = Literal["AES256", "aws:kms"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishConfig:
    """A layer's `publish` table: where `lpack publish` puts it; the command line's options win."""

    bucket: str | None = None
    prefix: str = ""
    sse: SseMode | None = None
    kms_key_id: str | None = None
    license: str | None = None
    description: str | None = None
    public: bool = False
    grants: tuple[str, ...] = ()  # account ids allowed to use the published version


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditConfig:
    # Findings the user accepts: a whole code ("pth") or one file ("elf-glibc:pkg/_x.so").
    waive: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexOptions:
    """Where packages come from; empty means the installer's own defaults and environment."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionConfig:
    name: str
    project_dir: Path
    runtime: runtimes.Runtime
    handler: str
    architecture: Arch = "x86_64"  # Lambda's default
    source: Path
    source_set: bool = False  # whether `source`/`include` were given (a built wheel then adds sources)
    requirements: Path | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_runtime_provided: bool = False
    prune: PruneConfig = field(default_factory=PruneConfig)
    budget: Budget = field(default_factory=Budget)
    audit: AuditConfig = field(default_factory=AuditConfig)
    installer: Installer = "uv"
    bytecode: Bytecode = "auto"
    compression: Compression = "default"  # zip deflate: fast (ISA-L 2), default (zlib-ng 6), small (zlib-ng 9)
    python: Path | None = None
    index: IndexOptions = field(default_factory=IndexOptions)
    role: ArtifactRole = "function"
    # A function's layers, by name, in the order Lambda stacks them; and whether the same distribution may
    # appear in the function and a layer at different versions (the layer's is shadowed: usually a bug).
    layers: tuple[str, ...] = ()
    allow_duplicate_versions: bool = False
    node_scripts: bool = False  # run npm install scripts (only when the target is this machine)
    # "prebuilt": `source` is a directory another toolchain built (Go/Rust bootstrap, Java, .NET, Ruby):
    # zipped as it is, with the user's patterns, the sizer and the report; no installer runs.
    kind: Literal["auto", "prebuilt"] = "auto"
    # A layer's shape: where packages go (packaging-layers.html), what it is recorded as compatible with,
    # and directories whose contents go to the zip's bin/ (on PATH) and lib/ (on LD_LIBRARY_PATH).
    layout: LayerLayout = "default"  # python/ or nodejs/node_modules/
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[Arch, ...] = ()
    bin_dir: Path | None = None
    lib_dir: Path | None = None
    publish: PublishConfig = field(default_factory=PublishConfig)
    format: Format = "zip"
    base: str | None = None  # image base: registry reference, oci:DIR[:tag] or docker-archive:FILE


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageDelivery:
    """Where image builds go besides the OCI layout in the output directory (command-line only)."""

    outputs: tuple[str, ...] = ()  # "oci:DIR" (instead of dist/NAME.oci) and "docker-archive:FILE"
    push: str | None = None  # REGISTRY/REPOSITORY:TAG
    load: bool = False  # into the local Docker daemon
    insecure: tuple[str, ...] = ()  # registry hosts spoken to over plain HTTP (loopback always is)

    @property
    def requested(self) -> bool:
        return bool(self.outputs or self.push or self.load)


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildConfig:
    """Everything `lpack.build()` needs: the functions to build and where to put them."""

    project_dir: Path
    config_file: Path | None
    out_dir: Path
    functions: tuple[FunctionConfig, ...]
    layers: tuple[FunctionConfig, ...] = ()  # role "layer"; built before the functions that use them

    def layers_of(self, fn: FunctionConfig) -> tuple[FunctionConfig, ...]:
        by_name = {layer.name: layer for layer in self.layers}
        return tuple(by_name[name] for name in fn.layers)

    image: ImageDelivery = field(default_factory=ImageDelivery)


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """Values from the command line; they win over the config file."""

    runtime: str | None = None
    architecture: str | None = None
    out_dir: Path | None = None
    functions: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    installer: str | None = None
    python: Path | None = None
    index_url: str | None = None
    find_links: tuple[str, ...] = ()  # added to the config's, relative to the current directory
    no_index: bool = False
    format: str | None = None
    outputs: tuple[str, ...] = ()
    push: str | None = None
    load: bool = False
    insecure_registries: tuple[str, ...] = ()


class _Where:
    """Names a place in the config for error messages: `lpack.toml: [functions.api] runtime`."""

    def __init__(self, file: Path, table: str) -> None:
        self.file = file
        self.table = table

    def error(self, key: str, problem: str, hint: str | None = None) -> ConfigError:
        where = f"[{self.table}] {key}" if self.table else key
        return ConfigError(f"{self.file.name}: {where}: {problem}", hint=hint)


def _closest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return found[0] if found else None


def _did_you_mean(word: str, choices: list[str]) -> str:
    best = _closest(word, choices)
    return f'did you mean "{best}"?' if best else "valid: " + ", ".join(choices)


def _expect(value: object, kind: type | tuple[type, ...], where: _Where, key: str, what: str) -> Any:
    # bool is an int in Python; a size or path given as `true` is a typo, not a value.
    if isinstance(value, bool) and kind is not bool:
        raise where.error(key, f"expected {what}, got a boolean")
    if not isinstance(value, kind):
        raise where.error(key, f"expected {what}, got {type(value).__name__} {value!r}")
    return value


def _str_list(value: object, where: _Where, key: str) -> tuple[str, ...]:
    items = _expect(value, list, where, key, "a list of strings")
    for item in items:
        _expect(item, str, where, key, "a list of strings")
    return tuple(items)


def _choice(value: object, choices: tuple[str, ...], where: _Where, key: str) -> str:
    text = _expect(value, str, where, key, "a string")
    if text not in choices:
        raise where.error(key, f'"{text}" is not one of {", ".join(choices)}; {_did_you_mean(text, list(choices))}')
    return cast(str, text)


def _parse_runtime(value: object, where: _Where, key: str) -> runtimes.Runtime:
    """Any known runtime; whether lpack can build for it is checked with the function's `kind`."""
    name = _expect(value, str, where, key, 'a runtime name like "python3.12"')
    try:
        runtime = runtimes.get_runtime(name)
    except KeyError:
        names = [r.name for r in runtimes.python_runtimes()]
        raise where.error(
            key,
            f'unknown runtime "{name}"; {_did_you_mean(name, list(runtimes.RUNTIMES))}',
            hint="supported Python runtimes: " + ", ".join(names),
        ) from None
    return runtime


def _parse_arch(value: object, where: _Where, key: str) -> Arch:
    text = _expect(value, str, where, key, '"x86_64" or "arm64"')
    aliases = {"amd64": "x86_64", "aarch64": "arm64", "x86-64": "x86_64"}
    if text in aliases:
        raise where.error(key, f'"{text}" is spelled "{aliases[text]}" in Lambda')
    return cast(Arch, _choice(text, ("x86_64", "arm64"), where, key))


def _parse_size_key(value: object, where: _Where, key: str) -> int:
    try:
        return parse_size(cast("str | int", _expect(value, (str, int), where, key, 'a size like "40MB"')))
    except ValueError as err:
        raise where.error(key, str(err)) from None


def _parse_base(value: object, where: _Where, key: str) -> str:
    text = _expect(value, str, where, key, 'an image: "REGISTRY/REPO:TAG", "oci:DIR[:tag]" or "docker-archive:FILE"')
    if text.startswith(("oci:", "docker-archive:")):
        if not text.split(":", 1)[1]:
            raise where.error(key, f'"{text}" names no path')
        return cast(str, text)
    from lpack.oci.reference import parse_reference  # noqa: PLC0415 - keeps config import-light

    try:
        parse_reference(text)
    except ConfigError as err:
        raise where.error(key, err.msg, hint=err.hint) from None
    return cast(str, text)


_TableParser = Callable[[Mapping[str, object], _Where], object]


def _check_keys(table: Mapping[str, object], known: list[str], where: _Where) -> None:
    for key in table:
        if key not in known:
            raise where.error(key, f"unknown key; {_did_you_mean(key, known)}")


def _parse_prune(value: object, where: _Where, key: str) -> PruneConfig:
    table = _expect(value, dict, where, key, "a table")
    sub = _Where(where.file, f"{where.table}.{key}" if where.table else key)
    _check_keys(table, ["profile", "remove", "keep"], sub)
    return PruneConfig(
        profile=cast(PruneProfile, _choice(table.get("profile", "safe"), ("safe", "none"), sub, "profile")),
        remove=_str_list(table.get("remove", []), sub, "remove"),
        keep=_str_list(table.get("keep", []), sub, "keep"),
    )


def _parse_budget(value: object, where: _Where, key: str) -> Budget:
    table = _expect(value, dict, where, key, "a table")
    sub = _Where(where.file, f"{where.table}.{key}" if where.table else key)
    _check_keys(table, ["max-zipped", "max-unzipped"], sub)
    get = {k: _parse_size_key(v, sub, k) for k, v in table.items()}
    return Budget(max_zipped=get.get("max-zipped"), max_unzipped=get.get("max-unzipped"))


def _parse_compatible_runtimes(value: object, where: _Where, key: str) -> tuple[str, ...]:
    names = _str_list(value, where, key)
    if len(names) > runtimes.MAX_COMPATIBLE_RUNTIMES:
        raise where.error(key, f"{len(names)} runtimes; Lambda records at most {runtimes.MAX_COMPATIBLE_RUNTIMES}")
    return tuple(_parse_runtime(name, where, key).name for name in names)


def _parse_compatible_arches(value: object, where: _Where, key: str) -> tuple[Arch, ...]:
    arches = tuple(_parse_arch(a, where, key) for a in _str_list(value, where, key))
    if len(set(arches)) != len(arches) or len(arches) > runtimes.MAX_COMPATIBLE_ARCHITECTURES:
        raise where.error(key, "list x86_64 and/or arm64, each once")
    return arches


_PUBLISH_TEXT = {"bucket": "a bucket name", "prefix": "a key prefix", "kms-key-id": "a KMS key id or ARN"}
_PUBLISH_TEXT |= {"license": "licence info, e.g. an SPDX id", "description": "a description"}


def _parse_publish(value: object, where: _Where, key: str) -> PublishConfig:
    table = _expect(value, dict, where, key, "a table")
    sub = _Where(where.file, f"{where.table}.{key}" if where.table else key)
    _check_keys(table, [*_PUBLISH_TEXT, "sse", "public", "grant"], sub)
    text = {
        k.replace("-", "_"): _expect(v, str, sub, k, _PUBLISH_TEXT[k]) for k, v in table.items() if k in _PUBLISH_TEXT
    }
    sse = _choice(table["sse"], ("AES256", "aws:kms"), sub, "sse") if "sse" in table else None
    if "kms_key_id" in text and sse != "aws:kms":
        raise sub.error("kms-key-id", 'needs sse = "aws:kms"')
    grants = _str_list(table.get("grant", []), sub, "grant")
    for account in grants:
        if not re.fullmatch(r"\d{12}", account):
            raise sub.error("grant", f'"{account}" is not a 12-digit AWS account id', hint="public = true for everyone")
    public = _expect(table.get("public", False), bool, sub, "public", "true or false")
    return PublishConfig(sse=cast("SseMode | None", sse), public=public, grants=grants, **text)


def _parse_audit(value: object, where: _Where, key: str) -> AuditConfig:
    table = _expect(value, dict, where, key, "a table")
    sub = _Where(where.file, f"{where.table}.{key}" if where.table else key)
    _check_keys(table, ["waive"], sub)
    waive = _str_list(table.get("waive", []), sub, "waive")
    for item in waive:
        code = item.partition(":")[0]
        if code not in AUDIT_CODES:
            raise sub.error(
                "waive",
                f'"{code}" is not an audit finding; {_did_you_mean(code, list(AUDIT_CODES))}',
                hint='waive a code ("pth") or one file ("elf-glibc:pkg/_native.so"), as the build names them',
            )
    return AuditConfig(waive=waive)


# Config key -> (FunctionConfig field, parser). Parsers see raw TOML values and raise ConfigError.
_KEYS: dict[str, tuple[str, Callable[[object, _Where, str], object]]] = {
    "runtime": ("runtime", _parse_runtime),
    "architecture": ("architecture", _parse_arch),
    "handler": ("handler", lambda v, w, k: _expect(v, str, w, k, 'a handler like "app.handler"')),
    "source": ("source", lambda v, w, k: _expect(v, str, w, k, "a directory path")),
    "requirements": ("requirements", lambda v, w, k: _expect(v, str, w, k, "a file path")),
    "include": ("include", _str_list),
    "exclude": ("exclude", _str_list),
    "exclude-runtime-provided": ("exclude_runtime_provided", lambda v, w, k: _expect(v, bool, w, k, "true or false")),
    "prune": ("prune", _parse_prune),
    "budget": ("budget", _parse_budget),
    "audit": ("audit", _parse_audit),
    "installer": ("installer", lambda v, w, k: _choice(v, ("uv", "pip"), w, k)),
    "edge": ("edge", lambda v, w, k: _choice(v, ("viewer", "origin"), w, k)),
    "bytecode": ("bytecode", lambda v, w, k: _choice(v, ("auto", "none"), w, k)),
    "compression": ("compression", lambda v, w, k: _choice(v, COMPRESSIONS, w, k)),
    "python": ("python", lambda v, w, k: _expect(v, str, w, k, "an interpreter path")),
    "index-url": ("index_url", lambda v, w, k: _expect(v, str, w, k, "a URL")),
    "extra-index-urls": ("extra_index_urls", _str_list),
    "find-links": ("find_links", _str_list),
    "no-index": ("no_index", lambda v, w, k: _expect(v, bool, w, k, "true or false")),
    "layers": ("layers", _str_list),
    "node-scripts": ("node_scripts", lambda v, w, k: _expect(v, bool, w, k, "true or false")),
    "kind": ("kind", lambda v, w, k: _choice(v, ("auto", "prebuilt"), w, k)),
    "allow-duplicate-versions": ("allow_duplicate_versions", lambda v, w, k: _expect(v, bool, w, k, "true or false")),
    "layout": ("layout", lambda v, w, k: _choice(v, ("default", "site-packages", "versioned"), w, k)),
    "compatible-runtimes": ("compatible_runtimes", _parse_compatible_runtimes),
    "compatible-architectures": ("compatible_architectures", _parse_compatible_arches),
    "bin": ("bin_dir", lambda v, w, k: _expect(v, str, w, k, "a directory path")),
    "lib": ("lib_dir", lambda v, w, k: _expect(v, str, w, k, "a directory path")),
    "publish": ("publish", _parse_publish),
    "format": ("format", lambda v, w, k: _choice(v, ("zip", "image"), w, k)),
    "base": ("base", _parse_base),
}
_TOP_ONLY = ["functions", "out"]
_FUNCTION_ONLY = frozenset({"handler", "layers", "allow-duplicate-versions", "edge", "format", "base"})
_LAYER_ONLY = frozenset({"layout", "compatible-runtimes", "compatible-architectures", "bin", "lib", "publish"})
# What a layer takes from the top-level defaults: the target and how to install, not a function's code.
_LAYERS_INHERIT = frozenset(
    {
        "runtime",
        "architecture",
        "installer",
        "bytecode",
        "python",
        "index_url",
        "extra_index_urls",
        "find_links",
        "no_index",
        "prune",
        "exclude_runtime_provided",
    }
)


def _parse_table(
    table: Mapping[str, object], where: _Where, extra: list[str], *, refuse: frozenset[str] = frozenset()
) -> dict[str, object]:
    for key in table:
        if key in refuse:
            what = "a layer" if key in _FUNCTION_ONLY else "a function"
            raise where.error(key, f"not a key for {what} here", hint="see the configuration keys in the README")
    _check_keys(table, [*_KEYS, *extra], where)
    values: dict[str, object] = {}
    for key, raw in table.items():
        if key in _KEYS:
            name, parser = _KEYS[key]
            values[name] = parser(raw, where, key)
    return values


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path.name}: invalid TOML: {err}", hint="fix the syntax at the line shown") from None
    except OSError as err:
        raise ConfigError(f"{path.name}: cannot read: {err.strerror}") from None


def find_config(project_dir: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The config file, its lpack table, and pyproject's [project] table (or {})."""
    lpack_toml = project_dir / "lpack.toml"
    pyproject = project_dir / "pyproject.toml"
    project_table: dict[str, Any] = {}
    tool_table: dict[str, Any] | None = None
    if pyproject.is_file():
        data = _read_toml(pyproject)
        project_table = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
        tool = data.get("tool", {})
        tool_table = tool.get("lpack") if isinstance(tool, dict) else None
    if lpack_toml.is_file():
        if tool_table is not None:
            raise ConfigError(
                f"{project_dir.name}: both lpack.toml and [tool.lpack] in pyproject.toml configure lpack",
                hint="keep one of them",
            )
        return lpack_toml, _read_toml(lpack_toml), project_table
    if tool_table is None:
        raise ConfigError(
            f"{project_dir}: no lpack configuration found",
            hint="add a [tool.lpack] table to pyproject.toml or create lpack.toml (see `lpack init`)",
        )
    return pyproject, tool_table, project_table


def load_config(project_dir: Path | str = ".", overrides: Overrides | None = None) -> BuildConfig:
    """Read and validate the project's lpack configuration, applying command-line overrides."""
    project_dir = Path(project_dir).resolve()
    if not project_dir.is_dir():
        raise ConfigError(f"{project_dir}: not a directory", hint="pass the project directory")
    overrides = overrides or Overrides()
    file, table, project_table = find_config(project_dir)
    top_where = _Where(file, "tool.lpack" if file.name == "pyproject.toml" else "")
    table = dict(table)
    # `layers` is a table of layer definitions at the top, or a list of layer names for the one function.
    layer_tables = table.pop("layers") if isinstance(table.get("layers"), dict) else {}
    defaults = _parse_table(table, top_where, _TOP_ONLY, refuse=_LAYER_ONLY)
    named = _named_tables(table.get("functions", {}), top_where, "functions")
    if not named and (not layer_tables or "handler" in defaults):
        named = [(_project_name(project_table, project_dir), {}, top_where)]
    functions = [
        _make_function(
            name, {**defaults, **_parse_table(sub, where, [], refuse=_LAYER_ONLY)}, where, project_dir, overrides
        )
        for name, sub, where in named
    ]
    inherited = {k: v for k, v in defaults.items() if k in _LAYERS_INHERIT}
    layers = [
        _make_layer(
            name, {**inherited, **_parse_table(sub, where, [], refuse=_FUNCTION_ONLY)}, where, project_dir, overrides
        )
        for name, sub, where in _named_tables(layer_tables, top_where, "layers")
    ]
    _check_references(functions, layers, file)
    functions = [replace(f, exclude=(*f.exclude, *_not_code(f, layers))) for f in functions]
    functions, layers = _select(functions, layers, overrides, file)
    out = overrides.out_dir or project_dir / _expect(table.get("out", "dist"), str, top_where, "out", "a path")
    return BuildConfig(
        project_dir=project_dir,
        config_file=file,
        out_dir=Path(out),
        functions=tuple(functions),
        layers=tuple(layers),
        image=_image_delivery(overrides, functions),
    )


def _image_delivery(overrides: Overrides, configs: list[FunctionConfig]) -> ImageDelivery:
    cli = _Where(Path("command line"), "")
    for output in overrides.outputs:
        kind, _, path = output.partition(":")
        if kind not in ("oci", "docker-archive") or not path:
            raise cli.error("--output", f'"{output}" is not oci:DIR or docker-archive:FILE')
    if overrides.push:
        _parse_base(overrides.push, cli, "--push")
        if overrides.push.startswith(("oci:", "docker-archive:")):
            raise cli.error("--push", "takes a registry reference; use --output for oci: and docker-archive:")
    delivery = ImageDelivery(
        outputs=tuple(overrides.outputs),
        push=overrides.push,
        load=overrides.load,
        insecure=tuple(overrides.insecure_registries),
    )
    images = [c for c in configs if c.format == "image"]
    if delivery.requested and not images:
        raise cli.error("--output/--push/--load", "apply to images only", hint='add --format image or format = "image"')
    if delivery.requested and len(images) > 1:
        names = ", ".join(c.name for c in images)
        raise cli.error("--output/--push/--load", f"name one image, but {names} are images", hint="add --function NAME")
    return delivery


def _project_name(project_table: Mapping[str, Any], project_dir: Path) -> str:
    name = project_table.get("name")
    return name if isinstance(name, str) and _NAME_RE.match(name) else project_dir.name


def _named_tables(raw: object, where: _Where, kind: str) -> list[tuple[str, Mapping[str, object], _Where]]:
    tables: dict[str, object] = _expect(raw, dict, where, kind, f"a table of [{kind}.NAME] tables")
    found = []
    prefix = f"{where.table}.{kind}" if where.table else kind
    for name, sub in tables.items():
        sub_where = _Where(where.file, f"{prefix}.{name}")
        if not _NAME_RE.match(name):
            what = kind.rstrip("s")
            raise sub_where.error("name", f'"{name}" is not a valid {what} name (letters, digits, "-", "_", ".")')
        found.append((name, _expect(sub, dict, where, f"{kind}.{name}", "a table"), sub_where))
    return found


def _not_code(fn: FunctionConfig, layers: list[FunctionConfig]) -> list[str]:
    """What under a function's source belongs to its build, not its code: layers' directories and
    every requirements file the config names. Gitignore patterns anchored at the source root."""
    paths = [p for layer in layers for p in (layer.bin_dir, layer.lib_dir, layer.requirements) if p is not None]
    paths += [layer.source for layer in layers if layer.source_set]
    paths += [fn.requirements] if fn.requirements is not None else []
    found = []
    for path in paths:
        try:
            rel = path.resolve().relative_to(fn.source).as_posix()
        except ValueError:
            continue
        if rel != ".":
            found.append("/" + rel + ("/" if path.is_dir() else ""))
    return found


def _check_references(functions: list[FunctionConfig], layers: list[FunctionConfig], file: Path) -> None:
    names = [layer.name for layer in layers]
    for fn in functions:
        for name in fn.layers:
            if name not in names:
                raise ConfigError(
                    f'{file.name}: function "{fn.name}" uses layer "{name}", which is not defined; '
                    f"{_did_you_mean(name, names)}"
                    if names
                    else f'{file.name}: function "{fn.name}" uses layer "{name}", but no [layers.{name}] table exists'
                )
        if fn.layers and fn.format == "image":
            raise ConfigError(
                f'{file.name}: function "{fn.name}" is an image and lists layers; Lambda images take no layers',
                hint="put the layers' packages into the function (they become an image layer), or build it as a zip",
            )
        if len(fn.layers) > runtimes.MAX_LAYERS:
            raise ConfigError(
                f'{file.name}: function "{fn.name}" uses {len(fn.layers)} layers; Lambda allows {runtimes.MAX_LAYERS}',
                hint="merge layers, or move packages into the function",
            )


def _select(
    functions: list[FunctionConfig], layers: list[FunctionConfig], overrides: Overrides, file: Path
) -> tuple[list[FunctionConfig], list[FunctionConfig]]:
    if not overrides.functions and not overrides.layers:
        return functions, layers
    _must_exist(overrides.functions, [f.name for f in functions], "function", file)
    _must_exist(overrides.layers, [layer.name for layer in layers], "layer", file)
    chosen = [f for f in functions if f.name in overrides.functions]
    # A function's layers are built with it: their bytes count toward its 250 MB.
    needed = set(overrides.layers) | {name for f in chosen for name in f.layers}
    return chosen, [layer for layer in layers if layer.name in needed]


def _must_exist(wanted: tuple[str, ...], names: list[str], kind: str, file: Path) -> None:
    for name in wanted:
        if name not in names:
            raise ConfigError(f'{file.name}: no {kind} named "{name}"; {_did_you_mean(name, names)}')


def _target(values: dict[str, object], where: _Where, overrides: Overrides) -> runtimes.Runtime:
    """The command line's overrides applied; the runtime, which every function and layer must name."""
    _apply_overrides(values, overrides)
    if "runtime" not in values:
        raise where.error("runtime", "missing", hint=f'set runtime = "python3.12" (or another) in {where.file.name}')
    return cast(runtimes.Runtime, values["runtime"])


def _make_layer(
    name: str, values: dict[str, object], where: _Where, project_dir: Path, overrides: Overrides
) -> FunctionConfig:
    runtime = _target(values, where, overrides)
    layout = values.get("layout", "default")
    if (layout, runtime.language) in (("site-packages", "node"), ("versioned", "python")):
        fits = "site-packages" if runtime.language == "python" else "versioned"
        raise where.error("layout", f'"{layout}" is not a {runtime.language} layout', hint=f'use "default" or "{fits}"')
    values.setdefault("compatible_runtimes", (runtime.name,))
    values.setdefault("compatible_architectures", (values.get("architecture", "x86_64"),))
    for key in ("bin_dir", "lib_dir"):
        if key in values:
            values[key] = (project_dir / cast(str, values[key])).resolve()
    return _build_function(name, {**values, "handler": "", "role": "layer"}, project_dir)


def _make_function(
    name: str, values: dict[str, object], where: _Where, project_dir: Path, overrides: Overrides
) -> FunctionConfig:
    runtime = _target(values, where, overrides)
    if values.get("kind") == "prebuilt":
        # provided.* runs `bootstrap`; Java, .NET and Ruby handlers are the toolchain's business.
        return _build_function(name, {"handler": "", **values}, project_dir)
    if runtime.language not in ("python", "node"):
        raise where.error(
            "runtime",
            f'"{runtime.name}" is a {runtime.language} runtime: lpack builds Python and Node.js from source',
            hint='zip a directory built by its own toolchain with kind = "prebuilt"',
        )
    if "handler" not in values:
        raise where.error("handler", "missing", hint=f'set handler = "..." in {where.file.name}')
    handler = cast(str, values["handler"])
    node = runtime.language == "node"
    if not (_NODE_HANDLER_RE if node else _HANDLER_RE).match(handler):
        example = "index.handler" if node else "app.handler"
        raise where.error("handler", f'"{handler}" is not "module.function"', hint=f'e.g. handler = "{example}"')
    return _build_function(name, values, project_dir)


def _apply_overrides(values: dict[str, object], overrides: Overrides) -> None:
    cli = _Where(Path("command line"), "")  # errors read "command line: --runtime: unknown runtime ..."
    if overrides.runtime:
        values["runtime"] = _parse_runtime(overrides.runtime, cli, "--runtime")
    if overrides.architecture:
        values["architecture"] = _parse_arch(overrides.architecture, cli, "--arch")
    if overrides.installer:
        values["installer"] = _choice(overrides.installer, ("uv", "pip"), cli, "--installer")
    if overrides.python:
        values["python"] = str(overrides.python)
    if overrides.index_url:
        values["index_url"] = overrides.index_url
    if overrides.find_links:
        links = [link if "://" in link else str(Path(link).resolve()) for link in overrides.find_links]
        values["find_links"] = (*cast("tuple[str, ...]", values.get("find_links", ())), *links)
    if overrides.no_index:
        values["no_index"] = True
    if overrides.format:
        values["format"] = _choice(overrides.format, ("zip", "image"), cli, "--format")


def _build_function(name: str, values: dict[str, object], project_dir: Path) -> FunctionConfig:
    index = IndexOptions(
        index_url=cast("str | None", values.pop("index_url", None)),
        extra_index_urls=cast("tuple[str, ...]", values.pop("extra_index_urls", ())),
        find_links=tuple(_link(project_dir, link) for link in cast("tuple[str, ...]", values.pop("find_links", ()))),
        no_index=cast(bool, values.pop("no_index", False)),
    )
    source_set = "source" in values or "include" in values
    source = project_dir / cast(str, values.pop("source", "."))
    requirements = values.pop("requirements", None)
    python = values.pop("python", None)
    if "layers" in values:
        values["layers"] = tuple(cast("tuple[str, ...]", values["layers"]))
    if "edge" in values:
        edge = cast(EdgeEvent, values.pop("edge"))
        values["budget"] = replace(cast(Budget, values.get("budget", Budget())), edge=edge)
    if isinstance(values.get("base"), str):
        values["base"] = _local_base(project_dir, cast(str, values["base"]))
    config = FunctionConfig(
        name=name,
        project_dir=project_dir,
        source=source.resolve(),
        source_set=source_set,
        requirements=(project_dir / cast(str, requirements)) if requirements else None,
        python=Path(cast(str, python)) if python else None,
        index=index,
        **cast(dict[str, Any], values),
    )
    return config


def _local_base(project_dir: Path, base: str) -> str:
    # oci:DIR and docker-archive:FILE in a config file are relative to the project, like `source`.
    kind, sep, path = base.partition(":")
    if kind not in ("oci", "docker-archive") or Path(path).is_absolute():
        return base
    return f"{kind}{sep}{project_dir / path}"


def _link(project_dir: Path, link: str) -> str:
    # Relative find-links are relative to the project, as in a requirements file.
    return link if "://" in link else str((project_dir / link).resolve())
