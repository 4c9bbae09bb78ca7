"""Directories built by another toolchain: the custom runtime's `bootstrap` must start on the target."""

from __future__ import annotations

import dataclasses

from lpack.config.model import FunctionConfig
from lpack.errors import AuditError, ConfigError
from lpack.staging.tree import StagingTree

_ELF_MACHINES = {62: "x86_64", 183: "arm64"}


def check_bootstrap(fn: FunctionConfig, tree: StagingTree) -> StagingTree:
    """provided.* runtimes exec /var/task/bootstrap: it must exist, run on the target CPU, and be 0755."""
    if fn.runtime.language != "provided" or fn.role != "function":
        return tree
    entry = next((e for e in tree if e.path == "bootstrap"), None)
    if entry is None:
        raise ConfigError(
            f"{fn.name}: no bootstrap at the root of {fn.source.name}/",
            hint=f"{fn.runtime.name} starts the file named bootstrap: build your binary under that name",
        )
    head = entry.source.read_bytes()[:20]
    if head[:4] == b"\x7fELF":
        machine = _ELF_MACHINES.get(int.from_bytes(head[18:20], "little" if head[5] == 1 else "big"), "another CPU")
        if machine != fn.architecture:
            goarch = "arm64" if fn.architecture == "arm64" else "amd64"
            raise AuditError(
                f"{fn.name}: bootstrap is an ELF for {machine}, the function is {fn.architecture}",
                hint=f"cross-compile for {fn.architecture} (e.g. GOARCH={goarch}), or change `architecture`",
            )
    elif not head.startswith(b"#!"):
        raise AuditError(
            f"{fn.name}: bootstrap is neither an ELF executable nor a script with a #! line",
            hint="build a Linux binary named bootstrap, or start the script with #!/bin/sh",
        )
    # Lambda runs it as a program whatever mode the build machine gave it.
    return tree.mapped(lambda e: dataclasses.replace(e, executable=True) if e.path == "bootstrap" else e)
