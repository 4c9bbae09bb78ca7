"""SAM and CloudFormation templates: the short-form tags, the intrinsics lpack resolves without a stack, and the
lpack table a template becomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lpack.config.intrinsics import Resolver, dump_template, load_template
from lpack.config.sam import read_sam
from lpack.errors import ConfigError

_TAGS = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      A: !Ref Param
      B: !Sub "${Stage}-x"
      C: !GetAtt Role.Arn
      D: !FindInMap [Map, !Ref Stage, Key]
      E: !Join ["-", [a, !Ref Stage]]
      F: !If [Cond, a, b]
      G: 2024-01-01
"""


def _write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_short_form_tags_load_as_the_long_form(tmp_path: Path) -> None:
    props = load_template(_write(tmp_path, _TAGS))["Resources"]["Fn"]["Properties"]
    assert props["A"] == {"Ref": "Param"}
    assert props["B"] == {"Fn::Sub": "${Stage}-x"}
    assert props["C"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert props["D"] == {"Fn::FindInMap": ["Map", {"Ref": "Stage"}, "Key"]}
    assert props["E"] == {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}
    assert props["F"] == {"Fn::If": ["Cond", "a", "b"]}
    assert props["G"] == "2024-01-01"  # a string, as CloudFormation reads it


def test_the_shared_safe_loader_is_left_alone(tmp_path: Path) -> None:
    import yaml  # noqa: PLC0415 - only this test looks at yaml itself

    load_template(_write(tmp_path, _TAGS))
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("a: !Ref B")


def test_the_dump_reloads_to_the_same_data(tmp_path: Path) -> None:
    data = load_template(_write(tmp_path, _TAGS))
    data["Resources"]["Fn"]["Properties"]["H"] = "0123456789"  # an account id stays a string
    again = load_template(_write(tmp_path, dump_template(data), "again.yaml"))
    assert again == data


def test_json_templates_load_too(tmp_path: Path) -> None:
    data = load_template(_write(tmp_path, '{"Resources": {"X": {"Type": "AWS::S3::Bucket"}}}', "t.json"))
    assert data["Resources"]["X"]["Type"] == "AWS::S3::Bucket"


@pytest.mark.parametrize(
    ("text", "message"),
    [("Resources: [", "not a valid template"), ("Description: x\n", "no Resources section")],
)
def test_bad_templates_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_template(_write(tmp_path, text))
    assert str(caught.value).startswith("template.yaml: ")


_RESOLVER_TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "Size": {"Type": "Number", "Default": 3},
        "Subnets": {"Type": "CommaDelimitedList", "Default": "a, b"},
        "NoDefault": {"Type": "String"},
    },
    "Mappings": {"Map": {"dev": {"Arch": "arm64"}}},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Size"}, "3"),
        ({"Ref": "Subnets"}, ["a", "b"]),
        ({"Fn::Sub": "${Stage}-${Size}-${!Literal}"}, "dev-3-${Literal}"),
        ({"Fn::Sub": ["${Name}.py", {"Name": {"Ref": "Stage"}}]}, "dev.py"),
        ({"Fn::FindInMap": ["Map", {"Ref": "Stage"}, "Arch"]}, "arm64"),
        ({"Fn::Join": ["/", ["src", {"Ref": "Stage"}]]}, "src/dev"),
        ([{"Ref": "Stage"}, "x"], ["dev", "x"]),
        ({"Variables": {"A": {"Ref": "Stage"}}}, {"Variables": {"A": "dev"}}),
    ],
)
def test_intrinsics_resolve_from_defaults_and_mappings(value: Any, expected: Any) -> None:
    assert Resolver.of("t.yaml", _RESOLVER_TEMPLATE, {}).resolve(value, "X") == expected


