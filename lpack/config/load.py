"""Finds the project's lpack configuration ([tool.lpack] in pyproject.toml, or lpack.toml), reads it and builds
the BuildConfig: top-level defaults under each function's and layer's own table, then the command line on top."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lpack import runtimes
from lpack.config.deps import with_dependencies
from lpack.config.fields import Where, choice, did_you_mean, expect, parse_arch, parse_base, parse_runtime, table_of
from lpack.config.keys import (
    FUNCTION_ONLY,
    LAYER_ONLY,
    LAYERS_INHERIT,
    TOP_ONLY,
    Extra,
    Options,
    Values,
    parse_table,
)
from lpack.config.model import (
    FORMATS,
    INSTALLERS,
    ArtifactRole,
    Budget,
    BuildConfig,
    FunctionConfig,
    ImageDelivery,
    IndexOptions,
    Overrides,
    SharedInclude,
)
from lpack.config.readers import read_toml
from lpack.config.remote import remote_settings
from lpack.errors import ConfigError

__all__ = ["find_config", "load_config", "load_table", "read_toml"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NODE_HANDLER_RE = re.compile(r"^[\w./-]+\.[A-Za-z_$][\w$]*$")  # "src/index.handler": file path, then export
_HANDLER_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*\.[A-Za-z_]\w*$")


def find_config(project_dir: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The config file, its lpack table, and pyproject's [project] table (or {})."""
    lpack_toml = project_dir / "lpack.toml"
    pyproject = project_dir / "pyproject.toml"
    project_table: dict[str, Any] = {}
    tool_table: dict[str, Any] | None = None
    if pyproject.is_file():
        data = read_toml(pyproject)
        project_table = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
        tool = data.get("tool", {})
        tool_table = tool.get("lpack") if isinstance(tool, dict) else None
        if tool_table is not None and not isinstance(tool_table, dict):
            raise ConfigError("pyproject.toml: tool.lpack: expected a table", hint="write it as a [tool.lpack] table")
    if lpack_toml.is_file():
        if tool_table is not None:
            raise ConfigError(
                f"{project_dir.name}: both lpack.toml and [tool.lpack] in pyproject.toml configure lpack",
                hint="keep one of them",
            )
        return lpack_toml, read_toml(lpack_toml), project_table
    if tool_table is None:
        sam = next((t.name for t in (project_dir / "template.yaml", project_dir / "template.yml") if t.is_file()), None)
        raise ConfigError(
            f"{project_dir}: no lpack configuration found",
            hint=f"a SAM project: lpack build --sam-template {sam} (or lpack init --from-sam {sam})"
            if sam
            else "add a [tool.lpack] table to pyproject.toml or create lpack.toml (see `lpack init`)",
        )
    return pyproject, tool_table, project_table


def load_config(project_dir: Path | str = ".", overrides: Overrides | None = None) -> BuildConfig:
    """Read and validate the project's lpack configuration, applying command-line overrides."""
    project_dir = Path(project_dir).resolve()
    if not project_dir.is_dir():
        raise ConfigError(f"{project_dir}: not a directory", hint="pass the project directory")
    file, table, project_table = find_config(project_dir)
    return load_table(project_dir, file, table, project_table, overrides)


def load_table(
    project_dir: Path,
    file: Path,
    table: Mapping[str, Any],
    project_table: Mapping[str, Any],
    overrides: Overrides | None = None,
) -> BuildConfig:
    """A BuildConfig from an lpack table already read (from `file`, which errors name), e.g. made from a template."""
    overrides = overrides or Overrides()
    top_where = Where(file, "tool.lpack" if file.name == "pyproject.toml" else "")
    table = dict(table)
    # `layers` is a table of layer definitions at the top, or a list of layer names for the one function.
    layer_tables = table.pop("layers") if isinstance(table.get("layers"), dict) else {}
    defaults = parse_table(table, top_where, TOP_ONLY, refuse=LAYER_ONLY)
    named = _named_tables(table.get("functions", {}), top_where, "functions")
    if not named and (not layer_tables or "handler" in defaults.extra):
        named = [(_project_name(project_table, project_dir), {}, top_where)]
    functions = [
        _make_function(name, defaults | parse_table(sub, where, [], refuse=LAYER_ONLY), where, project_dir, overrides)
        for name, sub, where in named
    ]
    # What layers take from the top-level defaults, parsed again from those keys (the same values: the
    # first parse has checked them).
    inherited = parse_table({k: v for k, v in table.items() if k in LAYERS_INHERIT}, top_where, [])
    layers = [
        _make_layer(name, inherited | parse_table(sub, where, [], refuse=FUNCTION_ONLY), where, project_dir, overrides)
        for name, sub, where in _named_tables(layer_tables, top_where, "layers")
    ]
    _check_references(functions, layers, file)
    # Each function's dependency file (found when the config names none) is part of its build, not its code.
    functions = [replace(f, exclude=(*f.exclude, *_not_code(f, layers))) for f in map(with_dependencies, functions)]
    functions, layers = _select(functions, layers, overrides, file)
    if overrides.strict:
        functions = [replace(f, strict_secrets=True) for f in functions]
        layers = [replace(layer, strict_secrets=True) for layer in layers]
    out = overrides.out_dir or project_dir / expect(table.get("out", "dist"), str, top_where, "out", "a path")
    return BuildConfig(
        project_dir=project_dir,
        config_file=file,
        out_dir=Path(out),
        functions=tuple(functions),
        layers=tuple(layers),
        image=_image_delivery(overrides, functions),
        cache_remote=remote_settings(table, top_where, overrides),
    )


