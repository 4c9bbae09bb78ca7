"""Issue 15's cache scenarios, measured by bench_tools.py beside the other tools on the same projects.

- A new lock whose wheels are cached: the project is built once into a cache, then its requirements gain one small
  pure-Python package, and the changed project is built with a copy of that cache (a fresh copy and a fresh
  --out per run, so no run reuses what the previous one made). Two variants: requirements.txt unpinned (lpack
  hands it to uv, which resolves) and a committed `uv pip compile --generate-hashes` lock (installed as is).
- A fresh machine with an empty local cache and a warm S3 cache: moto's S3 server on 127.0.0.1, one build with
  LPACK_CACHE_REMOTE set fills the remote, then each timed build starts from an empty LPACK_CACHE_DIR.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench_build import run
from bench_goals import NEW_LOCK, NEW_LOCK_HASHED, NEW_LOCK_ONE_NEW, WARM_S3
from bench_suite import _PROJECTS, PYTHON, lpack, make_project, progress

from lpack.runtimes import get_runtime, uv_platform

# Pulled in by none of the suite's projects, pure Python, pinned so that the new lock is the same from day to day
# and shares every other wheel with the first.
EXTRA = "attrs==25.4.0"
SUPERSET = "tomli==2.2.1"  # one more pure package, for a superset lock that has every wheel of the changed one
BUCKET, PREFIX = "bench-bucket", "lpack"

Timer = Callable[[str, Callable[[int], object]], None]


def changed_requirements(name: str) -> str:
    return f"{_PROJECTS[name][0]}{EXTRA}\n"


def hashed_lock(root: Path, requirements: str, env: dict[str, str]) -> None:
    """Replace root's requirements.txt with the lock `uv pip compile --generate-hashes` writes for the target."""
    source = root.parent / f"{root.name}.in"  # outside the project: lpack would list it as an unused file
    source.write_text(requirements)
    platform = uv_platform(get_runtime("python3.12"), "x86_64")
    uv = [sys.executable, "-m", "uv", "pip", "compile", "-q", "--generate-hashes", "--no-header"]
    target = ["--python-version", PYTHON, "--python-platform", platform]
    run([*uv, *target, "-o", str(root / "requirements.txt"), str(source)], env)


def new_lock(name: str, tmp: Path, env: dict[str, str], runs: int, timed: Timer) -> Path:
    """Time the new-lock variants; returns the changed (unpinned) project for the references.

    "Wheels cached": the cache has built the first project and a superset of the changed one (one more package),
    so the changed lock is new but every wheel in it was installed before. "One wheel new": only the first
    project was built, so the added package is installed, compiled and compressed in the timed build."""
    changed = make_project(tmp, name, variant="-newlock", requirements=changed_requirements(name))
    first = make_project(tmp, name, variant="-firstlock")
    superset = make_project(tmp, name, variant="-superset", requirements=f"{changed_requirements(name)}{SUPERSET}\n")
    primers = (first, superset)
    _time_new_lock(NEW_LOCK, primers, changed, work=tmp / f"{name}-nl", env=env, runs=runs, timed=timed)
    first_hashed = make_project(tmp, name, variant="-firstlock-hashed")
    changed_hashed = make_project(tmp, name, variant="-newlock-hashed")
    superset_hashed = make_project(tmp, name, variant="-superset-hashed")
    hashed_lock(first_hashed, _PROJECTS[name][0], env)
    hashed_lock(changed_hashed, changed_requirements(name), env)
    hashed_lock(superset_hashed, f"{changed_requirements(name)}{SUPERSET}\n", env)
    primers = (first_hashed, superset_hashed)
    work = tmp / f"{name}-nlh"
    _time_new_lock(NEW_LOCK_HASHED, primers, changed_hashed, work=work, env=env, runs=runs, timed=timed)
    work = tmp / f"{name}-nl1"
    _time_new_lock(NEW_LOCK_ONE_NEW, (first_hashed,), changed_hashed, work=work, env=env, runs=runs, timed=timed)
    return changed


def _time_new_lock(
    label: str, primers: tuple[Path, ...], changed: Path, *, work: Path, env: dict[str, str], runs: int, timed: Timer
) -> None:
    primed = work / "cache"
    for i, first in enumerate(primers):
        lpack(first, work / f"primer-out{i}", primed, env)
    # A copy per run, made before the clock starts: a build into the shared cache would leave the changed
    # project's own entries behind, and the next run would measure a rebuild instead.
    for i in range(runs):
        shutil.copytree(primed, work / f"cache{i}", symlinks=True)
    timed(label, lambda i: lpack(changed, work / f"out{i}", work / f"cache{i}", env))


def s3_missing() -> str | None:
    """Why the warm-S3 row cannot run here, or None."""
    missing = [m for m in ("boto3", "moto") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (the test group has them): warm-S3 row left out"
    return None


@contextlib.contextmanager
def s3_server(tmp: Path) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with the bucket created; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with (tmp / "moto.log").open("wb") as log:
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_and_create_bucket(url, proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _s3_client(url: str) -> Any:
    import boto3  # noqa: PLC0415 - optional: only this row needs it
    from botocore.config import Config  # noqa: PLC0415

    config = Config(s3={"addressing_style": "path"})
    keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    make: Any = boto3.client  # its overloads want a literal service name and typed keywords
    return make("s3", endpoint_url=url, region_name="us-east-1", config=config, **keys)


def _wait_and_create_bucket(url: str, proc: subprocess.Popen[bytes]) -> None:
    s3 = _s3_client(url)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"error: moto's server exited with {proc.returncode}")
        try:
            s3.create_bucket(Bucket=BUCKET)
            return
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def remote_env(env: dict[str, str], url: str) -> dict[str, str]:
    """The remote cache's settings, with dummy credentials so no real account is ever involved."""
    kept = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    return {
        **kept,
        "LPACK_CACHE_REMOTE": f"s3://{BUCKET}/{PREFIX}",
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def warm_s3(name: str, root: Path, *, tmp: Path, env: dict[str, str], url: str, timed: Timer) -> str:
    """Fill the remote from one machine's build, time builds from empty local caches; returns a note."""
    s3_env = remote_env(env, url)
    before = _count(url)
    progress(f"{name}: filling the S3 cache")
    lpack(root, tmp / f"{name}-s3-fill", tmp / f"{name}-s3-fill-cache", s3_env)
    filled = _count(url) - before
    timed(WARM_S3, lambda i: lpack(root, tmp / f"{name}-s3-out{i}", tmp / f"{name}-s3-cache{i}", s3_env))
    note = f"{name}: the fill build left {filled} new object(s) under s3://{BUCKET}/{PREFIX}/"
    return note + ("" if filled else " (this lpack does not read LPACK_CACHE_REMOTE: the row is a cold build)")


def _count(url: str) -> int:
    pages = _s3_client(url).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    return sum(page.get("KeyCount", 0) for page in pages)
