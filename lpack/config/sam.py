"""A SAM (or plain CloudFormation) template as an lpack config: its zip functions and layers, their code
directories, runtimes, architectures and layer references, with the intrinsics resolved from parameter
defaults and Mappings. The same table is what `lpack init --from-sam` writes as lpack.toml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpack import lifecycle, runtimes
from lpack.config.intrinsics import Resolver, load_template
from lpack.config.load import load_table
from lpack.config.model import BuildConfig, Overrides
from lpack.errors import ConfigError

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
# The property holding the code directory, per resource type: what `sam build` rewrites to the built directory.
CODE_PROPERTY = {SERVERLESS_FUNCTION: "CodeUri", LAMBDA_FUNCTION: "Code", SERVERLESS_LAYER: "ContentUri"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SamTemplate:
    """A template read for building: the raw data (written back with built paths) and the lpack table."""

    path: Path
    data: Mapping[str, Any]
    table: Mapping[str, Any]  # {"functions": {LogicalId: {...}}, "layers": {LogicalId: {...}}}

    @property
    def built(self) -> tuple[str, ...]:
        """Logical ids of the resources lpack builds."""
        return (*self.table.get("functions", {}), *self.table.get("layers", {}))


def _globals(path: Path, data: Mapping[str, Any]) -> Mapping[str, Any]:
    section = data.get("Globals") or {}
    function = section.get("Function") if isinstance(section, dict) else None
    if not isinstance(section, dict) or not isinstance(function or {}, dict):
        raise ConfigError(
            f"{path.name}: Globals{'.Function' if isinstance(section, dict) else ''} is not a mapping",
            hint="Globals.Function holds properties every function shares, e.g. Runtime: python3.12",
        )
    return function or {}


def read_sam(path: Path, parameters: Mapping[str, str] | None = None) -> SamTemplate:
    """The template at `path` as an lpack table; `parameters` override the templates' parameter defaults."""
    path = path.resolve()
    data = load_template(path)
    resolver = Resolver.of(path.name, data, parameters or {})
    resources: Mapping[str, Any] = data["Resources"]
    globals_ = _globals(path, data)
    functions: dict[str, Any] = {}
    layers: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        where = f"Resources.{logical_id}"
        if kind == SERVERLESS_LAYER:
            layers[logical_id] = _layer(resource, path.parent, resolver, where)
        elif kind in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION):
            props = _with_globals(globals_, resource.get("Properties") or {}) if kind == SERVERLESS_FUNCTION else None
            own = props or resource.get("Properties") or {}
            entry = _function(kind, own, resource, root=path.parent, resolver=resolver, where=where)
            if entry is not None:
                functions[logical_id] = entry
    for entry in functions.values():
        entry["layers"] = [ref for ref in entry.pop("layer_refs") if ref in layers]
        if not entry["layers"]:
            del entry["layers"]
    if not functions and not layers:
        raise ConfigError(f"{path.name}: no function or layer with code to build", hint="pass a SAM template")
    return SamTemplate(path=path, data=data, table={"functions": functions, "layers": layers})


def load_sam(template: SamTemplate, overrides: Overrides | None = None) -> BuildConfig:
    """The BuildConfig for a template read with read_sam: paths are relative to the template's directory."""
    table = {k: v for k, v in template.table.items() if v}
    return load_table(template.path.parent, template.path, table, {}, overrides)


