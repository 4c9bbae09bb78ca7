"""A no-change rebuild (issue 15: ≤ 0.25 s) imports only what the reuse decision needs: not the installers' lock
readers, not YAML, not rich when nothing is shown, not the publish or verify tools, not the ELF reader.
A regression guard on what is imported, not a timing test (benchmarks/bench_startup.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import MakeProject

# What `lpack build -q` must not import when the cached result stands in.
NOT_BEFORE_REUSE = (
    "rich",
    "yaml",
    "elftools",
    "jsonschema",
    "zlib_ng",
    "isal",
    "boto3",
    "botocore",
    "docker",
    "urllib.request",
    "packaging.requirements",
    "packaging.markers",
    "packaging.pylock",
    "lpack.config.sam",
    "lpack.resolve.locks.uv",
    "lpack.resolve.locks.poetry",
    "lpack.resolve.locks.pylock",
    "lpack.tools.verify",
    "lpack.publish",
    "lpack.oci.registry",
    "lpack.emit.image",
)


def _build(project: Path, report: Path) -> set[str]:
    """`lpack build -q --report REPORT PROJECT` as the console script runs it, in a fresh interpreter."""
    script = (
        "import json, sys\nfrom lpack.cli import main\ntry:\n"
        f"    main(['build', '-q', '--report', {str(report)!r}, {str(project)!r}])\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_a_no_change_rebuild_imports_nothing_it_does_not_need(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    report = tmp_path / "report.json"
    # The first build installs, audits and deflates: it loads some of them, so the guard below is not vacuous.
    assert {"elftools", "packaging.requirements", "zlib_ng"} <= set(_unneeded(_build(root, report)))
    modules = _build(root, report)
    [artifact] = json.loads(report.read_text())["artifacts"]
    assert artifact["notes"][0] == "reused hello.zip: no input changed"
    assert _unneeded(modules) == []


def _unneeded(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in NOT_BEFORE_REUSE))