def test_a_parameter_given_wins_over_its_default() -> None:
    resolver = Resolver.of("t.yaml", _RESOLVER_TEMPLATE, {"Stage": "prod", "NoDefault": "v"})
    assert resolver.resolve({"Fn::Sub": "${Stage}/${NoDefault}"}, "X") == "prod/v"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({"Ref": "NoDefault"}, "no Default"),
        ({"Ref": "AWS::Region"}, "pseudo parameter"),
        ({"Fn::Sub": "${AWS::AccountId}-x"}, "pseudo parameter"),
        ({"Fn::Sub": "${Role.Arn}"}, "${Role.Arn} is known only when deployed"),
        ({"Fn::GetAtt": ["Role", "Arn"]}, "Fn::GetAtt needs a deployed stack"),
        ({"Fn::FindInMap": ["Map", "prod", "Arch"]}, "Mappings has no Map.prod.Arch"),
    ],
)
def test_what_cannot_be_resolved_is_named_with_its_property(value: Any, why: str) -> None:
    resolver = Resolver.of("t.yaml", _RESOLVER_TEMPLATE, {})
    with pytest.raises(ConfigError) as caught:
        resolver.resolve(value, "Resources.Fn.Properties.Runtime")
    assert str(caught.value).startswith("t.yaml: Resources.Fn.Properties.Runtime: cannot resolve ")
    assert why in str(caught.value)
    assert caught.value.exit_code == 2


# --- templates into lpack tables ------------------------------------------------------------------------------


def _sam(tmp_path: Path, resources: str, *, globals_: str = "", dirs: tuple[str, ...] = ("src",)) -> Path:
    for name in dirs:
        (tmp_path / name).mkdir(exist_ok=True)
    text = "Transform: AWS::Serverless-2016-10-31\n" + globals_ + "Resources:\n" + resources
    return _write(tmp_path, text)


def test_globals_fill_in_and_the_resource_wins(tmp_path: Path) -> None:
    globals_ = "Globals:\n  Function:\n    Runtime: python3.11\n    Handler: app.handler\n    Architectures: [arm64]\n"
    resources = (
        "  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n"
        "  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Runtime: python3.13\n"
    )
    table = read_sam(_sam(tmp_path, resources, globals_=globals_)).table["functions"]
    assert table["A"] == {"source": "src", "runtime": "python3.11", "handler": "app.handler", "architecture": "arm64"}
    assert table["B"]["runtime"] == "python3.13"


