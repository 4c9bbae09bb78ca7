"""CloudFormation templates: YAML with the short-form tags (!Ref, !Sub, !GetAtt ...) and the intrinsic functions
a build can resolve without a stack (Ref to parameters, Fn::Sub, Fn::FindInMap, Fn::Join)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lpack.errors import ConfigError


class _CfnLoader(yaml.SafeLoader):
    # SafeLoader plus CloudFormation's tags, as aws-sam-cli and the AWS CLI load templates
    # (samcli/yamlhelper.py, awscli/customizations/cloudformation/yamlhelper.py): `!Ref X` becomes
    # {"Ref": "X"}, `!Sub s` {"Fn::Sub": s}, `!GetAtt A.B` {"Fn::GetAtt": ["A", "B"]}. A subclass, so the
    # shared SafeLoader stays as it is for everyone else.
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if suffix == "GetAtt" and isinstance(node, yaml.ScalarNode):
        value = str(node.value).split(".", 1)
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)
# CloudFormation reads "2010-09-09" and other dates as strings; YAML 1.1 would make them datetime objects.
_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_template(path: Path) -> dict[str, Any]:
    """A CloudFormation/SAM template (YAML or JSON) as plain data, intrinsics in their long form."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"{path.name}: cannot read the template: {err.strerror}", hint="pass a template file"
        ) from None
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_CfnLoader)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path.name}: not a valid template: {err}", hint="check the YAML syntax") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise ConfigError(f"{path.name}: no Resources section", hint="pass a SAM or CloudFormation template")
    return data


class _Dumper(yaml.SafeDumper):
    pass


def _quoted_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Keep account ids and other leading-zero strings strings (aws-sam-cli's string_representer does the same).
    style = "'" if value.startswith("0") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _quoted_str)


def dump_template(data: Mapping[str, Any]) -> str:
    """YAML that CloudFormation and `sam package` read: intrinsics in long form, keys in template order."""
    return yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolver:
    """Resolves what a build needs from parameter defaults (or overrides) and Mappings; names the rest."""

    file: str  # the template's name, for messages
    parameters: Mapping[str, Any]
    mappings: Mapping[str, Any]

    @classmethod
    def of(cls, file: str, template: Mapping[str, Any], overrides: Mapping[str, str]) -> Resolver:
        params: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if name in overrides:
                params[name] = _typed(spec, overrides[name])
            elif isinstance(spec, dict) and "Default" in spec:
                params[name] = _typed(spec, spec["Default"])
        return cls(file=file, parameters=params, mappings=template.get("Mappings") or {})

    def resolve(self, value: Any, where: str) -> Any:
        """`value` with every intrinsic replaced; ConfigError naming `where` for one that cannot be resolved."""
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(key, arg)] = value.items()
            if key == "Ref":
                return self._ref(arg, where)
            if key in ("Fn::Sub", "Fn::FindInMap", "Fn::Join"):
                return self._function(key, arg, where)
            if key.startswith("Fn::") or key == "Condition":
                raise self._error(where, value, f"{key} needs a deployed stack")
        return {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}

    def _function(self, key: str, arg: Any, where: str) -> Any:
        if key == "Fn::Sub":
            return self._sub(arg, where)
        args = self.resolve(arg, where)
        if key == "Fn::Join" and isinstance(args, list) and len(args) == 2 and isinstance(args[1], list):
            return str(args[0]).join(str(a) for a in args[1])
        if key == "Fn::FindInMap" and isinstance(args, list) and len(args) == 3:
            try:
                return self.mappings[args[0]][str(args[1])][str(args[2])]
            except (KeyError, TypeError):
                raise self._error(where, {key: arg}, f"Mappings has no {'.'.join(map(str, args))}") from None
        raise self._error(where, {key: arg}, "malformed")

    def _ref(self, name: Any, where: str) -> Any:
        if isinstance(name, str) and name in self.parameters:
            return self.parameters[name]
        why = "a pseudo parameter, known only when deployed" if str(name).startswith("AWS::") else "no Default"
        raise self._error(where, {"Ref": name}, why)

    def _sub(self, arg: Any, where: str) -> str:
        text, names = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
        if not isinstance(text, str) or not isinstance(names, dict):
            raise self._error(where, {"Fn::Sub": arg}, "malformed")
        local = {k: self.resolve(v, where) for k, v in names.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name:  # ${Resource.Attribute}: a Fn::GetAtt
                raise self._error(where, {"Fn::Sub": arg}, f"${{{name}}} is known only when deployed")
            return str(self._ref(name, where))

        return _SUB.sub(one, text).replace("${!", "${")

    def _error(self, where: str, value: Any, why: str) -> ConfigError:
        shown = json.dumps(value, default=str)
        return ConfigError(
            f"{self.file}: {where}: cannot resolve {shown}" + (f" ({why})" if why else ""),
            hint="give the parameter a Default or pass --parameter NAME=VALUE, or write the value itself",
        )


def _typed(spec: Any, value: Any) -> Any:
    # Ref to a list parameter is a list; to any other, a string (CloudFormation passes numbers as strings).
    kind = str(spec.get("Type", "String")) if isinstance(spec, dict) else "String"
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [part.strip() for part in str(value).split(",")]
    return str(value)
