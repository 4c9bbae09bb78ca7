"""`lpack verify` runs the artifact's code without network where the system offers bwrap or unshare."""

from __future__ import annotations

import json
import socket
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lpack.tools.sandbox import network_isolation
from tests.integration._helpers import lpack

PY = f"python3.{sys.version_info[1]}"
_HANDLER = """
import socket

def handler(event, context):
    try:
        socket.create_connection(("127.0.0.1", event["port"]), timeout=2).close()
        return {"connected": True}
    except OSError as err:
        return {"connected": False, "error": type(err).__name__}
"""
needs_isolation = pytest.mark.skipif(
    network_isolation().name == "none", reason="neither bwrap nor unshare can make a network namespace here"
)


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def _verify(tmp_path: Path, port: int, *extra: str) -> dict[str, object]:
    artifact = tmp_path / "fn.zip"
    with zipfile.ZipFile(artifact, "w") as zf:
        zf.writestr("app.py", _HANDLER)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"port": port}))
    args = ["verify", "--runtime", PY, "--python", sys.executable, "--handler", "app.handler"]
    result = lpack(*args, "--event", event, "--json", *extra, artifact)
    assert result.exit_code == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


@needs_isolation
def test_the_handler_cannot_reach_a_port_on_this_machine(tmp_path: Path, listener: int) -> None:
    report = _verify(tmp_path, listener)
    assert report["isolation"] == network_isolation().name
    assert report["result"] == {"connected": False, "error": "OSError"}


@needs_isolation
def test_network_lets_it_through_and_says_so(tmp_path: Path, listener: int) -> None:
    report = _verify(tmp_path, listener, "--network")  # the same port is reachable: the test above means something
    assert report["isolation"] == "none"
    assert report["result"] == {"connected": True}


def test_verify_help_says_it_runs_the_artifacts_code() -> None:
    text = " ".join(lpack("verify", "--help").stdout.split())
    assert "RUNS THE ARTIFACT'S CODE" in text and "without network" in text
