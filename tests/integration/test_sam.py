"""`lpack build --sam-template`: a SAM app built with real uv from the offline wheelhouse, written to
.aws-sam/build as `sam build` leaves it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jsonschema

from lpack.cli.report import SCHEMA_PATH
from lpack.config.intrinsics import load_template
from tests.conftest import WHEELS, MakeProject
from tests.integration._helpers import build_json, lpack

_OFFLINE = ("--no-index", "--find-links", str(WHEELS))


def _zip_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


def _dir_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_sam_template_builds_every_zip_resource_into_aws_sam_build(project: MakeProject) -> None:
    root = project("sam-app")
    result = lpack("build", "--sam-template", root / "template.yaml", "--json", *_OFFLINE)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    built = {a["name"]: Path(a["path"]) for a in report["artifacts"]}
    assert sorted(built) == ["DepsLayer", "HelloFunction", "PlainFunction", "WorldFunction"]
    assert report["sam"]["resources"] == sorted(built)
    build_dir = root / ".aws-sam" / "build"
    # Each directory holds exactly what lpack's zip holds: `sam package` zips these.
    for name, artifact in built.items():
        assert _dir_files(build_dir / name) == _zip_files(artifact), name
    assert "lp_pure_a/__init__.py" in _dir_files(build_dir / "HelloFunction")
    assert "python/lp_native/__init__.py" in _dir_files(build_dir / "DepsLayer")
    # Globals and parameters were resolved: Architectures from a Mapping keyed by a parameter default.
    targets = {a["name"]: a["architecture"] for a in report["artifacts"]}
    assert targets == {
        "DepsLayer": "arm64",
        "HelloFunction": "arm64",
        "WorldFunction": "arm64",
        "PlainFunction": "x86_64",
    }
    # The written template points at the built directories and keeps every intrinsic for CloudFormation.
    written = load_template(build_dir / "template.yaml")
    resources = written["Resources"]
    assert resources["HelloFunction"]["Properties"]["CodeUri"] == "HelloFunction"
    assert resources["DepsLayer"]["Properties"]["ContentUri"] == "DepsLayer"
    assert resources["PlainFunction"]["Properties"]["Code"] == "PlainFunction"
    assert resources["InlineFunction"]["Properties"]["Code"] == {
        "ZipFile": "def handler(event, context):\n    return 1\n"
    }
    assert resources["HelloFunction"]["Properties"]["Layers"][0] == {"Ref": "DepsLayer"}
    assert written["Globals"] == load_template(root / "template.yaml")["Globals"]


def test_a_parameter_on_the_command_line_changes_the_target(project: MakeProject) -> None:
    root = project("sam-app")
    args = ("build", "--sam-template", root / "template.yaml", "--json", "--parameter", "Stage=prod", *_OFFLINE)
    result = lpack(*args, "--function", "WorldFunction")
    assert result.exit_code == 0, result.output
    [artifact] = json.loads(result.stdout)["artifacts"]
    assert artifact["architecture"] == "x86_64"


def test_an_unresolvable_property_fails_before_anything_is_written(project: MakeProject) -> None:
    root = project("sam-app")
    text = (root / "template.yaml").read_text().replace("Runtime: python3.12\n", "Runtime: !Ref AWS::Region\n", 1)
    (root / "template.yaml").write_text(text)
    result = lpack("build", "--sam-template", root / "template.yaml", *_OFFLINE)
    assert result.exit_code == 2
    assert "error: template.yaml: Resources.PlainFunction.Properties.Runtime: cannot resolve" in result.output
    assert "pseudo parameter" in result.output
    assert not (root / ".aws-sam").exists()
    assert not (root / "dist").exists()


def test_init_from_sam_writes_a_config_that_builds_the_same_artifacts(project: MakeProject) -> None:
    root = project("sam-app")
    from_template = json.loads(lpack("build", "--sam-template", root / "template.yaml", "--json", *_OFFLINE).stdout)
    result = lpack("init", "--from-sam", root / "template.yaml")
    assert result.exit_code == 0, result.output
    assert "created lpack.toml" in result.output
    text = (root / "lpack.toml").read_text()
    assert "[functions.HelloFunction]" in text and "[layers.DepsLayer]" in text
    assert "InlineFunction" not in text
    from_config = build_json(root, *_OFFLINE)
    shas = {a["name"]: a["sha256"] for a in from_template["artifacts"]}
    assert {a["name"]: a["sha256"] for a in from_config["artifacts"]} == shas
    again = lpack("init", "--from-sam", root / "template.yaml")
    assert again.exit_code == 2
    assert "lpack.toml: already exists" in again.output


def test_init_from_sam_into_another_directory_rebases_the_paths(project: MakeProject, tmp_path: Path) -> None:
    root = project("sam-app")
    dest = tmp_path / "elsewhere" / "config"
    result = lpack("init", "--from-sam", root / "template.yaml", dest)
    assert result.exit_code == 0, result.output
    text = (dest / "lpack.toml").read_text()
    assert 'source = "../../sam-app/hello"' in text
    assert 'requirements = "../../sam-app/hello/requirements.txt"' in text
