"""The seam to the outside world: running installers. Tests may pass another Runner."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from uv import find_uv_bin

from lpack import runtimes
from lpack.archive.writer import source_date_epoch
from lpack.config.model import FunctionConfig, IndexOptions

log = logging.getLogger("lpack")

# Variables that would send pip's or uv's output somewhere other than where we asked.
_DROP = (
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_USER",
    "PIP_ROOT",
    "PYTHONPATH",
    "PYTHONHOME",
    "UV_TARGET",
    "UV_SYSTEM_PYTHON",
    "PIP_NO_COMPILE",
    "UV_COMPILE_BYTECODE",
)


class Runner(Protocol):
    def __call__(
        self, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]: ...


def run_subprocess(
    cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run and capture; the output goes to the debug log (shown with -v) and into errors."""
    log.debug("running %s", " ".join(cmd))
    proc = subprocess.run(list(cmd), env=dict(env), cwd=cwd, capture_output=True, text=True, check=False)
    for line in (proc.stdout + proc.stderr).splitlines():
        log.debug("  %s", line)
    return proc


def installer_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for pip and uv: reproducible, and never touching the user's environment."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(
        PYTHONHASHSEED="0",
        SOURCE_DATE_EPOCH=str(source_date_epoch()),
        PYTHONDONTWRITEBYTECODE="1",
        # uv may otherwise download a CPython build to satisfy --python-version; lpack needs none.
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
        PIP_NO_INPUT="1",
    )
    env.update(extra or {})
    return env


def target_label(fn: FunctionConfig) -> str:
    return f"{fn.runtime.name}/{fn.architecture}"


def index_args(index: IndexOptions) -> list[str]:
    args: list[str] = []
    if index.index_url:
        args += ["--index-url", index.index_url]
    for url in index.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in index.find_links:
        args += ["--find-links", link]
    if index.no_index:
        args.append("--no-index")
    return args


def uv_bin() -> str:
    return find_uv_bin()


def uv_target_args(fn: FunctionConfig) -> list[str]:
    assert fn.runtime.version is not None
    major, minor = fn.runtime.version
    return [
        "--python-version",
        f"{major}.{minor}",
        "--python-platform",
        runtimes.uv_platform(fn.runtime, fn.architecture),
    ]


def uv_env() -> dict[str, str]:
    """pip's index variables as uv's: CI often points pip at a mirror, and uv reads only UV_*."""
    pairs = {
        "PIP_INDEX_URL": "UV_INDEX_URL",
        "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS": "UV_FIND_LINKS",
        "PIP_NO_INDEX": "UV_NO_INDEX",
    }
    return installer_env(
        {uv: os.environ[pip] for pip, uv in pairs.items() if pip in os.environ and uv not in os.environ}
    )