def test_the_manifest_sam_build_uses_becomes_requirements(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "requirements.txt").write_text("x==1\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "package.json").write_text("{}")
    resources = (
        "  Py:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: src\n      Runtime: python3.12\n      Handler: app.handler\n"
        "  Js:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: web\n      Runtime: nodejs22.x\n      Handler: index.handler\n"
    )
    table = read_sam(_sam(tmp_path, resources)).table["functions"]
    assert table["Py"]["requirements"] == "src/requirements.txt"
    assert table["Js"]["requirements"] == "web/package.json"


def test_a_layer_with_a_build_method_and_one_without(tmp_path: Path) -> None:
    resources = (
        "  Built:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: src\n"
        "      CompatibleRuntimes: [python3.12, python3.13]\n    Metadata:\n      BuildMethod: python3.12\n"
        "  AsIs:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: src\n"
        "      CompatibleRuntimes: [python3.13]\n      CompatibleArchitectures: [arm64]\n"
    )
    layers = read_sam(_sam(tmp_path, resources)).table["layers"]
    assert layers["Built"] == {
        "source": "src",
        "compatible-runtimes": ["python3.12", "python3.13"],
        "runtime": "python3.12",
    }
    assert layers["AsIs"]["kind"] == "prebuilt"
    assert (layers["AsIs"]["runtime"], layers["AsIs"]["architecture"]) == ("python3.13", "arm64")


def test_inline_code_is_left_to_cloudformation(tmp_path: Path) -> None:
    resources = (
        "  Inline:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code:\n        ZipFile: x\n"
        "      Runtime: python3.12\n      Handler: index.handler\n"
        "  Plain:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code: src\n"
        "      Runtime: python3.12\n      Handler: index.handler\n"
    )
    template = read_sam(_sam(tmp_path, resources))
    assert template.built == ("Plain",)


@pytest.mark.parametrize(
    ("properties", "metadata", "message", "hint"),
    [
        ("PackageType: Image", "Dockerfile: Dockerfile", "PackageType Image built from Dockerfile", 'format = "image"'),
        ("CodeUri: s3://bucket/code.zip", "", "already-built code in S3", "code directory"),
        ("CodeUri: missing", "", "missing is not a directory next to the template", "fix the path"),
        ("CodeUri: src\n      Runtime: !Ref AWS::Region", "", "Properties.Runtime: cannot resolve", "Default"),
        ("CodeUri: src\n      Runtime: python3.12", "", "Properties.Handler: missing", "Handler"),
        (
            "CodeUri: src\n      Runtime: nodejs22.x\n      Handler: a.b",
            "BuildMethod: esbuild",
            "esbuild builds",
            "sam",
        ),
    ],
)
def test_what_lpack_cannot_build_is_a_clear_error(
    tmp_path: Path, properties: str, metadata: str, message: str, hint: str
) -> None:
    resources = f"  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      {properties}\n"
    if metadata:
        resources += f"    Metadata:\n      {metadata}\n"
    with pytest.raises(ConfigError) as caught:
        read_sam(_sam(tmp_path, resources))
    assert str(caught.value).startswith("template.yaml: Resources.Fn")
    assert message in str(caught.value)
    assert caught.value.hint is not None and hint in caught.value.hint


def test_a_template_with_nothing_to_build_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no function or layer with code to build"):
        read_sam(_sam(tmp_path, "  B:\n    Type: AWS::S3::Bucket\n"))


def test_environment_variables_merge_with_globals_and_leave_out_what_only_deploy_knows(tmp_path: Path) -> None:
    globals_ = (
        "Globals:\n  Function:\n    Runtime: python3.12\n    Handler: app.handler\n"
        "    Environment:\n      Variables:\n        TABLE: orders\n        DEBUG: true\n"
    )
    resources = (
        "  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n"
        "      Environment:\n        Variables:\n          QUEUE: !Ref Queue\n          STAGE: dev\n"
    )
    table = read_sam(_sam(tmp_path, resources, globals_=globals_)).table["functions"]["A"]
    assert table["environment"] == {"TABLE": "orders", "DEBUG": "true", "STAGE": "dev"}


def test_the_environment_key_in_lpack_toml(tmp_path: Path) -> None:
    from lpack import load_config  # noqa: PLC0415 - the config side of the same key

    (tmp_path / "lpack.toml").write_text(
        'runtime = "python3.12"\nhandler = "app.handler"\n[environment]\nTABLE = "orders"\nA = "1"\n'
    )
    [fn] = load_config(tmp_path).functions
    assert fn.environment == (("A", "1"), ("TABLE", "orders"))
    (tmp_path / "lpack.toml").write_text('runtime = "python3.12"\nhandler = "app.handler"\nenvironment = { N = 1 }\n')
    with pytest.raises(ConfigError, match=r"\[environment\] N: expected a string"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("globals_", "named"), [("Globals: [1]\n", "Globals"), ("Globals:\n  Function: [1]\n", "Function")]
)
def test_globals_that_are_not_a_mapping_are_a_config_error(tmp_path: Path, globals_: str, named: str) -> None:
    text = globals_ + (
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.12\n"
    )
    (tmp_path / "src").mkdir()
    with pytest.raises(ConfigError, match=f"{named} is not a mapping"):
        read_sam(_write(tmp_path, text))


def test_an_env_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    from lpack.tools.verify_env import user_env  # noqa: PLC0415 - verify's helper, tested beside the SAM env keys

    bad = tmp_path / "bad.env"
    bad.write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"bad\.env: not UTF-8"):
        user_env({}, bad)
