"""Console scripts an installer wrote for this machine, made to run on Lambda."""

from __future__ import annotations

from pathlib import Path

from lpack.staging.tree import Entry, StagingTree, retarget

_MAX_SCRIPT = 1 << 20  # a bigger file in bin/ is a program, not a script with a shebang to fix


def normalize_scripts(tree: StagingTree, overlay: Path) -> StagingTree:
    """Console scripts get `#!/usr/bin/env python3`: the installer wrote this machine's interpreter path."""

    def fix(entry: Entry) -> Entry:
        if not entry.path.startswith("bin/") or entry.size > _MAX_SCRIPT:
            return entry
        data = entry.source.read_bytes()
        first, sep, rest = data.partition(b"\n")
        if not first.startswith(b"#!/") or b"python" not in first:
            return entry
        target = overlay / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"#!/usr/bin/env python3" + sep + rest)
        return retarget(entry, target)

    return tree.mapped(fix)
