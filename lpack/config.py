"""Reads `[tool.lpack]` from pyproject.toml or lpack.toml into frozen, validated dataclasses."""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from lpack import runtimes
from lpack._deflate import COMPRESSIONS, Compression
from lpack._units import parse_size
from lpack.errors import ConfigError
from lpack.runtimes import Arch

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

PruneProfile = Literal["safe", "none"]
Installer = Literal["uv", "pip"]
Bytecode = Literal["auto", "none"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HANDLER_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*\.[A-Za-z_]\w*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneConfig:
    profile: PruneProfile = "safe"
    remove: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    max_zipped: int | None = None
    max_unzipped: int | None = None


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
    installer: Installer = "uv"
    bytecode: Bytecode = "auto"
    compression: Compression = "default"  # zip deflate: fast (ISA-L 2), default (zlib-ng 6), small (zlib-ng 9)
    python: Path | None = None
    index: IndexOptions = field(default_factory=IndexOptions)


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildConfig:
    """Everything `lpack.build()` needs: the functions to build and where to put them."""

    project_dir: Path
    config_file: Path | None
    out_dir: Path
    functions: tuple[FunctionConfig, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """Values from the command line; they win over the config file."""

    runtime: str | None = None
    architecture: str | None = None
    out_dir: Path | None = None
    functions: tuple[str, ...] = ()
    installer: str | None = None
    python: Path | None = None
    index_url: str | None = None
    find_links: tuple[str, ...] = ()  # added to the config's, relative to the current directory
    no_index: bool = False


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
    if runtime.language != "python":
        raise where.error(
            key,
            f'runtime "{name}" is not a Python runtime; lpack builds Python functions here',
            hint="use one of " + ", ".join(r.name for r in runtimes.python_runtimes()),
        )
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
    "installer": ("installer", lambda v, w, k: _choice(v, ("uv", "pip"), w, k)),
    "bytecode": ("bytecode", lambda v, w, k: _choice(v, ("auto", "none"), w, k)),
    "compression": ("compression", lambda v, w, k: _choice(v, COMPRESSIONS, w, k)),
    "python": ("python", lambda v, w, k: _expect(v, str, w, k, "an interpreter path")),
    "index-url": ("index_url", lambda v, w, k: _expect(v, str, w, k, "a URL")),
    "extra-index-urls": ("extra_index_urls", _str_list),
    "find-links": ("find_links", _str_list),
    "no-index": ("no_index", lambda v, w, k: _expect(v, bool, w, k, "true or false")),
}
_TOP_ONLY = ["functions", "out"]


def _parse_table(table: Mapping[str, object], where: _Where, extra: list[str]) -> dict[str, object]:
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
    defaults = _parse_table(table, top_where, _TOP_ONLY)
    default_name = _project_name(project_table, project_dir)
    functions = _function_tables(table, top_where)
    configs = [
        _make_function(name, {**defaults, **_parse_table(sub, where, [])}, where, project_dir, overrides)
        for name, sub, where in (functions or [(default_name, {}, top_where)])
    ]
    configs = _select(configs, overrides.functions, file)
    out = overrides.out_dir or project_dir / _expect(table.get("out", "dist"), str, top_where, "out", "a path")
    return BuildConfig(project_dir=project_dir, config_file=file, out_dir=Path(out), functions=tuple(configs))


def _project_name(project_table: Mapping[str, Any], project_dir: Path) -> str:
    name = project_table.get("name")
    return name if isinstance(name, str) and _NAME_RE.match(name) else project_dir.name


def _function_tables(table: Mapping[str, object], where: _Where) -> list[tuple[str, Mapping[str, object], _Where]]:
    functions = _expect(table.get("functions", {}), dict, where, "functions", "a table of [functions.NAME] tables")
    found = []
    prefix = f"{where.table}.functions" if where.table else "functions"
    for name, sub in functions.items():
        sub_where = _Where(where.file, f"{prefix}.{name}")
        if not _NAME_RE.match(name):
            raise sub_where.error("name", f'"{name}" is not a valid function name (letters, digits, "-", "_", ".")')
        found.append((name, _expect(sub, dict, where, f"functions.{name}", "a table"), sub_where))
    return found


def _select(configs: list[FunctionConfig], wanted: tuple[str, ...], file: Path) -> list[FunctionConfig]:
    if not wanted:
        return configs
    names = [c.name for c in configs]
    for name in wanted:
        if name not in names:
            raise ConfigError(f'{file.name}: no function named "{name}"; {_did_you_mean(name, names)}')
    return [c for c in configs if c.name in wanted]


def _make_function(
    name: str, values: dict[str, object], where: _Where, project_dir: Path, overrides: Overrides
) -> FunctionConfig:
    _apply_overrides(values, overrides)
    for required in ("runtime", "handler"):
        if required not in values:
            raise where.error(required, "missing", hint=f'set {required} = "..." in {where.file.name}')
    handler = cast(str, values["handler"])
    if not _HANDLER_RE.match(handler):
        raise where.error("handler", f'"{handler}" is not "module.function"', hint='e.g. handler = "app.handler"')
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


def _link(project_dir: Path, link: str) -> str:
    # Relative find-links are relative to the project, as in a requirements file.
    return link if "://" in link else str((project_dir / link).resolve())
