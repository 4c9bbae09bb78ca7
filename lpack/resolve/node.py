"""Node.js dependencies for a Lambda target: `npm ci` for Linux, the target CPU and glibc, no dev deps.

npm installs optional platform packages (esbuild's, sharp's) by `os`/`cpu`/`libc`; `--os`, `--cpu` and
`--libc` make it choose for the Lambda target instead of this machine. Install scripts are off unless
the user allows them and the target is this machine: a postinstall that compiles would build for the host.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from lpack.cache import Cache, make_key
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve.result import Resolved
from lpack.resolve.runner import Runner, installer_env, run_subprocess, target_label

_QUIET = ("--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error")
_NPM_CPU = {"x86_64": "x64", "arm64": "arm64"}
_HOST_CPU = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def npm_bin() -> str:
    found = shutil.which("npm")
    if found is None:
        raise ResolveError("npm is not installed", hint="install Node.js with npm to build Node.js functions")
    return found


def resolve_node_deps(
    fn: FunctionConfig, dest: Path, *, runner: Runner = run_subprocess, cache: Cache | None = None
) -> Resolved:
    """Install production dependencies into `dest`/node_modules; what the project names directly stays."""
    warnings: list[str] = []
    installed = resolve_node(fn, dest, runner=runner, cache=cache, warnings=warnings)
    manifest = fn.requirements or fn.project_dir / "package.json"
    direct = direct_dependencies(json.loads(manifest.read_text())) if manifest.is_file() else set()
    return Resolved(
        lock=None, direct=frozenset(direct), installer="npm" if installed else "none", warnings=tuple(warnings)
    )


def direct_dependencies(package_json: dict[str, object]) -> set[str]:
    """What package.json asks for by name: never removed as "only needed by the AWS SDK"."""
    names: set[str] = set()
    for key in ("dependencies", "optionalDependencies"):
        value = package_json.get(key)
        names |= {str(k) for k in value} if isinstance(value, dict) else set()
    return names


def resolve_node(
    fn: FunctionConfig,
    dest: Path,
    *,
    runner: Runner = run_subprocess,
    cache: Cache | None = None,
    warnings: list[str] | None = None,
) -> bool:
    """Install production dependencies into `dest`/node_modules; False when the project has none.

    Without a package-lock.json, npm locks package.json's ranges first (kept in `cache`), with a warning.
    """
    # A layer names its package.json with `requirements`; a function uses the project's.
    manifest = fn.requirements if fn.requirements is not None else fn.project_dir / "package.json"
    lock = manifest.with_name("package-lock.json")
    if not manifest.is_file():
        raise ConfigError(
            f"{manifest.name}: not found in {manifest.parent.name}",
            hint="a Node.js function or layer needs a package.json (and its package-lock.json)",
        )
    data = _read_json(manifest)
    if not data.get("dependencies") and not data.get("optionalDependencies"):
        return False
    if not lock.is_file() and fn.locked:
        raise ConfigError(
            "--locked: package-lock.json not found next to package.json",
            hint="run `lpack lock` (or `npm install`) and commit package-lock.json",
        )
    dest.mkdir(parents=True, exist_ok=True)
    # npm ci works in the directory holding package.json; a copy keeps the user's node_modules untouched.
    sources = (
        (("package.json", manifest), ("package-lock.json", lock)) if lock.is_file() else [("package.json", manifest)]
    )
    for name, source in sources:
        (dest / name).write_text(json.dumps(_absolute_files(_read_json(source), manifest.parent), indent=2))
    if not lock.is_file():
        _lock_ranges(fn, dest, runner, cache)
        if warnings is not None:
            warnings.append(
                "no package-lock.json: npm locked package.json's version ranges for this build, so versions are "
                "not pinned; run `lpack lock` and commit the package-lock.json it writes"
            )
    _npm_ci(fn, dest, runner)
    return True


def _lock_ranges(fn: FunctionConfig, dest: Path, runner: Runner, cache: Cache | None) -> None:
    """package-lock.json for the package.json in `dest`, from the cache (as a requirements.in's lock) or npm."""
    if cache is None:
        _npm_lock(fn, dest, runner)
        return

    def make(entry: Path) -> None:
        _npm_lock(fn, dest, runner)
        shutil.copyfile(dest / "package-lock.json", entry / "package-lock.json")

    key = make_key("npm-lock", (dest / "package.json").read_bytes(), _npm_settings())
    entry, hit = cache.obtain("locks", key, make)
    if hit and not _valid_lock(entry / "package-lock.json"):
        _npm_lock(fn, dest, runner)  # a damaged entry: lock afresh rather than trust it
        return
    shutil.copyfile(entry / "package-lock.json", dest / "package-lock.json")


def _npm_settings() -> str:
    # What else decides npm's answer: the registry and other npm settings in the environment.
    return "\n".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.lower().startswith("npm_config_"))


