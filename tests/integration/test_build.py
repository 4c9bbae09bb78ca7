"""End to end with real uv/pip installing from the offline wheelhouse in fixtures/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from lpack.bytecode import find_interpreter
from tests.conftest import MakeProject, copy_project
from tests.integration._helpers import (
    EM_AARCH64,
    EM_X86_64,
    build_json,
    elf_machines,
    lpack,
    lpack_subprocess,
    names,
    unzip_read_only,
)

PY312 = find_interpreter((3, 12))
needs_py312 = pytest.mark.skipif(PY312 is None, reason="no python3.12 on this machine to import the handler")

# Runs inside the target interpreter as Lambda's bootstrap would: task root first on sys.path, -I.
_INVOKE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
module_name, _, func = sys.argv[2].rpartition(".")
module = __import__(module_name, fromlist=[func])
result = getattr(module, func)({"ping": 1}, None)
print(json.dumps({"result": result, "code_file": module.__spec__.cached}))
"""


def test_bundled_example_builds_reports_and_imports_read_only(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    report = build_json(root)
    [artifact] = report["artifacts"]
    zip_path = Path(artifact["path"])
    assert zip_path == root / "dist" / "hello.zip" and zip_path.is_file()
    assert (artifact["runtime"], artifact["architecture"], artifact["kind"]) == ("python3.12", "arm64", "zip")
    assert artifact["files"] == len([n for n in names(zip_path) if not n.endswith("/")])
    assert artifact["zipped_bytes"] == zip_path.stat().st_size
    subprocess.run(["unzip", "-tq", str(zip_path)], check=True)
    if PY312 is None:
        pytest.skip("no python3.12 to import the handler with")
    task = unzip_read_only(zip_path, tmp_path / "task")
    # Spoil the sources: unchecked-hash pyc must be used as they are, so the import still works.
    for source in (task / "app.py", task / "lp_pure_a" / "__init__.py"):
        source.chmod(0o644)
        source.write_text("raise ImportError('the source was compiled instead of the shipped pyc')\n")
    before = sorted(p.relative_to(task) for p in task.rglob("*"))
    proc = subprocess.run(
        [PY312, "-I", "-c", _INVOKE, str(task), "app.handler"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["result"] == {"greeting": "a+b", "arch": "aarch64", "event": {"ping": 1}}
    assert out["code_file"].endswith("__pycache__/app.cpython-312.pyc")
    assert sorted(p.relative_to(task) for p in task.rglob("*")) == before  # nothing compiled at run time


def test_arm64_build_on_x86_64_host_has_only_aarch64_elf(project: MakeProject) -> None:
    root = project("hello")
    report = build_json(root)
    machines = elf_machines(Path(report["artifacts"][0]["path"]))
    assert machines, "the fixture's native wheel should put an ELF file into the zip"
    assert set(machines.values()) == {EM_AARCH64}, machines


def test_same_project_for_x86_64_gets_the_x86_64_wheel(project: MakeProject) -> None:
    root = project("hello")
    report = build_json(root, "--arch", "x86_64")
    assert set(elf_machines(Path(report["artifacts"][0]["path"])).values()) == {EM_X86_64}


def _copy_reversed(src: Path, dest: Path) -> None:
    """The same files, created in the opposite order with other mtimes."""
    files = sorted(p for p in src.rglob("*") if p.is_file())
    for i, path in enumerate(reversed(files)):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        stamp = 1_000_000_000 + i * 86_400
        os.utime(target, (stamp, stamp))


def test_rebuilds_are_byte_identical_across_umask_tz_paths_and_file_order(tmp_path: Path) -> None:
    first = copy_project("with-tests-dir", tmp_path / "a")
    second = tmp_path / "elsewhere" / "deeper" / "with-tests-dir"
    _copy_reversed(first, second)
    # Separate caches: each build installs, compiles and compresses everything itself.
    one = lpack_subprocess("build", first, env={"TZ": "UTC", "LPACK_CACHE_DIR": str(tmp_path / "c1")}, umask=0o022)
    assert one.returncode == 0, one.stderr
    time.sleep(2)  # a clock tick that a timestamp leak would show
    env = {"TZ": "Pacific/Chatham", "LPACK_CACHE_DIR": str(tmp_path / "c2")}
    two = lpack_subprocess("build", second, env=env, umask=0o077)
    assert two.returncode == 0, two.stderr
    zip_a, zip_b = first / "dist" / "with-tests-dir.zip", second / "dist" / "with-tests-dir.zip"
    with zipfile.ZipFile(zip_a) as a, zipfile.ZipFile(zip_b) as b:
        assert a.namelist() == b.namelist()
        for info_a, info_b in zip(a.infolist(), b.infolist(), strict=True):
            assert (info_a.external_attr, info_a.date_time) == (info_b.external_attr, info_b.date_time), info_a.filename
            assert a.read(info_a) == b.read(info_b), info_a.filename
    assert zip_a.read_bytes() == zip_b.read_bytes()


def test_modes_and_dates_are_normalized(project: MakeProject) -> None:
    root = project("hello")
    zip_path = Path(build_json(root)["artifacts"][0]["path"])
    with zipfile.ZipFile(zip_path) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        dates = {i.date_time for i in zf.infolist()}
        assert all(i.create_system == 3 and not i.extra for i in zf.infolist())
    assert dates == {(1980, 1, 1, 0, 0, 0)}
    assert modes["app.py"] == 0o644 and modes["lp_pure_a/"] == 0o755
    assert modes["bin/lp-a"] == 0o755
    plain = {m for n, m in modes.items() if not n.endswith(("/", ".so")) and not n.startswith("bin/")}
    assert plain == {0o644}


def test_source_date_epoch_sets_every_entry_date(project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z
    zip_path = Path(build_json(project("no-deps"))["artifacts"][0]["path"])
    with zipfile.ZipFile(zip_path) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_glibc_228_only_dependency_for_python311_fails_with_the_way_out(project: MakeProject) -> None:
    root = project("manylinux-2-28-only")
    result = lpack("build", root)
    assert result.exit_code == 1
    message = result.stderr
    assert "lp-new-glibc" in message and "python3.11/x86_64" in message
    assert "manylinux_2_28_x86_64" in message  # the tags it offers
    assert 'runtime = "python3.12"' in message  # the nearest runtime that works
    assert not (root / "dist").exists()


def test_config_typo_suggests_the_key(project: MakeProject) -> None:
    result = lpack("build", project("config-typo"))
    assert result.exit_code == 2
    assert 'lpack.toml: runtme: unknown key; did you mean "runtime"?' in result.stderr


def test_over_budget_exits_3_writes_nothing_and_shows_what_is_big(project: MakeProject, tmp_path: Path) -> None:
    root = project("over-budget")
    report_file = tmp_path / "report.json"
    result = lpack("build", root, "--report", report_file)
    assert result.exit_code == 3
    assert "budget max-unzipped" in result.stderr and "lp-pure-a" in result.stderr
    assert not list((root / "dist").glob("*.zip")) and not list((root / "dist").glob(".*tmp"))
    report = json.loads(report_file.read_text())
    assert report["error"]["exit_code"] == 3
    assert report["error"]["size"]["largest"][0]["name"] == "lp-pure-a"


def test_sources_skip_secrets_and_project_tests_and_pruner_keeps_imported_tests(project: MakeProject) -> None:
    root = project("with-tests-dir")
    result = lpack("build", root)
    assert result.exit_code == 0, result.output
    listed = set(names(root / "dist" / "with-tests-dir.zip"))
    assert {"app.py", "lib/util.py", "lp_keeps_tests/tests/helpers.py", "lp_pure_a/examples/demo.py"} <= listed
    leaked = {".env", "server.pem", "tests/test_app.py", "scratch/tmp.py", "lib/notes.txt", "lpack.toml"} & listed
    assert not leaked
    pruned = {
        "lp_pure_a/tests/test_core.py",
        "lp_pure_a/__init__.pyi",
        "lp_pure_a/_speedups.c",
        "lp_pure_a/docs/guide.rst",
        "lp_pure_a-1.0.dist-info/RECORD",
    }
    assert not pruned & listed
    assert "lp_pure_a-1.0.dist-info/METADATA" in listed and "lp_pure_a-1.0.dist-info/entry_points.txt" in listed
    assert ".env" in result.stderr and "server.pem" in result.stderr  # named in the warning


def test_exclude_runtime_provided_is_transitive_and_keeps_shared_deps(project: MakeProject) -> None:
    root = project("exclude-runtime-provided")
    report = build_json(root)
    tops = {n.split("/")[0] for n in names(Path(report["artifacts"][0]["path"]))}
    assert not {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py"} & tops
    assert {"urllib3", "lp_uses_urllib3"} <= tops
    rules = {r["rule"]: r for r in report["pruned"]["exclude-runtime-provided"]["rules"]}
    assert rules["runtime-provided packages"]["files"] > 0


def test_pure_sdist_is_built_for_a_foreign_target(project: MakeProject) -> None:
    report = build_json(project("sdist-pure"))
    assert "lp_sdist_pure/__init__.py" in names(Path(report["artifacts"][0]["path"]))


def test_native_sdist_for_a_foreign_target_is_a_clear_error(project: MakeProject) -> None:
    root = project("sdist-native")
    result = lpack("build", root)
    assert result.exit_code == 1
    assert "lp-sdist-native" in result.stderr and "native code" in result.stderr
    assert "requirements.in" in result.stderr
    assert not (root / "dist").exists()


def test_requirements_in_is_locked_with_hashes(project: MakeProject) -> None:
    report = build_json(project("exclude-runtime-provided"))
    assert any("locked requirements.in with hashes" in n for n in report["artifacts"][0]["notes"])


def test_project_with_build_backend_is_built_to_a_wheel(project: MakeProject) -> None:
    report = build_json(project("project-wheel"))
    listed = names(Path(report["artifacts"][0]["path"]))
    assert "myfunc/handler.py" in listed and "myfunc-0.3.dist-info/METADATA" in listed
    assert "lp_pure_a/__init__.py" in listed  # its dependency, locked and installed
    assert "pyproject.toml" not in listed and "lp_backend.py" not in listed  # the wheel, not the checkout


def test_several_functions_from_one_config(project: MakeProject) -> None:
    root = project("multi-function")
    report = build_json(root)
    by_name = {a["name"]: a for a in report["artifacts"]}
    assert set(by_name) == {"api", "worker"}
    assert (by_name["worker"]["runtime"], by_name["worker"]["architecture"]) == ("python3.13", "arm64")
    assert "__pycache__/worker.cpython-313.pyc" in names(Path(by_name["worker"]["path"]))
    assert "__pycache__/api.cpython-312.pyc" in names(Path(by_name["api"]["path"]))
    only = build_json(root, "--function", "worker")
    assert [a["name"] for a in only["artifacts"]] == ["worker"]


def test_bytecode_none_ships_no_pyc(project: MakeProject) -> None:
    root = project("no-deps")
    config = root / "lpack.toml"
    config.write_text(config.read_text() + 'bytecode = "none"\n')
    listed = names(Path(build_json(root)["artifacts"][0]["path"]))
    assert listed == ["handler.py"]


def test_pip_installer_gives_the_same_files_as_uv(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    uv_zip = Path(build_json(root, "--out", tmp_path / "uv")["artifacts"][0]["path"])
    pip_report = build_json(root, "--installer", "pip", "--out", tmp_path / "pip")
    assert pip_report["artifacts"][0]["installer"] == "pip"
    pip_zip = Path(pip_report["artifacts"][0]["path"])
    # Console-script launchers differ in wording between installers; the packages must not.
    assert [n for n in names(uv_zip) if not n.startswith("bin/")] == [
        n for n in names(pip_zip) if not n.startswith("bin/")
    ]
    assert elf_machines(pip_zip) == elf_machines(uv_zip)


@needs_py312
def test_a_pruned_tree_still_imports_every_package(project: MakeProject, tmp_path: Path) -> None:
    root = project("with-tests-dir")
    zip_path = Path(build_json(root)["artifacts"][0]["path"])
    task = unzip_read_only(zip_path, tmp_path / "task")
    assert PY312 is not None
    proc = subprocess.run(
        [PY312, "-I", "-c", _INVOKE, str(task), "app.handler"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == ["a+b", 42, 4]


def test_al2_wheel_between_uv_levels_falls_back_to_pip(project: MakeProject) -> None:
    # manylinux_2_24 fits python3.11 (glibc 2.26); uv knows only 2_17 below 2_28, pip gets every level.
    report = build_json(project("al2-glibc-224"))
    [artifact] = report["artifacts"]
    assert artifact["installer"] == "pip"
    assert any("pip for manylinux_2_26" in note for note in artifact["notes"])
    assert set(elf_machines(Path(artifact["path"])).values()) == {EM_AARCH64}


def test_python_template_builds(tmp_path: Path) -> None:
    root = tmp_path / "my-function"
    shutil.copytree(Path(__file__).resolve().parents[2] / "templates" / "python", root)
    report = build_json(root)
    assert names(Path(report["artifacts"][0]["path"]))[:2] == ["__pycache__/", "__pycache__/app.cpython-312.pyc"]


def test_syntax_error_in_the_functions_code_fails_naming_file_and_line(project: MakeProject) -> None:
    root = project("no-deps")
    (root / "helpers.py").write_text("def helper(:\n    return 1\n")
    result = lpack("build", root)
    assert result.exit_code == 1, result.output
    assert "error: " in result.stderr and "helpers.py, line 1" in result.stderr
    assert not list((root / "dist").glob("*.zip"))  # nothing written


_ORIGINS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import app, lp_pure_a
print(json.dumps({"result": app.handler({}, None), "app": app.__spec__.cached, "dep": lp_pure_a.__file__}))
"""


@needs_py312
def test_bytecode_only_ships_dependencies_sourceless_and_they_import(project: MakeProject, tmp_path: Path) -> None:
    root = project("with-tests-dir")
    config = root / "lpack.toml"
    config.write_text(
        config.read_text().replace('handler = "app.handler"\n', 'handler = "app.handler"\nbytecode = "only"\n')
    )
    listed = names(Path(build_json(root)["artifacts"][0]["path"]))
    assert "lp_pure_a/__init__.pyc" in listed and "lp_pure_a/__init__.py" not in listed
    assert not [n for n in listed if n.startswith("lp_pure_a/") and "__pycache__" in n]
    # The function's own code keeps its source, and its pyc where the runtime looks for it.
    assert {"app.py", "__pycache__/app.cpython-312.pyc", "lib/util.py"} <= set(listed)
    task = unzip_read_only(Path(build_json(root)["artifacts"][0]["path"]), tmp_path / "task")
    assert PY312 is not None
    before = sorted(task.rglob("*"))
    proc = subprocess.run([PY312, "-I", "-c", _ORIGINS, str(task)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["result"] == ["a+b", 42, 4]
    assert out["app"].endswith("__pycache__/app.cpython-312.pyc") and out["dep"].endswith("lp_pure_a/__init__.pyc")
    assert sorted(task.rglob("*")) == before
