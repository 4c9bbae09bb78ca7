"""Python dependencies for a Lambda target, installed without Docker into a staging directory.

uv does the work (0.7 s where `pip --target` takes 40 s, measured in the performance issue), told the
target's exact manylinux level. uv knows only some glibc levels (2_17, 2_28, 2_31+), so for Amazon Linux 2
(glibc 2.26) it is told 2_17, and a wheel tagged 2_18 .. 2_26 only is fetched by pip, with every
`--platform` spelled out: pip does not expand that flag (DESIGN.md).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lpack.config.model import FunctionConfig
from lpack.resolve import _inputs, _local
from lpack.resolve._binary import check_built, run_binary_only
from lpack.resolve._errors import explain_failure
from lpack.resolve._pip import pip_fallback_note, pip_install, uv_falls_short
from lpack.resolve.result import Resolved
from lpack.resolve.runner import (
    Runner,
    index_args,
    run_subprocess,
    target_label,
    uv_bin,
    uv_env,
    uv_target_args,
)


def installer_state(rel: str, is_dir: bool) -> bool:
    """Files the installers leave that hold times or build-machine paths: never part of an artifact.

    uv writes `.lock` into the target and `uv_cache.json` (with a timestamp) into each dist-info;
    `direct_url.json` holds the local path a wheel came from.
    """
    name = rel.rsplit("/", 1)[-1]
    return not is_dir and (rel == ".lock" or name in ("uv_cache.json", "direct_url.json"))


def resolve(fn: FunctionConfig, dest: Path, work: Path, *, runner: Runner = run_subprocess) -> Resolved:
    """Install `fn`'s dependencies for its runtime and architecture into `dest`."""
    work.mkdir(parents=True, exist_ok=True)
    return install(fn, _inputs.gather(fn, work, runner), dest, runner)


def install(
    fn: FunctionConfig, inputs: _inputs.Inputs, dest: Path, runner: Runner, *, no_deps: bool = False
) -> Resolved:
    """Install what `inputs` names (a lock, then the project's own wheel) into `dest`.

    `no_deps`: the lock is part of a whole one (a few of its distributions), so nothing else is resolved.
    """
    if inputs.lock is None and not inputs.wheels:
        return Resolved(lock=None, direct=inputs.direct, installer="none", warnings=inputs.warnings)
    installer, notes = "none", list(inputs.notes)
    if inputs.lock is not None:
        installer = _install_lock(fn, inputs, dest, runner, notes, no_deps=no_deps)
    for wheel in inputs.wheels:
        _run_uv(fn, ["--no-deps", str(wheel)], dest, runner, context=wheel.name)
    return Resolved(
        lock=inputs.lock,
        direct=inputs.direct,
        installer=installer,
        built_wheel=bool(inputs.wheels),
        notes=tuple(notes),
        warnings=inputs.warnings,
    )


def _install_lock(
    fn: FunctionConfig, inputs: _inputs.Inputs, dest: Path, runner: Runner, notes: list[str], *, no_deps: bool
) -> str:
    assert inputs.lock is not None
    lock = inputs.lock
    args = ["--no-deps", "-r", str(lock)] if no_deps else ["-r", str(lock)]
    reached = _local.reach(_local.read_lines(lock), lock.parent, fn.project_dir)
    # A local directory has no hash to pin: uv still checks every hash the lock gives.
    if _inputs.has_hashes(lock) and not any(path.is_dir() for _, path in reached.packages):
        args.insert(0, "--require-hashes")
    refresh = _local.refresh_args(reached, _local.read_lines(lock))
    where = f"{inputs.label} for {target_label(fn)}"
    if fn.installer == "pip":
        pip_install(fn, args, dest, runner, where)
        return "pip"

    def attempt(extra: list[str]) -> subprocess.CompletedProcess[str]:
        _clear(dest)  # a run that stopped to ask for a build installed nothing, but make sure
        return _run_uv(fn, [*extra, *refresh, *args], dest, runner, context=where, check=False)

    proc, built = run_binary_only(fn, attempt)
    if proc.returncode == 0:
        notes += check_built(fn, dest, built)
        return "uv"
    output = proc.stdout + proc.stderr
    if uv_falls_short(fn, output):
        notes.append(pip_fallback_note(fn, "installed"))
        _clear(dest)
        pip_install(fn, args, dest, runner, where, uv_output=output)
        return "pip"
    raise explain_failure(fn, output, where, " ".join(proc.args))


def _clear(dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)


def _run_uv(
    fn: FunctionConfig, args: list[str], dest: Path, runner: Runner, *, context: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [
        uv_bin(),
        "pip",
        "install",
        "--target",
        str(dest),
        *uv_target_args(fn),
        "--link-mode",
        "copy",
        "--no-compile-bytecode",
        *index_args(fn.index),
        *args,
    ]
    proc = runner(cmd, env=uv_env(), cwd=fn.project_dir)
    if check and proc.returncode != 0:
        raise explain_failure(fn, proc.stdout + proc.stderr, context, " ".join(cmd))
    return proc