def _valid_lock(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("lockfileVersion"), int) and "packages" in data


def _npm_lock(fn: FunctionConfig, cwd: Path, runner: Runner) -> None:
    # --package-lock-only: resolve and write package-lock.json, install nothing; no scripts run.
    cmd = [npm_bin(), "install", "--package-lock-only", "--ignore-scripts", *_QUIET]
    proc = runner(cmd, env=installer_env({"npm_config_update_notifier": "false"}), cwd=cwd)
    if proc.returncode != 0 or not (cwd / "package-lock.json").is_file():
        output = proc.stdout + proc.stderr
        last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip()), "npm failed")
        raise ResolveError(
            f"locking package.json for {target_label(fn)}: {last}",
            hint="run `npm install --package-lock-only` in the project to see why",
            details=f"$ {' '.join(cmd)}\n{output.strip()}",
        )


def write_package_lock(fn: FunctionConfig, *, runner: Runner = run_subprocess) -> tuple[Path, bool] | None:
    """`lpack lock` for Node.js: package-lock.json next to package.json, made by npm when there is none.

    Returns the lock and whether it was written now; None when package.json names no dependencies.
    """
    manifest = fn.requirements if fn.requirements is not None else fn.project_dir / "package.json"
    if not manifest.is_file():
        raise ConfigError(f"{manifest.name}: not found in {manifest.parent.name}", hint="a Node.js project needs one")
    data = _read_json(manifest)
    if not data.get("dependencies") and not data.get("optionalDependencies"):
        return None
    lock = manifest.with_name("package-lock.json")
    if lock.is_file():
        return lock, False
    # In the project itself: a copy elsewhere would turn its relative file: dependencies into this machine's paths.
    _npm_lock(fn, manifest.parent, runner)
    return lock, True


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path.name}: not valid JSON ({err})", hint="fix the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: expected a JSON object")
    return data


def _absolute_files(value: Any, root: Path) -> Any:
    # `file:../pkg.tgz` is relative to the project; the copy lives elsewhere, so anchor it.
    if isinstance(value, dict):
        return {k: _absolute_files(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute_files(v, root) for v in value]
    if isinstance(value, str) and value.startswith("file:") and not value.startswith("file:/"):
        return "file:" + str((root / value[5:]).resolve())
    return value


def scripts_allowed(fn: FunctionConfig) -> bool:
    host = _HOST_CPU.get(platform.machine().lower())
    return fn.node_scripts and platform.system() == "Linux" and host == fn.architecture


def _npm_ci(fn: FunctionConfig, dest: Path, runner: Runner) -> None:
    if fn.node_scripts and not scripts_allowed(fn):
        raise ConfigError(
            f"node-scripts = true, but install scripts would run on this {platform.machine()} "
            f"machine for a linux/{fn.architecture} target",
            hint="build on a machine of the target's architecture, or set node-scripts = false",
        )
    cmd = [npm_bin(), "ci", "--omit=dev", "--os=linux", f"--cpu={_NPM_CPU[fn.architecture]}", "--libc=glibc", *_QUIET]
    if not fn.node_scripts:
        cmd.append("--ignore-scripts")
    proc = runner(cmd, env=installer_env({"npm_config_update_notifier": "false"}), cwd=dest)
    if proc.returncode != 0:
        raise _explain(fn, proc.stdout + proc.stderr, " ".join(cmd))


def _explain(fn: FunctionConfig, output: str, command: str) -> ResolveError:
    where = f"installing package-lock.json for {target_label(fn)}"
    details = f"$ {command}\n{output.strip()}"
    if "in sync" in output or "Missing:" in output or "Invalid:" in output:
        return ResolveError(
            f"{where}: package.json and package-lock.json are out of sync",
            hint="run `npm install` and commit the updated package-lock.json",
            details=details,
        )
    last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip() and "nodedir" not in ln), "")
    return ResolveError(f"{where}: {last or 'npm ci failed'}", hint="run with -v to see npm's output", details=details)