def _image_delivery(overrides: Overrides, configs: list[FunctionConfig]) -> ImageDelivery:
    cli = Where(Path("command line"), "")
    for output in overrides.outputs:
        kind, _, path = output.partition(":")
        if kind not in ("oci", "docker-archive") or not path:
            raise cli.error("--output", f'"{output}" is not oci:DIR or docker-archive:FILE')
    if overrides.push:
        parse_base(overrides.push, cli, "--push")
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


def _named_tables(raw: object, where: Where, kind: str) -> list[tuple[str, Mapping[str, object], Where]]:
    tables = table_of(raw, where, kind, f"a table of [{kind}.NAME] tables")
    found: list[tuple[str, Mapping[str, object], Where]] = []
    prefix = f"{where.table}.{kind}" if where.table else kind
    for name, sub in tables.items():
        sub_where = Where(where.file, f"{prefix}.{name}")
        if not _NAME_RE.match(name):
            what = kind.rstrip("s")
            raise sub_where.error("name", f'"{name}" is not a valid {what} name (letters, digits, "-", "_", ".")')
        found.append((name, table_of(sub, where, f"{kind}.{name}"), sub_where))
    return found


def _not_code(fn: FunctionConfig, layers: list[FunctionConfig]) -> list[str]:
    """What under a function's source belongs to its build, not its code: layers' directories and
    every requirements file the config names. Gitignore patterns anchored at the source root."""
    dirs = [(layer.bin_dir, layer.lib_dir, layer.extensions_dir, layer.requirements) for layer in layers]
    paths = [p for found in dirs for p in found if p is not None]
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
                    f"{did_you_mean(name, names)}"
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
            raise ConfigError(f'{file.name}: no {kind} named "{name}"; {did_you_mean(name, names)}')


def _runtime(values: Values, where: Where) -> runtimes.Runtime:
    # Every function and layer must name one: in its table, the top-level defaults or the command line.
    runtime = values.extra.get("runtime")
    if runtime is None:
        raise where.error("runtime", "missing", hint=f'set runtime = "python3.12" (or another) in {where.file.name}')
    return runtime


def _make_layer(name: str, values: Values, where: Where, project_dir: Path, overrides: Overrides) -> FunctionConfig:
    values = _with_overrides(values, overrides)
    runtime = _runtime(values, where)
    layout = values.options.get("layout", "default")
    if (layout, runtime.language) in (("site-packages", "node"), ("versioned", "python")):
        fits = "site-packages" if runtime.language == "python" else "versioned"
        raise where.error("layout", f'"{layout}" is not a {runtime.language} layout', hint=f'use "default" or "{fits}"')
    options: Options = {
        "compatible_runtimes": (runtime.name,),
        "compatible_architectures": (values.options.get("architecture", "x86_64"),),
        **values.options,
    }
    if "bin_dir" in options:
        options["bin_dir"] = (project_dir / options["bin_dir"]).resolve()
    if "lib_dir" in options:
        options["lib_dir"] = (project_dir / options["lib_dir"]).resolve()
    if "extensions_dir" in options:
        options["extensions_dir"] = (project_dir / options["extensions_dir"]).resolve()
    return _build_function(
        name, Values(options=options, extra=values.extra), project_dir, runtime=runtime, role="layer"
    )


