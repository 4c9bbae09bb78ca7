"""`inspect` and `diff` name things as users know them: attrs for attr/, a distribution's *.libs and console
scripts, Node.js zips, and a change of architecture or runtime."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from click.testing import CliRunner

from lpack.cli.commands import main
from lpack.staging.packages import Member, packages
from lpack.tools.diff import diff, load
from tests.conftest import WHEELS


def _meta(name: str, version: str = "1.0") -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


def _owners(files: dict[str, bytes]) -> dict[str, str]:
    members = [Member(path=p, size=len(b)) for p, b in files.items()]
    return {p.name: p.kind for p in packages(members, files.__getitem__)}


def test_attr_numpy_libs_and_console_scripts_belong_to_their_distribution() -> None:
    files = {
        # attrs ships two packages and (built with hatchling) no top_level.txt; RECORD is pruned.
        "attrs-25.1.0.dist-info/METADATA": _meta("attrs", "25.1.0"),
        "attr/__init__.py": b"x" * 10,
        "attrs/__init__.py": b"x" * 10,
        "numpy-2.3.0.dist-info/METADATA": _meta("numpy", "2.3.0"),
        "numpy-2.3.0.dist-info/entry_points.txt": b"[console_scripts]\nf2py = numpy.f2py.f2py2e:main\n",
        "numpy/__init__.py": b"x",
        "numpy.libs/libopenblas64_p-r0.so": b"x" * 100,
        "bin/f2py": b"#!/usr/bin/env python3\n",
        "PyYAML-6.0.dist-info/METADATA": _meta("PyYAML", "6.0"),
        "yaml/__init__.py": b"x",
        "app.py": b"x",
    }
    found = _owners(files)
    assert found == {"attrs": "python", "numpy": "python", "pyyaml": "python", "app.py": "code"}


def test_a_lookalike_directory_is_not_claimed() -> None:
    files = {"attrs-25.1.0.dist-info/METADATA": _meta("attrs"), "attrs/__init__.py": b"x", "tests/t.py": b"x"}
    assert _owners(files)["tests"] == "code"


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_inspect_calls_a_node_zip_nodejs(tmp_path: Path) -> None:
    web = _zip(tmp_path / "web.zip", {"index.mjs": b"export const handler = 1;\n", "package.json": b"{}"})
    result = CliRunner().invoke(main, ["inspect", str(web)])
    assert result.exit_code == 0, result.output
    assert "Node.js" in result.output and "python unknown" not in result.output
    data = json.loads(CliRunner().invoke(main, ["inspect", str(web), "--json"]).stdout)
    assert data["language"] == "node"


def _so(machine: str) -> bytes:
    with zipfile.ZipFile(next(WHEELS.glob(f"lp_native-1.0-*_{machine}.whl"))) as archive:
        return archive.read("lp_native/_native.abi3.so")


def test_diff_reports_a_change_of_architecture_and_runtime(tmp_path: Path) -> None:
    old = _zip(tmp_path / "old.zip", {"m/_x.abi3.so": _so("x86_64"), "__pycache__/app.cpython-311.pyc": b"x"})
    new = _zip(tmp_path / "new.zip", {"m/_x.abi3.so": _so("aarch64"), "__pycache__/app.cpython-312.pyc": b"x"})
    [found] = diff(load(old), load(new))
    assert found.target_changes == ("architecture x86_64 → arm64", "runtime python3.11 → python3.12")
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--json"])
    assert json.loads(result.stdout)["diffs"][0]["target_changes"] == list(found.target_changes)
    same = diff(load(old), load(old))
    assert same[0].target_changes == ()
