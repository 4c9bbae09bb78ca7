"""`lpack verify --env/--env-file`: handlers that read their configuration at import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration._helpers import lpack
from tests.integration.test_verify import NODE_RUNTIME, make_zip, needs_node, needs_py312, one_line

# Reads its configuration at import, as most real handlers do: fails without it.
_HANDLER = """import os
TABLE = os.environ["TABLE_NAME"]
def handler(event, context):
    return {"table": TABLE, "stage": os.environ.get("STAGE"), "region": os.environ["AWS_REGION"]}
"""


def _zip(tmp_path: Path) -> Path:
    return make_zip(tmp_path / "fn.zip", {"app.py": _HANDLER})


def _verify(tmp_path: Path, *extra: str | Path) -> tuple[int, str, str]:
    args = ("verify", _zip(tmp_path), "--handler", "app.handler", "--runtime", "python3.12", *extra)
    result = lpack(*args)
    return result.exit_code, result.stdout, result.stderr


@needs_py312
def test_a_handler_that_needs_its_environment_fails_without_it_and_passes_with_it(tmp_path: Path) -> None:
    code, _, err = _verify(tmp_path)
    assert code == 1
    assert "KeyError: 'TABLE_NAME'" in one_line(err)
    event = tmp_path / "event.json"
    event.write_text("{}")
    code, out, err = _verify(tmp_path, "--env", "TABLE_NAME=orders", "--env", "STAGE=", "--event", event, "--json")
    assert code == 0, err
    assert json.loads(out)["result"] == {"table": "orders", "stage": "", "region": "us-east-1"}


@needs_py312
def test_an_env_file_and_env_over_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('# config\nexport TABLE_NAME="from-file"\nSTAGE=dev\nAWS_REGION=eu-west-1\n')
    event = tmp_path / "event.json"
    event.write_text("{}")
    code, out, err = _verify(tmp_path, "--env-file", env_file, "--env", "STAGE=prod", "--event", event, "--json")
    assert code == 0, err
    assert json.loads(out)["result"] == {"table": "from-file", "stage": "prod", "region": "eu-west-1"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--env", "LAMBDA_TASK_ROOT=/x"), "LAMBDA_TASK_ROOT is reserved"),
        (("--env", "s3cr3t-value"), "--env takes KEY=VALUE"),
        (("--env", "=v"), "is not an environment variable name"),
    ],
)
def test_bad_variables_are_usage_errors_that_never_echo_a_value(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = _verify(tmp_path, *args)
    assert code == 2
    assert message in one_line(err)
    assert "/x" not in err and "s3cr3t" not in err


def test_a_key_without_a_value_in_the_env_file_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("TABLE_NAME\n")
    code, _, err = _verify(tmp_path, "--env-file", env_file)
    assert code == 2
    assert "prod.env: TABLE_NAME has no value" in one_line(err)


@needs_py312
def test_more_than_lambdas_4_kb_of_variables_is_a_warning(tmp_path: Path) -> None:
    code, out, _ = _verify(tmp_path, "--env", "TABLE_NAME=x", "--env", "BIG=" + "y" * 5000, "--json")
    assert code == 0
    assert any("Lambda allows 4096 per function" in w for w in json.loads(out)["warnings"])


@needs_node
def test_a_node_zip_needs_no_runtime(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "web.zip", {"index.mjs": "export const handler = async () => ({ ok: 1 });\n"})
    event = tmp_path / "event.json"
    event.write_text("{}")
    result = lpack("verify", zip_path, "--handler", "index.handler", "--event", event, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["runtime"] == NODE_RUNTIME  # the newest Node.js runtime whose node is here
    assert data["result"] == {"ok": 1}


def test_a_zip_that_is_neither_python_nor_node_still_asks_for_the_runtime(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "x.zip", {"README.txt": "hi"})
    result = lpack("verify", zip_path, "--handler", "index.handler")
    assert result.exit_code == 2
    assert "cannot tell which runtime" in one_line(result.stderr)
