"""How `lpack verify` cuts the handler off the network: bubblewrap or unshare when this system offers one.

The handler is the artifact's own code, run on this machine: without a network namespace it could reach
anything this machine reaches (a metadata endpoint, a database on localhost). A new network namespace has
only a loopback interface, down, so every connection fails. Each way is probed once per process, by running
`true` through it, since a container or a hardened kernel may forbid user namespaces.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Isolation:
    name: str  # "bwrap", "unshare", or "none"
    prefix: tuple[str, ...]  # put in front of the child's command line


NONE = Isolation(name="none", prefix=())


@functools.cache
def network_isolation() -> Isolation:
    """The first way to run a command without network that works here; NONE when none does."""
    for candidate in _candidates():
        if _works(candidate.prefix):
            return candidate
    return NONE


def _candidates() -> list[Isolation]:
    found = []
    bwrap = shutil.which("bwrap")
    if bwrap:
        # The whole filesystem as it is (the unpacked tree, the interpreter), only the network taken away.
        found.append(
            Isolation(name="bwrap", prefix=(bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent"))
        )
    unshare = shutil.which("unshare")
    if unshare:
        if os.geteuid() == 0:
            found.append(Isolation(name="unshare", prefix=(unshare, "--net")))
        # A user namespace mapping this user to itself (not to root: root there could write the read-only tree).
        found.append(Isolation(name="unshare", prefix=(unshare, "--user", "--map-current-user", "--net")))
    return found


def _works(prefix: tuple[str, ...]) -> bool:
    true = shutil.which("true") or "/bin/true"
    try:
        done = subprocess.run([*prefix, true], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
