"""Installed distributions in a staging tree: their files and who requires whom (from *.dist-info)."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name

from lpack.staging.packages import Member, python_owners, site_relative
from lpack.staging.tree import StagingTree


@dataclass(frozen=True, slots=True, kw_only=True)
class Dist:
    name: str  # canonical: "python-dateutil"
    version: str
    dist_info: str  # "python_dateutil-2.9.0.dist-info"
    requires: frozenset[str]  # canonical names, any marker or extra: a superset is the safe side
    files: frozenset[str]  # archive paths: from RECORD, else the top_level.txt modules, and the dist-info


def distributions(tree: StagingTree) -> dict[str, Dist]:
    sources = {e.path: e.source for e in tree}
    owners = python_owners([Member(path=e.path, size=e.size) for e in tree], lambda p: sources[p].read_bytes())
    files: dict[str, set[str]] = {}
    for path in sources:
        name = owners.owner(site_relative(path))
        if name is not None:
            files.setdefault(name, set()).add(path)
    return {
        name: Dist(
            name=name,
            version=version,
            dist_info=owners.dist_infos[name],
            requires=owners.requires[name],
            files=frozenset(files.get(name, ())),
        )
        for name, version in sorted(owners.versions.items())
    }


def removable_paths(tree: StagingTree, provided: set[str], direct: set[str]) -> set[str]:
    """Files of the `provided` distributions and of everything only they need, transitively.

    What a kept distribution needs stays, so `requests` keeps `urllib3` when boto3 goes, and so does
    what the user asked for by name (`direct`): their code may import jmespath itself.
    """
    dists = distributions(tree)
    doomed = removable_dists({name: d.requires for name, d in dists.items()}, provided, direct)
    present = tree.paths()
    return {f for name in doomed for f in dists[name].files if f in present}


def removable_dists(requires: dict[str, frozenset[str]], provided: set[str], direct: set[str]) -> set[str]:
    """The canonical names `removable_paths` removes, from each distribution's `requires` (`lpack check`)."""
    provided = {str(canonicalize_name(p)) for p in provided} & set(requires)
    if not provided:
        return set()
    required_by_anyone = {r for needs in requires.values() for r in needs}
    direct = {str(canonicalize_name(d)) for d in direct}
    roots = (set(requires) - required_by_anyone - provided) | _roots_kept_by_cycles(requires, provided)
    roots |= (direct & set(requires)) - provided
    return set(requires) - _closure(roots, requires, stop=provided)


def _closure(start: set[str], requires: dict[str, frozenset[str]], *, stop: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [s for s in start if s not in stop]
    while todo:
        name = todo.pop()
        if name in seen or name not in requires:
            continue
        seen.add(name)
        todo.extend(r for r in requires[name] if r not in stop)
    return seen


def _roots_kept_by_cycles(requires: dict[str, frozenset[str]], provided: set[str]) -> set[str]:
    # A distribution that is required only by provided ones goes; but one in a dependency cycle with no
    # outside root would look unreachable. Keep those cycles unless the provided set reaches them.
    from_provided = _closure(set().union(*(requires[p] for p in provided)), requires, stop=provided)
    everything = _closure(set(requires) - provided, requires, stop=provided)
    return {d for d in everything - from_provided if d not in provided}
