"""Which files a package offers, and which runtimes they would fit: the body of a no-wheel error."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from lpack import runtimes
from lpack.config.model import IndexOptions
from lpack.runtimes import Arch

_DEFAULT_INDEX = "https://pypi.org/simple"
_HREF = re.compile(r'href="([^"#]+)')


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    message: str
    hint: str


def offered_files(name: str, index: IndexOptions, project_dir: Path) -> list[str]:
    """Filenames of `name`'s distributions in the configured find-links and indexes (best effort)."""
    wanted = canonicalize_name(name)
    files: set[str] = set()
    for link in index.find_links:
        if "://" not in link and Path(link).is_dir():
            files |= {p.name for p in Path(link).iterdir() if _project_of(p.name) == wanted}
    if not index.no_index:
        for url in [index.index_url or _DEFAULT_INDEX, *index.extra_index_urls]:
            files |= _index_files(url, wanted)
    return sorted(files)


def _project_of(filename: str) -> str | None:
    if filename.endswith(".whl"):
        try:
            return canonicalize_name(parse_wheel_filename(filename)[0])
        except InvalidWheelFilename:
            return None
    stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
    return canonicalize_name(stem.rsplit("-", 1)[0]) if "-" in stem else None


def _index_files(url: str, name: str) -> set[str]:
    # PEP 691 JSON where the index speaks it, else the PEP 503 HTML page; any failure means "unknown".
    # urllib.request (http.client, ssl, email) only when an index is asked, after a resolve failed.
    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(
        f"{url.rstrip('/')}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            body = response.read().decode("utf-8", "replace")
            kind = response.headers.get("Content-Type", "")
    except (OSError, ValueError):
        return set()
    if "json" in kind:
        return {f["filename"] for f in json.loads(body).get("files", []) if "filename" in f}
    return {href.rsplit("/", 1)[-1] for href in _HREF.findall(body)}


def _wheels(files: list[str]) -> dict[str, list[tuple[Version, frozenset[Tag]]]]:
    out: dict[str, list[tuple[Version, frozenset[Tag]]]] = {}
    for filename in files:
        if filename.endswith(".whl"):
            try:
                _, version, _, tags = parse_wheel_filename(filename)
            except (InvalidWheelFilename, InvalidVersion):
                continue
            out.setdefault(str(version), []).append((version, tags))
    return out


def fits(tags: frozenset[Tag], runtime: runtimes.Runtime, arch: Arch) -> bool:
    return bool(tags & set(runtimes.supported_tags(runtime, arch)))


def describe(name: str, version: str | None, files: list[str], runtime: runtimes.Runtime, arch: Arch) -> Summary:
    by_version = _wheels(files)
    pinned = by_version.get(version, []) if version else [w for ws in by_version.values() for w in ws]
    platforms = sorted({t.platform for _, tags in pinned for t in tags})
    what = f"{name} {version}" if version else name
    message = (
        f"{what} offers wheels for {', '.join(platforms)}" if platforms else _no_wheels(what, name, version, files)
    )
    suggestions = _other_runtimes(pinned, runtime, arch) + _other_versions(by_version, runtime, arch, version)
    hint = "; or ".join(suggestions) if suggestions else f"pick a package that publishes manylinux wheels for {arch}"
    return Summary(message=message, hint=hint)


def _no_wheels(what: str, name: str, version: str | None, files: list[str]) -> str:
    sdists = [f for f in files if not f.endswith(".whl") and _version_of(f) in (version, None)]
    if sdists and version:
        return f"{what} offers no wheels (only a source distribution)"
    return f"{what} offers no wheels"


def _version_of(filename: str) -> str | None:
    stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
    return stem.rsplit("-", 1)[1] if "-" in stem else None


def _other_runtimes(wheels: list[tuple[Version, frozenset[Tag]]], runtime: runtimes.Runtime, arch: Arch) -> list[str]:
    """The closest (runtime, architecture) the wheels fit: same architecture first, then the nearest minor."""
    current = runtimes.python_runtimes()
    pairs = [
        (r, a) for r in current if not r.deprecated for a in r.architectures if (r.name, a) != (runtime.name, arch)
    ]
    ok = [(r, a) for r, a in pairs if any(fits(tags, r, a) for _, tags in wheels)]
    if not ok:
        return []
    minor = (runtime.version or (3, 0))[1]
    best, best_arch = min(ok, key=lambda ra: (ra[1] != arch, abs((ra[0].version or (3, 0))[1] - minor)))
    if best.name == runtime.name:
        return [f'use architecture = "{best_arch}"']
    why = f" (glibc {best.glibc[0]}.{best.glibc[1]})" if best.glibc != runtime.glibc else ""
    return [f'use runtime = "{best.name}"{why}' + (f' with architecture = "{best_arch}"' if best_arch != arch else "")]


def _other_versions(
    by_version: dict[str, list[tuple[Version, frozenset[Tag]]]],
    runtime: runtimes.Runtime,
    arch: Arch,
    current: str | None,
) -> list[str]:
    good = [ws[0][0] for v, ws in by_version.items() if v != current and any(fits(t, runtime, arch) for _, t in ws)]
    if not good:
        return []
    return [f"pin version {max(good)}, which has a wheel for {runtime.name}/{arch}"]
