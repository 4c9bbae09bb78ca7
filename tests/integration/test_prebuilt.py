"""kind = "prebuilt": directories other toolchains built, zipped the lpack way."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack, names


def _run_bootstrap(zip_path: Path, tmp_path: Path) -> str:
    task = tmp_path / "task"
    task.mkdir(parents=True)
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(task)], check=True)
    return subprocess.run([str(task / "bootstrap")], capture_output=True, text=True, check=True).stdout


def test_script_bootstrap_gets_0755_and_runs(project: MakeProject, tmp_path: Path) -> None:
    root = project("prebuilt-go")
    assert (root / "build" / "bootstrap").stat().st_mode & 0o111 == 0  # not executable on disk
    report = build_json(root)
    zip_path = Path(report["artifacts"][0]["path"])
    out = subprocess.run(["unzip", "-Z", str(zip_path), "bootstrap"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("-rwxr-xr-x")
    assert _run_bootstrap(zip_path, tmp_path) == "bootstrap ran\n"
    assert names(zip_path) == ["bootstrap", "config.yaml"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to make a native bootstrap")
def test_native_bootstrap_must_match_the_architecture(project: MakeProject, tmp_path: Path) -> None:
    root = project("prebuilt-go")
    source = tmp_path / "main.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts("native bootstrap"); return 0; }\n')
    subprocess.run(["cc", "-O2", "-o", str(root / "build" / "bootstrap"), str(source)], check=True)
    machine = subprocess.run(["uname", "-m"], capture_output=True, text=True, check=True).stdout.strip()
    here, other = ("arm64", "x86_64") if machine in ("aarch64", "arm64") else ("x86_64", "arm64")
    zip_path = Path(build_json(root, "--arch", here)["artifacts"][0]["path"])
    assert _run_bootstrap(zip_path, tmp_path / "run") == "native bootstrap\n"
    result = lpack("build", root, "--arch", other)
    assert result.exit_code == 1 and f"bootstrap is an ELF for {here}, the function is {other}" in result.stderr


def test_missing_bootstrap_is_an_error(project: MakeProject) -> None:
    root = project("prebuilt-go")
    (root / "build" / "bootstrap").unlink()
    result = lpack("build", root)
    assert result.exit_code == 2 and "no bootstrap at the root" in result.stderr
    assert not (root / "dist").exists()


def test_other_runtimes_zip_a_publish_directory(project: MakeProject) -> None:
    root = project("prebuilt-go")
    (root / "build" / "bootstrap").unlink()
    (root / "build" / "lib").mkdir()
    (root / "build" / "lib" / "app.jar").write_bytes(b"PK\x03\x04fake jar")
    (root / "build" / ".env").write_text("SECRET=1\n")
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace('"provided.al2023"', '"java21"') + 'handler = "a.B::handle"\n')
    report = build_json(root)
    assert names(Path(report["artifacts"][0]["path"])) == ["config.yaml", "lib/", "lib/app.jar"]
    assert any(".env" in w for w in report["warnings"])
