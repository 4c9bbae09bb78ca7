"""esbuild, the bundler Node.js users ship with (CDK's NodejsFunction, SAM's `BuildMethod: esbuild`).

One pinned version, installed once from the npm registry into lpack's cache as its platform binary for this
machine (esbuild's output does not depend on the host, so a bundle built here runs on the Lambda target).
The binary is checked against the sha256 recorded when it was installed, and by its version, before each use.
`LPACK_ESBUILD` names another esbuild binary instead (an offline machine, a mirror): the build notes it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lpack.errors import ResolveError
from lpack.resolve.node import npm_bin
from lpack.resolve.runner import Runner, installer_env, run_subprocess
from lpack.staging.tree import file_sha256

# Pinned: the same inputs give the same bundle bytes only with the same esbuild.
ESBUILD_VERSION = "0.28.2"
# esbuild's per-platform packages (@esbuild/linux-x64, ...), by platform.system() and platform.machine().
_PLATFORMS = {
    ("Linux", "x86_64"): "linux-x64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Linux", "arm64"): "linux-arm64",
    ("Darwin", "x86_64"): "darwin-x64",
    ("Darwin", "arm64"): "darwin-arm64",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Esbuild:
    path: Path
    version: str
    note: str = ""  # set when it is not the pinned one from lpack's cache


def host_platform() -> str:
    found = _PLATFORMS.get((platform.system(), platform.machine()))
    if found is None:
        raise ResolveError(
            f"esbuild: no binary package for {platform.system()} {platform.machine()}",
            hint="set LPACK_ESBUILD to an esbuild binary for this machine",
        )
    return found


def find_esbuild(cache_root: Path, *, runner: Runner = run_subprocess, offline: bool = False) -> Esbuild:
    """The pinned esbuild from `cache_root`/tools, installed there first if missing or damaged."""
    explicit = os.environ.get("LPACK_ESBUILD")
    if explicit:
        return _explicit(Path(explicit))
    plat = host_platform()
    home = cache_root / "tools" / f"esbuild-{ESBUILD_VERSION}-{plat}"
    if _verified(home, plat):
        return Esbuild(path=_binary(home, plat), version=ESBUILD_VERSION)
    _install(home, plat, runner, offline=offline)
    return Esbuild(path=_binary(home, plat), version=ESBUILD_VERSION)


def _binary(home: Path, plat: str) -> Path:
    return home / "node_modules" / "@esbuild" / plat / "bin" / "esbuild"


def _version(binary: Path) -> str | None:
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _verified(home: Path, plat: str) -> bool:
    # A cache entry is trusted only when the binary is the one installed (sha256).
    binary, recorded = _binary(home, plat), home / "esbuild.sha256"
    if not binary.is_file() or not recorded.is_file():
        return False
    # The sha256 was recorded after the installed binary answered with the pinned version: a match is that binary.
    return recorded.read_text().strip() == file_sha256(binary)


def _install(home: Path, plat: str, runner: Runner, *, offline: bool) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".esbuild-", dir=home.parent))
    try:
        cmd = [npm_bin(), "install", "--prefix", str(tmp), "--no-save", "--ignore-scripts", "--no-audit", "--no-fund"]
        cmd += ["--no-update-notifier", "--loglevel=error", *(["--offline"] if offline else [])]
        proc = runner([*cmd, f"esbuild@{ESBUILD_VERSION}"], env=installer_env({}), cwd=tmp)
        binary = _binary(tmp, plat)
        if proc.returncode != 0 or _version(binary) != ESBUILD_VERSION:
            last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no esbuild binary was installed"]
            raise ResolveError(
                f"installing esbuild {ESBUILD_VERSION} from the npm registry: {last[0]}",
                hint="check access to the npm registry, or set LPACK_ESBUILD to an esbuild binary",
                details=f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}",
            )
        (tmp / "esbuild.sha256").write_text(file_sha256(binary) + "\n")
        if _verified(home, plat):  # another build installed it meanwhile: keep that one
            return
        shutil.rmtree(home, ignore_errors=True)  # damaged: replaced whole
        try:
            tmp.replace(home)
        except OSError:
            if not _verified(home, plat):  # lost a race to another build: its copy is as good
                raise ResolveError(
                    "esbuild: cannot install into lpack's cache", hint="check LPACK_CACHE_DIR's permissions"
                ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _explicit(path: Path) -> Esbuild:
    version = _version(path)
    if version is None:
        raise ResolveError(
            f"LPACK_ESBUILD={path.name}: does not run as esbuild",
            hint="point LPACK_ESBUILD at an esbuild binary, or unset it to use lpack's pinned one",
        )
    note = f"esbuild {version} from LPACK_ESBUILD"
    if version != ESBUILD_VERSION:
        note += f" (lpack pins {ESBUILD_VERSION}: bundles may differ from other machines')"
    return Esbuild(path=path, version=version, note=note)