def _make_function(name: str, values: Values, where: Where, project_dir: Path, overrides: Overrides) -> FunctionConfig:
    values = _with_overrides(values, overrides)
    runtime = _runtime(values, where)
    if values.options.get("kind") == "prebuilt" and values.options.get("bundle") is not None:
        raise where.error("bundle", "a prebuilt directory is packed as it is: it takes no bundle", hint="remove one")
    if values.options.get("kind") == "prebuilt":
        # provided.* runs `bootstrap`; Java, .NET and Ruby handlers are the toolchain's business.
        return _build_function(name, values, project_dir, runtime=runtime, role="function")
    if runtime.language not in ("python", "node"):
        raise where.error(
            "runtime",
            f'"{runtime.name}" is a {runtime.language} runtime: lpack builds Python and Node.js from source',
            hint='zip a directory built by its own toolchain with kind = "prebuilt"',
        )
    handler = values.extra.get("handler")
    if handler is None:
        raise where.error("handler", "missing", hint=f'set handler = "..." in {where.file.name}')
    node = runtime.language == "node"
    if not node and values.options.get("bundle") is not None:
        raise where.error("bundle", f"bundles Node.js functions; {runtime.name} is not one", hint="remove `bundle`")
    if values.options.get("external") and values.options.get("bundle") is None:
        raise where.error(
            "external",
            "names packages left out of a bundle, but this function is not bundled",
            hint="add bundle = true, or remove `external`",
        )
    if not (_NODE_HANDLER_RE if node else _HANDLER_RE).match(handler):
        example = "index.handler" if node else "app.handler"
        raise where.error("handler", f'"{handler}" is not "module.function"', hint=f'e.g. handler = "{example}"')
    return _build_function(name, values, project_dir, runtime=runtime, role="function")


def _with_overrides(values: Values, overrides: Overrides) -> Values:
    cli = Where(Path("command line"), "")  # errors read "command line: --runtime: unknown runtime ..."
    options: Options = {}
    extra: Extra = {}
    if overrides.runtime:
        extra["runtime"] = parse_runtime(overrides.runtime, cli, "--runtime")
    if overrides.architecture:
        options["architecture"] = parse_arch(overrides.architecture, cli, "--arch")
    if overrides.installer:
        options["installer"] = choice(overrides.installer, INSTALLERS, cli, "--installer")
    if overrides.python:
        extra["python"] = str(overrides.python)
    if overrides.index_url:
        extra["index_url"] = overrides.index_url
    if overrides.find_links:
        links = [link if "://" in link else _existing_link(Path(link).resolve(), link) for link in overrides.find_links]
        extra["find_links"] = (*values.extra.get("find_links", ()), *links)
    if overrides.no_index:
        extra["no_index"] = True
    if overrides.locked:
        options["locked"] = True
    if overrides.format:
        options["format"] = choice(overrides.format, FORMATS, cli, "--format")
    return values | Values(options=options, extra=extra)


def _build_function(
    name: str, values: Values, project_dir: Path, *, runtime: runtimes.Runtime, role: ArtifactRole
) -> FunctionConfig:
    extra, options = values.extra, values.options.copy()
    index = IndexOptions(
        index_url=extra.get("index_url"),
        extra_index_urls=extra.get("extra_index_urls", ()),
        find_links=tuple(_link(project_dir, link) for link in extra.get("find_links", ())),
        no_index=extra.get("no_index", False),
    )
    if "edge" in extra:
        options["budget"] = replace(options.get("budget", Budget()), edge=extra["edge"])
    if "base" in options:
        options["base"] = _local_base(project_dir, options["base"])
    requirements, python = extra.get("requirements"), extra.get("python")
    return FunctionConfig(
        name=name,
        project_dir=project_dir,
        runtime=runtime,
        handler=extra.get("handler", ""),  # none for layers and prebuilt functions
        role=role,
        source=(project_dir / extra.get("source", ".")).resolve(),
        # whether `source`/`include` were given (a built wheel then adds sources)
        source_set="source" in extra or "include" in options,
        requirements=(project_dir / requirements) if requirements else None,
        shared=tuple(SharedInclude(source=(project_dir / f).resolve(), target=t) for f, t in extra.get("shared", ())),
        python=Path(python) if python else None,
        index=index,
        **options,
    )


def _local_base(project_dir: Path, base: str) -> str:
    # oci:DIR and docker-archive:FILE in a config file are relative to the project, like `source`.
    kind, sep, path = base.partition(":")
    if kind not in ("oci", "docker-archive") or Path(path).is_absolute():
        return base
    return f"{kind}{sep}{project_dir / path}"


def _link(project_dir: Path, link: str) -> str:
    # Relative find-links are relative to the project, as in a requirements file.
    return link if "://" in link else _existing_link((project_dir / link).resolve(), link)


def _existing_link(path: Path, given: str) -> str:
    # uv says only "No such file or directory (os error 2)" for a missing one, naming nothing.
    if not path.exists():
        raise ConfigError(f"find-links {given}: no such directory ({path})", hint="fix find-links or --find-links")
    return str(path)