def _with_globals(globals_: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    # SAM's Globals: a resource's own value wins, maps merge, and lists are the global entries then the
    # resource's [docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-
    # template-anatomy-globals.html "Overridable"; samtranslator/plugins/globals/globals.py _merge_lists].
    merged = dict(globals_)
    for key, value in props.items():
        old = merged.get(key)
        if isinstance(old, list) and isinstance(value, list):
            merged[key] = [*old, *value]
        elif isinstance(old, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = _with_globals(old, value)  # maps merge all the way down (Environment.Variables)
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _function(
    kind: str, props: Mapping[str, Any], resource: Mapping[str, Any], *, root: Path, resolver: Resolver, where: str
) -> dict[str, Any] | None:
    where = f"{where}.Properties"
    if resolver.resolve(props.get("PackageType", "Zip"), f"{where}.PackageType") == "Image":
        raise _image_error(resource, f"{resolver.file}: {where}")
    code_key = CODE_PROPERTY[kind]
    code = props.get(code_key)
    if kind == LAMBDA_FUNCTION and isinstance(code, dict) and "ZipFile" in code:
        return None  # inline code: CloudFormation zips it itself
    if kind == SERVERLESS_FUNCTION and "InlineCode" in props:
        return None
    source = _code_dir(resolver.resolve(code, f"{where}.{code_key}"), root, f"{where}.{code_key}", resolver.file)
    runtime = _required(props, "Runtime", resolver, where)
    entry: dict[str, Any] = {
        "source": source,
        "runtime": runtime,
        "handler": _required(props, "Handler", resolver, where),
        "layer_refs": [_ref_of(layer) for layer in props.get("Layers") or []],
    }
    _add_target(entry, props.get("Architectures"), resolver, f"{where}.Architectures")
    _add_manifest(entry, root / source, runtime)
    environment = _environment(props.get("Environment"), resolver, f"{where}.Environment.Variables")
    if environment:
        entry["environment"] = environment
    build_method = (resource.get("Metadata") or {}).get("BuildMethod")
    if build_method in ("makefile", "esbuild"):
        raise ConfigError(
            f"{resolver.file}: {where[: -len('.Properties')]}.Metadata.BuildMethod: {build_method} builds are "
            "SAM's own: lpack packs the code directory and its dependencies as they are",
            hint="remove Metadata.BuildMethod to build it with lpack, or build this function with sam build",
        )
    return entry


def _layer(resource: Mapping[str, Any], root: Path, resolver: Resolver, where: str) -> dict[str, Any]:
    props = resource.get("Properties") or {}
    metadata = resource.get("Metadata") or {}
    content = resolver.resolve(props.get("ContentUri"), f"{where}.Properties.ContentUri")
    source = _code_dir(content, root, f"{where}.Properties.ContentUri", resolver.file)
    compatible = resolver.resolve(props.get("CompatibleRuntimes") or [], f"{where}.Properties.CompatibleRuntimes")
    method = metadata.get("BuildMethod")
    entry: dict[str, Any] = {"source": source}
    if compatible:
        entry["compatible-runtimes"] = list(compatible)
    # BuildMethod names the runtime SAM builds the layer for ("python3.12"); without one SAM zips ContentUri
    # as it is, which lpack's "prebuilt" kind does.
    runtime = method if method in runtimes.RUNTIMES or method in lifecycle.RETIRED else None
    if method in (None, "makefile") and not compatible:
        raise ConfigError(
            f"{resolver.file}: {where}: a layer without Metadata.BuildMethod or CompatibleRuntimes",
            hint='add Metadata: { BuildMethod: "python3.12" } (the runtime to build it for)',
        )
    entry["runtime"] = runtime or compatible[0]
    if runtime is None:
        entry["kind"] = "prebuilt"
    architecture = metadata.get("BuildArchitecture") or (props.get("CompatibleArchitectures") or [None])[0]
    if architecture:
        entry["architecture"] = resolver.resolve(architecture, f"{where}.Properties.CompatibleArchitectures")
    if runtime is not None:
        _add_manifest(entry, root / source, runtime)
    return entry


def _image_error(resource: Mapping[str, Any], where: str) -> ConfigError:
    dockerfile = (resource.get("Metadata") or {}).get("Dockerfile")
    what = f"PackageType Image built from {dockerfile}" if dockerfile else "PackageType Image"
    return ConfigError(
        f"{where}.PackageType: {what}: lpack does not run Dockerfiles",
        hint='build it with format = "image" and base = "public.ecr.aws/lambda/python:3.12" (the base its '
        "Dockerfile starts FROM) in an lpack.toml for its code directory, or keep sam build for it",
    )


def _code_dir(value: Any, root: Path, where: str, file: str) -> str:
    # A local directory; an S3 location is code someone already built.
    if value is None:
        raise ConfigError(f"{file}: {where}: missing", hint="give the function's code directory")
    if not isinstance(value, str) or value.startswith("s3://"):
        raise ConfigError(
            f"{file}: {where}: {value!r} is already-built code in S3, not a directory lpack can build",
            hint="point it at the code directory",
        )
    if not (root / value).is_dir():
        raise ConfigError(f"{file}: {where}: {value} is not a directory next to the template", hint="fix the path")
    return Path(value).as_posix()


def _required(props: Mapping[str, Any], key: str, resolver: Resolver, where: str) -> str:
    value = resolver.resolve(props.get(key), f"{where}.{key}")
    if not isinstance(value, str):
        raise ConfigError(f"{resolver.file}: {where}.{key}: missing (here or in Globals.Function)", hint=f"set {key}")
    return value


def _add_target(entry: dict[str, Any], value: Any, resolver: Resolver, where: str) -> None:
    arches = resolver.resolve(value, where) if value is not None else []
    if not isinstance(arches, list) or len(arches) > 1:
        raise ConfigError(f"{resolver.file}: {where}: Lambda takes one architecture", hint="x86_64 or arm64")
    if arches:
        entry["architecture"] = arches[0]


def _add_manifest(entry: dict[str, Any], code: Path, runtime: str) -> None:
    # Where sam build looks: requirements.txt for Python, package.json for Node.js, in the code directory.
    name = "package.json" if runtime.startswith("nodejs") else "requirements.txt"
    if (code / name).is_file():
        entry["requirements"] = (Path(entry["source"]) / name).as_posix()


def _environment(value: Any, resolver: Resolver, where: str) -> dict[str, str]:
    # Only for `build --verify`, which imports the handler with them: a variable known only at deploy (a
    # table's name from !Ref Table) is left out rather than failing the build; verify then names it if the
    # handler reads it at import.
    variables = value.get("Variables") if isinstance(value, dict) else None
    found: dict[str, str] = {}
    for key, raw in (variables or {}).items() if isinstance(variables, dict) else ():
        try:
            resolved = resolver.resolve(raw, f"{where}.{key}")
        except ConfigError:
            continue
        if isinstance(resolved, bool):  # YAML's true: CloudFormation passes the text
            found[str(key)] = "true" if resolved else "false"
        elif isinstance(resolved, (str, int, float)):
            found[str(key)] = str(resolved)
    return found


def _ref_of(layer: Any) -> str | None:
    return layer["Ref"] if isinstance(layer, dict) and isinstance(layer.get("Ref"), str) else None
