"""The audit inside real builds: uv installing from the offline wheelhouse, then the CLI's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import jsonschema
import pytest

from lpack.bytecode import find_interpreter
from lpack.cli.report import SCHEMA_PATH
from tests.conftest import WHEELS, MakeProject
from tests.integration._helpers import build_json, lpack, names, unzip_read_only

SCHEMA = json.loads(SCHEMA_PATH.read_text())
PY312 = find_interpreter((3, 12))


def test_wheel_whose_tag_lies_about_glibc_is_refused_for_python311(project: MakeProject, tmp_path: Path) -> None:
    root = project("lying-glibc")
    report_file = tmp_path / "report.json"
    result = lpack("build", root, "--report", report_file)
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())  # rich wraps long lines
    assert "would fail on python3.11/x86_64" in err
    assert "lp_lying_glibc/_native.abi3.so (lp-lying-glibc)" in err
    assert "needs GLIBC_2.28, python3.11 has glibc 2.26" in err
    assert "use runtime python3.12 or newer" in err
    assert 'waive = ["elf-glibc:lp_lying_glibc/_native.abi3.so"]' in err
    assert not (root / "dist").exists()
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, SCHEMA)
    [finding] = report["error"]["audit"]
    assert (finding["code"], finding["package"]) == ("elf-glibc", "lp-lying-glibc")


def test_waived_finding_builds_and_stays_in_the_report(project: MakeProject) -> None:
    root = project("lying-glibc")
    config = root / "lpack.toml"
    config.write_text(config.read_text() + 'audit = { waive = ["elf-glibc:lp_lying_glibc/_native.abi3.so"] }\n')
    report = build_json(root)
    jsonschema.validate(report, SCHEMA)
    [artifact] = report["artifacts"]
    [finding] = artifact["audit"]["findings"]
    assert (finding["code"], finding["waived"]) == ("elf-glibc", True)
    assert artifact["audit"]["elf_files"] == 1


def test_elf_facts_remembered_in_the_cache_still_fail_the_build_once_the_waiver_goes(project: MakeProject) -> None:
    root = project("lying-glibc")
    config = root / "lpack.toml"
    plain = config.read_text()
    config.write_text(plain + 'audit = { waive = ["elf-glibc:lp_lying_glibc/_native.abi3.so"] }\n')
    build_json(root)
    [memo] = Path(os.environ["LPACK_CACHE_DIR"]).glob("d*/*/elf.json")  # the .so's facts, kept in its cache entry
    config.write_text(plain)
    result = lpack("build", root)
    assert result.exit_code == 1
    assert "needs GLIBC_2.28, python3.11 has glibc 2.26" in " ".join(result.stderr.split())
    assert memo.is_file()


def test_same_wheel_builds_for_python312(project: MakeProject) -> None:
    [artifact] = build_json(project("lying-glibc"), "--runtime", "python3.12")["artifacts"]
    assert artifact["audit"]["findings"] == []


def test_x86_64_so_in_the_project_sources_fails_an_arm64_build(project: MakeProject) -> None:
    root = project("hello")  # arm64
    with zipfile.ZipFile(WHEELS / "lp_native-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl") as whl:
        (root / "_speedups.cpython-312-x86_64-linux-gnu.so").write_bytes(whl.read("lp_native/_native.abi3.so"))
    result = lpack("build", root)
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert "elf-arch _speedups.cpython-312-x86_64-linux-gnu.so: is built for x86_64" in err
    assert "the function runs on arm64 (aarch64)" in err


def test_nspkg_namespace_imports_from_the_artifact(project: MakeProject, tmp_path: Path) -> None:
    [artifact] = build_json(project("namespace-nspkg"))["artifacts"]
    zip_path = Path(artifact["path"])
    assert not [n for n in names(zip_path) if n.endswith(".pth")]  # Lambda never runs them
    assert "lp_ns/__init__.py" not in names(zip_path)
    assert artifact["audit"]["left_out"] == ["lp_nspkg_a-1.0-py3.11-nspkg.pth", "lp_nspkg_b-1.0-py3.11-nspkg.pth"]
    if PY312 is None:
        pytest.skip("no python3.12 to import the namespace with")
    task = unzip_read_only(zip_path, tmp_path / "task")
    code = f"import sys; sys.path.insert(0, {str(task)!r}); import lp_ns.a, lp_ns.b; print(lp_ns.a.NAME + lp_ns.b.NAME)"
    proc = subprocess.run([PY312, "-I", "-c", code], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "ab"), proc.stderr


def test_inspect_audits_a_built_zip_for_the_runtime_its_bytecode_names(project: MakeProject) -> None:
    zip_path = Path(build_json(project("hello"))["artifacts"][0]["path"])  # python3.12/arm64
    clean = lpack("inspect", zip_path, "--json")
    assert clean.exit_code == 0, clean.stderr
    data = json.loads(clean.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["audit"]["findings"] == [] and data["audit"]["elf_files"] == 1
    wrong = lpack("inspect", zip_path, "--arch", "x86_64", "--json")
    assert wrong.exit_code == 1
    [finding] = json.loads(wrong.stdout)["audit"]["findings"]
    assert (finding["code"], finding["path"], finding["package"]) == (
        "elf-arch",
        "lp_native/_native.abi3.so",
        "lp-native",
    )
