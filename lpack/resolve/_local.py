"""What a requirements file reaches on this machine: files it includes with -r/-c, local packages (paths,
`name @ file:` URLs, -e) and find-links directories.

The cache keys must change when any of these does (a key over the requirements text alone served an
edited local package, or an edited `-r` file, from the cache), and uv must rebuild a changed local package
instead of reusing the wheel it built from it before: uv's own cache keys a directory on a few metadata
files' times, not on the code in it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.utils import canonicalize_name

from lpack.config.readers import read_toml
from lpack.errors import ConfigError
from lpack.staging.tree import file_sha256

_INCLUDE = ("-r", "--requirement", "-c", "--constraint")
_EDITABLE = ("-e", "--editable")
_LINKS = ("-f", "--find-links")
_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")
# Directories in a local package that are no part of what it builds into (and can be large).
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox", ".nox"})
# setuptools writes these into the package's own directory when it builds: not inputs.
_SKIP_TOP = frozenset({"build", "dist"})
_SKIP_DIRS_RE = re.compile(r".*\.egg-info$|^\..*_cache$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reached:
    files: tuple[Path, ...] = ()  # requirement and constraint files included with -r/-c, at any depth
    packages: tuple[tuple[str | None, Path], ...] = ()  # local packages: (name if known, path)
    links: tuple[Path, ...] = ()  # find-links directories named inside the files


def reach(lines: list[str], base: Path, project_dir: Path) -> Reached:
    """Everything on this machine that `lines` (read from a file in `base`) name, following -r/-c.

    Relative paths are tried against the file's directory, then the project directory (uv's working
    directory), as installers differ in which they use.
    """
    files: list[Path] = []
    packages: dict[Path, str | None] = {}
    links: list[Path] = []
    pending = [(lines, base)]
    while pending:
        current, where = pending.pop()
        for option, value in _entries(current):
            path = _local(value, where, project_dir, always=bool(option))
            if path is None:
                continue
            if option in _INCLUDE and path.is_file() and path not in files:
                files.append(path)
                pending.append((read_lines(path), path.parent))
            elif option in _LINKS and path.is_dir():
                links.append(path)
            elif option not in _INCLUDE + _LINKS and path.exists():
                packages.setdefault(path, _package_name(path))
    return Reached(files=tuple(files), packages=tuple((n, p) for p, n in packages.items()), links=tuple(links))


def read_lines(path: Path) -> list[str]:
    """A requirements file's logical lines: continuations joined, comments dropped."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace").replace("\\\n", " ")
    return [s for s in (re.sub(r"(^|\s)#.*", "", raw).strip() for raw in text.splitlines()) if s]


def _entries(lines: list[str]) -> list[tuple[str, str]]:
    # (option, value): ("-r", "base.txt"), ("-e", "./pkg"), ("", "name @ file:///x"), ("", "./pkg").
    found: list[tuple[str, str]] = []
    for line in lines:
        for option in (*_INCLUDE, *_EDITABLE, *_LINKS):
            if line == option or line.startswith((option + " ", option + "=")):
                found.append((option, line[len(option) :].lstrip(" =").split(" --")[0].strip()))
                break
            if len(option) == 2 and line.startswith(option) and not line.startswith("--"):
                found.append((option, line[2:].strip()))  # "-rbase.txt"
                break
        else:
            if not line.startswith("-"):
                found.append(("", line.split(" --")[0].split(";")[0].strip()))
    return found


def _local(value: str, where: Path, project_dir: Path, *, always: bool = False) -> Path | None:
    # `always`: the value of -r, -c, -e or -f, a path unless it is a URL.
    target = value
    if " @ " in value or "@file:" in value.replace(" ", ""):
        target = value.split("@", 1)[1].strip()
    if target.startswith("file:"):
        return _file_url_path(target)
    if "://" in target or not (always or _looks_like_path(target)):
        return None
    expanded = Path(target).expanduser()
    if expanded.is_absolute():
        return expanded.resolve()
    for root in (where, project_dir):
        if (root / expanded).exists():
            return (root / expanded).resolve()
    return (where / expanded).resolve()


def _looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or value.endswith(_ARCHIVES) or "/" in value or os.sep in value


def _package_name(path: Path) -> str | None:
    if path.is_file():
        stem = path.name.split("-")[0]
        return canonicalize_name(stem) if stem else None
    pyproject = path / "pyproject.toml"
    try:
        name = read_toml(pyproject).get("project", {}).get("name")
    except (ConfigError, AttributeError):
        return None
    return canonicalize_name(name) if isinstance(name, str) else None


def named_packages(lines: list[str]) -> dict[Path, str]:
    """Names given with `name @ file:...` in `lines` (a pyproject.toml's or the lock's), by path."""
    # packaging's requirement parser: only when a lock names a local package (not on a no-change rebuild).
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    found: dict[Path, str] = {}
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.url and req.url.startswith("file:"):
            found[_file_url_path(req.url)] = canonicalize_name(req.name)
    return found


def _file_url_path(url: str) -> Path:
    # urllib.request (http.client, ssl, email) for one function: imported when a file: URL is met.
    from urllib.request import url2pathname  # noqa: PLC0415

    return Path(url2pathname(unquote(urlparse(url).path))).resolve()


def fingerprint(reached: Reached) -> list[str]:
    """The content of everything reached: file bytes, each local package's files, find-links listings."""
    parts = [f"file {p}\n{file_sha256(p)}" for p in reached.files]
    parts += [f"package {p}\n{_tree_digest(p) if p.is_dir() else file_sha256(p)}" for _, p in reached.packages]
    parts += [f"links {p}\n{listing(p)}" for p in reached.links]
    return parts


def portable_fingerprint(reached: Reached) -> list[str]:
    """The content of the files and local packages reached, without paths or times: the same project gives the
    same parts on every machine (a committed lock's inputs digest). Find-links listings are left out: their times
    differ between checkouts, and the lock pins each wheel by hash anyway."""
    parts = [f"file\n{file_sha256(p)}" for p in reached.files]
    parts += [f"package {n}\n{_tree_digest(p) if p.is_dir() else file_sha256(p)}" for n, p in reached.packages]
    return parts


def listing(directory: Path) -> str:
    """A wheelhouse: names, sizes and times (hashing a large one on every build would cost too much)."""
    if not directory.is_dir():
        return f"{directory}: absent"
    rows = []
    for p in sorted(directory.iterdir()):
        if p.is_file():
            st = p.stat()
            rows.append(f"{p.name} {st.st_size} {st.st_mtime_ns}")
    return "\n".join(rows)


def refresh_args(reached: Reached, lines: list[str]) -> list[str]:
    """uv flags that rebuild the local packages instead of reusing uv's cached wheels of them."""
    named = named_packages(lines)
    names = {named.get(p) or n for n, p in reached.packages}
    if None in names:
        return ["--refresh"]  # a package whose name we cannot read: refresh all (slower, never stale)
    return [arg for name in sorted(n for n in names if n) for arg in ("--refresh-package", name)]


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for base, dirs, files in os.walk(root):
        top = Path(base) == root
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and not _SKIP_DIRS_RE.match(d) and not (top and d in _SKIP_TOP)
        )
        for name in sorted(files):
            path = Path(base, name)
            if path.is_file():
                digest.update(f"{path.relative_to(root).as_posix()}\0{file_sha256(path)}\0".encode())
    return digest.hexdigest()
