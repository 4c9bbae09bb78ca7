"""The audit against real ELF files from the fixture wheelhouse and real files in tmp_path."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from lpack.audit.checks import AuditReport, Finding, audit
from lpack.config.load import load_config
from lpack.errors import ConfigError
from lpack.runtimes import Arch, get_runtime
from lpack.staging.tree import scan
from tests.conftest import WHEELS

NATIVE_X86 = "lp_native-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
NATIVE_ARM = "lp_native-1.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
LYING_X86 = "lp_lying_glibc-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def so_from(wheel: str) -> bytes:
    with zipfile.ZipFile(WHEELS / wheel) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith(".so")))


def run(root: Path, runtime: str = "python3.11", arch: Arch = "x86_64", waive: tuple[str, ...] = ()) -> AuditReport:
    return audit(scan(root, "code"), get_runtime(runtime), arch, waive=waive)


def write(root: Path, rel: str, data: bytes, mode: int = 0o644) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def only(report: AuditReport, code: str) -> Finding:
    [found] = [f for f in report.findings if f.code == code]
    return found


def test_x86_64_so_in_an_arm64_function_is_an_error_naming_both_machines(tmp_path: Path) -> None:
    write(tmp_path, "fast/_speedups.so", so_from(NATIVE_X86), 0o755)
    report = run(tmp_path, "python3.12", "arm64")
    finding = only(report, "elf-arch")
    assert report.errors == (finding,) and report.elf_files == 1
    assert finding.path == "fast/_speedups.so" and finding.package is None
    assert "x86_64" in finding.message and "arm64 (aarch64)" in finding.message
    assert finding.fix == 'rebuild it for the function\'s architecture, or set architecture = "x86_64"'


def test_matching_machine_and_old_enough_glibc_pass(tmp_path: Path) -> None:
    write(tmp_path, "a/_x86.so", so_from(NATIVE_X86), 0o755)
    assert run(tmp_path, "python3.11", "x86_64").findings == ()
    write(tmp_path, "a/_x86.so", so_from(NATIVE_ARM), 0o755)
    assert run(tmp_path, "python3.11", "arm64").findings == ()


def test_so_needing_glibc_228_fails_on_al2_and_passes_on_al2023(tmp_path: Path) -> None:
    write(tmp_path, "lp_lying_glibc/_native.abi3.so", so_from(LYING_X86), 0o755)
    finding = only(run(tmp_path, "python3.11"), "elf-glibc")
    assert finding.severity == "error"
    assert "needs GLIBC_2.28, python3.11 has glibc 2.26" in finding.message
    assert finding.fix is not None and "use runtime python3.12 or newer" in finding.fix
    assert run(tmp_path, "python3.12").findings == ()


def test_musl_linked_object_is_refused(tmp_path: Path) -> None:
    # Same length as "libc.so.6", so the string table stays valid: DT_NEEDED now names a musl libc.
    data = so_from(NATIVE_X86).replace(b"libc.so.6\0", b"libc.musl\0")
    write(tmp_path, "m/_m.so", data, 0o755)
    assert only(run(tmp_path), "elf-musl").severity == "error"


def test_garbage_after_elf_magic_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "weird.bin", b"\x7fELF" + b"\xff" * 60)
    finding = only(run(tmp_path), "elf-invalid")
    assert finding.severity == "warning" and run(tmp_path).errors == ()


def test_waive_by_code_or_by_file_keeps_the_finding_but_not_the_failure(tmp_path: Path) -> None:
    write(tmp_path, "x/_a.so", so_from(LYING_X86), 0o755)
    write(tmp_path, "x/_b.so", so_from(LYING_X86), 0o755)
    one = run(tmp_path, waive=("elf-glibc:x/_a.so",))
    assert [f.path for f in one.errors] == ["x/_b.so"]
    assert [f.waived for f in one.findings] == [True, False]
    assert run(tmp_path, waive=("elf-glibc",)).errors == ()


def test_bootstrap_without_exec_bit_is_an_error_a_bin_script_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "bootstrap", b"#!/bin/sh\nexec ./app\n", 0o644)
    write(tmp_path, "bin/tool", b"#!/usr/bin/env python3\nprint(1)\n", 0o644)
    write(tmp_path, "pkg/mod.py", b"#!/usr/bin/python\nx = 1\n", 0o644)  # a module, never run as a program
    report = run(tmp_path, "provided.al2023")
    by_path = {f.path: f for f in report.findings}
    assert set(by_path) == {"bootstrap", "bin/tool"}
    assert (by_path["bootstrap"].code, by_path["bootstrap"].severity) == ("no-exec", "error")
    assert (by_path["bin/tool"].code, by_path["bin/tool"].severity) == ("no-exec", "warning")


def test_absolute_shebang_of_the_build_machine_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "bin/a", b"#!/home/me/.venv/bin/python3 -E\nprint(1)\n", 0o755)
    write(tmp_path, "bin/b", b"#!/bin/sh\necho ok\n", 0o755)
    finding = only(run(tmp_path), "abs-shebang")
    assert finding.path == "bin/a" and "/home/me/.venv/bin/python3" in finding.message
    assert finding.severity == "warning"


def test_plain_pth_warns_with_what_it_would_have_done(tmp_path: Path) -> None:
    write(tmp_path, "extras.pth", b"# comment\nimport _virtualenv\nvendor\n")
    finding = only(run(tmp_path), "pth")
    assert finding.severity == "warning"
    assert "run `import _virtualenv`" in finding.message and "added vendor/ to sys.path" in finding.message
    assert run(tmp_path).drop == ()  # harmless, kept: the user may read it


def _nspkg(root: Path) -> None:
    text = (WHEELS / "lp_nspkg_a-1.0-py3-none-any.whl").resolve()
    with zipfile.ZipFile(text) as archive:
        pth = next(n for n in archive.namelist() if n.endswith("-nspkg.pth"))
        write(root, pth, archive.read(pth))
        write(root, "lp_ns/a/__init__.py", archive.read("lp_ns/a/__init__.py"))


def test_nspkg_pth_is_dropped_when_the_namespace_imports_by_pep_420(tmp_path: Path) -> None:
    _nspkg(tmp_path)
    report = run(tmp_path)
    finding = only(report, "nspkg")
    assert finding.severity == "info" and "namespace lp_ns imports by PEP 420 (a)" in finding.message
    assert report.drop == ("lp_nspkg_a-1.0-py3.11-nspkg.pth",)


def test_nspkg_namespace_with_an_init_py_is_an_error(tmp_path: Path) -> None:
    _nspkg(tmp_path)
    write(tmp_path, "lp_ns/__init__.py", b"")
    finding = only(run(tmp_path), "nspkg")
    assert finding.severity == "error" and "lp_ns/__init__.py makes lp_ns a regular package" in finding.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_file_lpack_cannot_read_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "secret.txt", b"x", 0o000)
    assert only(run(tmp_path), "unreadable").severity == "error"


def test_file_gone_after_staging_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "app.py", b"x = 1\n")
    tree = scan(tmp_path, "code")
    (tmp_path / "app.py").unlink()
    report = audit(tree, get_runtime("python3.12"), "x86_64")
    assert [(f.code, f.severity, f.path) for f in report.findings] == [("unreadable", "error", "app.py")]


def test_waive_typo_in_config_suggests_the_code(tmp_path: Path) -> None:
    (tmp_path / "lpack.toml").write_text(
        'runtime = "python3.12"\nhandler = "app.handler"\naudit = { waive = ["elf-glbc:x.so"] }\n'
    )
    with pytest.raises(ConfigError, match='"elf-glbc" is not an audit finding; did you mean "elf-glibc"'):
        load_config(tmp_path)
    (tmp_path / "lpack.toml").write_text(
        'runtime = "python3.12"\nhandler = "app.handler"\naudit = { waive = ["pth"] }\n'
    )
    assert load_config(tmp_path).functions[0].audit.waive == ("pth",)
