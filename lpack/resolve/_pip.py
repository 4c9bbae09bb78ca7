"""pip, for what uv cannot express: glibc levels between manylinux_2_17 and _2_28 (Amazon Linux 2 is 2.26).

pip's `--platform` is literal, so every level the runtime accepts is passed (runtimes.manylinux_platforms).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

from lpack import runtimes
from lpack.config.model import FunctionConfig
from lpack.errors import ResolveError
from lpack.resolve._errors import NO_MATCHING_TAG, explain_failure
from lpack.resolve.runner import Runner, index_args, installer_env


def uv_glibc(fn: FunctionConfig) -> tuple[int, int]:
    match = re.search(r"_(\d+)_(\d+)$", runtimes.uv_platform(fn.runtime, fn.architecture))
    return (int(match.group(1)), int(match.group(2))) if match else (2, 17)


def uv_falls_short(fn: FunctionConfig, uv_output: str) -> bool:
    """uv found no wheel, but was told an older glibc than the runtime has: pip may find one."""
    return bool(NO_MATCHING_TAG.search(" ".join(uv_output.split()))) and uv_glibc(fn) < fn.runtime.glibc


def pip_fallback_note(fn: FunctionConfig, what: str) -> str:
    low, high = uv_glibc(fn), fn.runtime.glibc
    return f"uv found no wheel up to manylinux_{low[0]}_{low[1]}; {what} with pip for manylinux_{high[0]}_{high[1]}"


def pip_target_args(fn: FunctionConfig) -> list[str]:
    """pip's flags for the target: one --platform per glibc level, the CPython ABI, wheels only."""
    assert fn.runtime.version is not None
    args = [
        "--implementation",
        "cp",
        "--python-version",
        f"{fn.runtime.version[0]}.{fn.runtime.version[1]}",
        "--abi",
        fn.runtime.python_tag,
        "--abi",
        "abi3",
        "--abi",
        "none",
        "--only-binary",
        ":all:",
    ]
    for platform in runtimes.manylinux_platforms(fn.runtime, fn.architecture):
        args += ["--platform", platform]
    return args


def _pip(fn: FunctionConfig, args: list[str], runner: Runner, where: str, uv_output: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        *args[:1],
        "--disable-pip-version-check",
        *pip_target_args(fn),
        *index_args(fn.index),
        *args[1:],
    ]
    proc = runner(cmd, env=installer_env(), cwd=fn.project_dir)
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    if "No module named pip" in output:
        raise ResolveError(
            f"resolving {where}: pip is not installed next to lpack",
            hint='install pip, or use installer = "uv"',
            details=output,
        )
    raise explain_failure(fn, uv_output + "\n" + output, where, " ".join(cmd))


def pip_install(
    fn: FunctionConfig, args: list[str], dest: Path, runner: Runner, where: str, *, uv_output: str = ""
) -> None:
    _pip(
        fn,
        ["install", "--target", str(dest), "--no-compile", "--no-warn-script-location", *args],
        runner,
        where,
        uv_output,
    )


def pip_lock(fn: FunctionConfig, infile: Path, lock: Path, runner: Runner, where: str, *, uv_output: str) -> None:
    """Resolve with pip for the target (a dry run with a report) and write pip-tools' format with hashes."""
    report = lock.with_suffix(".pip-report.json")
    _pip(
        fn,
        [
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "--target",
            str(lock.parent / "pip-dry-run"),
            "-r",
            str(infile),
        ],
        runner,
        where,
        uv_output,
    )
    items = json.loads(report.read_text())["install"]
    lines = []
    for item in sorted(items, key=lambda i: canonicalize_name(i["metadata"]["name"])):
        meta, info = item["metadata"], item["download_info"]
        digest = (
            info.get("archive_info", {}).get("hashes", {}).get("sha256")
            or info.get("archive_info", {}).get("hash", "=").split("=", 1)[1]
        )
        via = f"-r {infile.name}" if item.get("requested") else "(dependency)"
        lines += [
            f"{canonicalize_name(meta['name'])}=={meta['version']} \\",
            f"    --hash=sha256:{digest}",
            f"    # via {via}",
        ]
    lock.write_text("\n".join(lines) + "\n")
