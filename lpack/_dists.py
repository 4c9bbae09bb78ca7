"""Installed distributions in a staging tree: their files and who requires whom (from *.dist-info)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from lpack.staging import StagingTree


@dataclass(frozen=True, slots=True, kw_only=True)
class Dist:
    name: str  # canonical: "python-dateutil"
    version: str
    dist_info: str  # "python_dateutil-2.9.0.dist-info"
    requires: frozenset[str]  # canonical names, any marker or extra: a superset is the safe side
    files: frozenset[str]  # archive paths, from RECORD (or the dist-info dir alone without one)


def distributions(tree: StagingTree) -> dict[str, Dist]:
    by_dir: dict[str, dict[str, str]] = {}
    for entry in tree:
        parts = entry.path.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in ("METADATA", "RECORD"):
            by_dir.setdefault(parts[0], {})[parts[1]] = entry.source.read_text(encoding="utf-8", errors="replace")
    dists = [_dist(d, texts, tree) for d, texts in sorted(by_dir.items()) if "METADATA" in texts]
    return {d.name: d for d in dists}


def _dist(dist_info: str, texts: dict[str, str], tree: StagingTree) -> Dist:
    meta = HeaderParser().parsestr(texts["METADATA"])
    requires = set()
    for line in meta.get_all("Requires-Dist") or []:
        try:
            requires.add(canonicalize_name(Requirement(line).name))
        except InvalidRequirement:
            continue
    files = {f"{dist_info}/{p.name}" for p in map(PurePosixPath, tree.paths()) if str(p.parent) == dist_info}
    for row in csv.reader(io.StringIO(texts.get("RECORD", ""))):
        # RECORD paths are relative to site-packages; scripts sit outside it ("../../bin/x"): skip those.
        if row and not row[0].startswith(("../", "/")):
            files.add(row[0])
    return Dist(
        name=canonicalize_name(meta.get("Name", dist_info.split("-", maxsplit=1)[0])),
        version=meta.get("Version", ""),
        dist_info=dist_info,
        requires=frozenset(requires),
        files=frozenset(files),
    )


def removable_paths(tree: StagingTree, provided: set[str], direct: set[str]) -> set[str]:
    """Files of the `provided` distributions and of everything only they need, transitively.

    What a kept distribution needs stays, so `requests` keeps `urllib3` when boto3 goes, and so does
    what the user asked for by name (`direct`): their code may import jmespath itself.
    """
    dists = distributions(tree)
    provided = {str(canonicalize_name(p)) for p in provided} & set(dists)
    if not provided:
        return set()
    required_by_anyone = {r for d in dists.values() for r in d.requires}
    direct = {str(canonicalize_name(d)) for d in direct}
    roots = (set(dists) - required_by_anyone - provided) | _roots_kept_by_cycles(dists, provided)
    roots |= (direct & set(dists)) - provided
    reachable = _closure(roots, dists, stop=provided)
    doomed = set(dists) - reachable
    present = tree.paths()
    return {f for name in doomed for f in dists[name].files if f in present}


def _closure(start: set[str], dists: dict[str, Dist], *, stop: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [s for s in start if s not in stop]
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        todo.extend(r for r in dists[name].requires if r not in stop)
    return seen


def _roots_kept_by_cycles(dists: dict[str, Dist], provided: set[str]) -> set[str]:
    # A distribution that is required only by provided ones goes; but one in a dependency cycle with no
    # outside root would look unreachable. Keep those cycles unless the provided set reaches them.
    from_provided = _closure(set().union(*(dists[p].requires for p in provided)), dists, stop=provided)
    everything = _closure(set(dists) - provided, dists, stop=provided)
    return {d for d in everything - from_provided if d not in provided}
