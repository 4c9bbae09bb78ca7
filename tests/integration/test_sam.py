"""`lpack build --sam-template`: a SAM app built with real uv from the offline wheelhouse, written to
.aws-sam/build as `sam build` leaves it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from uv import find_uv_bin

from lpack.cli.report import SCHEMA_PATH
from lpack.config.intrinsics import load_template
from lpack.config.sam import read_sam
from tests.conftest import WHEELS, MakeProject
from tests.integration._helpers import build_json, lpack
from tests.integration._servers import Moto, client

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


@pytest.fixture(scope="session")
def sam_cli(request: pytest.FixtureRequest) -> Path:
    # The real aws-sam-cli from the package index, in its own environment (its pins are not lpack's), kept in
    # pytest's cache between runs.
    env_dir = Path(request.config.cache.mkdir("aws-sam-cli"))
    sam = env_dir / "bin" / "sam"
    if not sam.is_file():
        uv = find_uv_bin()
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(env_dir)], check=True)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(env_dir / "bin" / "python"), "aws-sam-cli"], check=True
        )
    return sam


@pytest.mark.network
def test_sam_package_uploads_the_files_lpack_built(
    project: MakeProject, sam_cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("sam-app")
    report = json.loads(lpack("build", "--sam-template", root / "template.yaml", "--json", *_OFFLINE).stdout)
    built = {a["name"]: Path(a["path"]) for a in report["artifacts"]}
    server = Moto()
    server.start()
    try:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),  # sam keeps its telemetry settings there
            "SAM_CLI_TELEMETRY": "0",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": server.url,
        }
        for name, value in env.items():
            if name.startswith("AWS_"):
                monkeypatch.setenv(name, value)  # for this test's own client
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        s3 = client("s3", server.url)
        s3.create_bucket(Bucket="sam-artifacts")
        packaged = tmp_path / "packaged.yaml"
        args = ["package", "--template-file", ".aws-sam/build/template.yaml", "--s3-bucket", "sam-artifacts"]
        done = subprocess.run(
            [str(sam_cli), *args, "--output-template-file", str(packaged)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        resources = load_template(packaged)["Resources"]
        for name, artifact in built.items():
            props = resources[name]["Properties"]
            uri = props.get("CodeUri") or props.get("ContentUri") or props["Code"]
            # AWS::Lambda::Function gets {S3Bucket, S3Key}; the SAM types an s3:// URI.
            key = uri["S3Key"] if isinstance(uri, dict) else uri.removeprefix("s3://sam-artifacts/")
            body = s3.get_object(Bucket="sam-artifacts", Key=key)["Body"].read()
            uploaded = tmp_path / f"{name}.zip"
            uploaded.write_bytes(body)
            assert _zip_files(uploaded) == _zip_files(artifact), name
    finally:
        server.stop()


def test_plain_build_in_a_sam_project_points_at_the_template(project: MakeProject) -> None:
    root = project("sam-app")
    result = lpack("build", root)
    assert result.exit_code == 2
    assert "hint: a SAM project: lpack build --sam-template template.yaml" in result.stderr


def test_build_verify_imports_each_handler_with_the_templates_environment(project: MakeProject) -> None:
    # WorldFunction reads TABLE (Globals: !Sub "${Stage}-table") at import; NOTIFY (!Ref AlarmEmail, no
    # Default) is known only at deploy and is left out, which the handler does not need.
    root = project("sam-app")
    args = ("build", "--sam-template", root / "template.yaml", "--verify", "--json", *_OFFLINE)
    result = lpack(*args, "--function", "WorldFunction")
    assert result.exit_code == 0, result.output
    [verified] = json.loads(result.stdout)["verify"]
    assert verified["handler"] == "main.handler"
    table = read_sam(root / "template.yaml").table["functions"]["WorldFunction"]
    assert table["environment"] == {"TABLE": "dev-table"}
