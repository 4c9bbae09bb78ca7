"""A Runner that plays uv from a local wheelhouse, without starting a process (chalice's FakePip).

It answers the two commands a Python build runs, with what uv would leave behind:

- `uv pip compile IN -o LOCK --generate-hashes ...`: resolves IN against the `--find-links` wheels that fit the
  `--python-platform`/`--python-version` target, following Requires-Dist, and writes pip-tools' format;
- `uv pip install --target DIR ... [--no-deps] -r LOCK` (or `--no-deps WHEEL`): unpacks the pinned wheels that fit the
  target, checks their hashes under `--require-hashes`, writes console scripts with this interpreter's
  shebang into DIR/bin and leaves uv's `.lock` file, as uv does.

Anything else, an unknown option or an index other than `--find-links`, fails loudly: a test must not pass
because the pipeline started asking for something the fake quietly ignores.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence
from configparser import ConfigParser
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

_FLAGS = frozenset(
    {
        "--generate-hashes",
        "--no-header",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--quiet",
        "--no-deps",
        "--no-compile-bytecode",
        "--require-hashes",
        "--no-index",
    }
)
_VALUED = frozenset(
    {
        "-o",
        "-r",
        "--target",
        "--python-version",
        "--python-platform",
        "--link-mode",
        "--find-links",
        "--only-binary",  # lpack passes ":all:": the fake installs wheels only anyway
        "--no-binary",
        "--refresh-package",  # the fake has no cache to refresh
    }
)
# uv's console-script launcher, as uv 0.13 writes it.
_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import sys
from {module} import {func}
if __name__ == "__main__":
    if sys.argv[0].endswith("-script.pyw"):
        sys.argv[0] = sys.argv[0][:-11]
    elif sys.argv[0].endswith(".exe"):
        sys.argv[0] = sys.argv[0][:-4]
    sys.exit({func}())
"""
_LEGACY_GLIBC = {"manylinux1": 5, "manylinux2010": 12, "manylinux2014": 17}


class Unsupported(Exception):
    """The command asks for something this fake does not do."""


class UvFailure(Exception):
    """What uv would fail with: no wheel fits, or a hash does not match."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    verb: str  # "compile" or "install"
    options: Mapping[str, str]
    flags: frozenset[str]
    positional: tuple[str, ...]
    find_links: tuple[Path, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    machine: str  # "aarch64"
    glibc_minor: int  # 34 for manylinux_2_34
    python_minor: int  # 12 for 3.12

    def fits(self, tag: Tag) -> bool:
        return self._python(tag) and self._platform(tag.platform)

    def _python(self, tag: Tag) -> bool:
        match = re.fullmatch(r"(py|cp)3(\d*)", tag.interpreter)
        if match is None or (match.group(2) and int(match.group(2)) > self.python_minor):
            return False
        return tag.abi in ("none", "abi3") or tag.abi == f"cp3{self.python_minor}"

    def _platform(self, platform: str) -> bool:
        if platform == "any":
            return True
        match = re.fullmatch(r"(manylinux(?:1|2010|2014)|manylinux_2_(\d+))_(\w+)", platform)
        if match is None or match.group(3) != self.machine:
            return False  # musllinux, macOS, Windows, the other machine
        minor = int(match.group(2)) if match.group(2) else _LEGACY_GLIBC[match.group(1)]
        return minor <= self.glibc_minor


@dataclass(frozen=True, slots=True, kw_only=True)
class Wheel:
    path: Path
    name: NormalizedName
    version: Version
    tags: frozenset[Tag]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def requires(self, target: Target) -> list[Requirement]:
        with zipfile.ZipFile(self.path) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            headers = HeaderParser().parsestr(zf.read(meta).decode())
        env = {"python_version": f"3.{target.python_minor}", "sys_platform": "linux", "extra": ""}
        found = [Requirement(r) for r in headers.get_all("Requires-Dist") or []]
        return [r for r in found if r.marker is None or r.marker.evaluate(env)]


@dataclass
class FakeUv:
    """Call it as lpack calls a Runner; `calls` keeps every command, so a test can say nothing ran."""

    calls: list[list[str]] = field(default_factory=list)

    def __call__(
        self, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        args = list(cmd)
        self.calls.append(args)
        try:
            command = _parse(args)
            target = _target(command)
            wheels = _wheelhouse(command.find_links, target)
            if command.verb == "compile":
                _compile(command, target, wheels, cwd)
            else:
                _install(command, wheels, cwd)
        except Unsupported as err:
            return subprocess.CompletedProcess(args, 2, "", f"FakeUv: {err}\n")
        except UvFailure as err:
            return subprocess.CompletedProcess(args, 1, "", f"{err}\n")
        return subprocess.CompletedProcess(args, 0, "", "")

    @property
    def installs(self) -> list[list[str]]:
        return [c for c in self.calls if c[1:3] == ["pip", "install"]]


def _parse(args: list[str]) -> Command:
    if len(args) < 3 or args[1] != "pip" or args[2] not in ("compile", "install"):
        raise Unsupported(f"only `uv pip compile` and `uv pip install`, not {args[:3]}")
    options: dict[str, str] = {}
    links: list[Path] = []
    flags: set[str] = set()
    positional: list[str] = []
    rest = iter(args[3:])
    for arg in rest:
        if arg in _VALUED:
            value = next(rest)
            if arg == "--find-links":
                links.append(Path(value))
            options[arg] = value
        elif arg in _FLAGS:
            flags.add(arg)
        elif arg.startswith("-"):
            raise Unsupported(f"option {arg}")
        else:
            positional.append(arg)
    if "--no-index" not in flags or not links:
        raise Unsupported("installs only offline: --no-index with --find-links")
    return Command(
        verb=args[2], options=options, flags=frozenset(flags), positional=tuple(positional), find_links=tuple(links)
    )


def _target(command: Command) -> Target:
    machine, _, platform = command.options["--python-platform"].partition("-")
    match = re.fullmatch(r"manylinux_2_(\d+)", platform)
    if match is None:
        raise Unsupported(f"--python-platform {command.options['--python-platform']}")
    python_minor = int(command.options["--python-version"].split(".")[1])
    return Target(machine=machine, glibc_minor=int(match.group(1)), python_minor=python_minor)


def _wheelhouse(links: tuple[Path, ...], target: Target) -> dict[NormalizedName, list[Wheel]]:
    """Every wheel in the find-links folders, by name, best version first; only those that fit `target`."""
    found: dict[NormalizedName, list[Wheel]] = {}
    for folder in links:
        for path in sorted(folder.glob("*.whl")):
            name, version, _, tags = parse_wheel_filename(path.name)
            wheel = Wheel(path=path, name=name, version=version, tags=frozenset(tags))
            if any(target.fits(tag) for tag in wheel.tags):
                found.setdefault(name, []).append(wheel)
    return {name: sorted(ws, key=lambda w: w.version, reverse=True) for name, ws in found.items()}


def _compile(command: Command, target: Target, wheels: Mapping[NormalizedName, list[Wheel]], cwd: Path | None) -> None:
    infile = Path(command.positional[0])
    wanted = [Requirement(ln) for ln in _lines(infile.read_text())]
    pins: dict[NormalizedName, Wheel] = {}
    via: dict[NormalizedName, set[str]] = {}
    queue = [(req, f"-r {infile.name}") for req in wanted]
    while queue:
        req, parent = queue.pop(0)
        name = canonicalize_name(req.name)
        via.setdefault(name, set()).add(parent)
        if name in pins:
            continue
        fitting = [w for w in wheels.get(name, []) if req.specifier.contains(w.version, prereleases=True)]
        if not fitting:
            raise UvFailure(
                f"No solution found: because {name} has no wheels with a matching platform tag, {req} fails"
            )
        pins[name] = fitting[0]
        queue += [(dep, name) for dep in fitting[0].requires(target)]
    lines = []
    for name in sorted(pins):
        same = sorted({w.sha256 for w in _all_files(command.find_links, name, pins[name].version)})
        lines.append(f"{name}=={pins[name].version}" + "".join(f" \\\n    --hash=sha256:{h}" for h in same))
        lines.append(f"    # via {', '.join(sorted(via[name]))}")
    Path(cwd or ".", command.options["-o"]).write_text("\n".join(lines) + "\n")


def _all_files(links: tuple[Path, ...], name: str, version: Version) -> list[Wheel]:
    """uv's --generate-hashes lists every file of the pinned version, for every platform."""
    found = []
    for folder in links:
        for path in folder.glob("*.whl"):
            wname, wversion, _, tags = parse_wheel_filename(path.name)
            if wname == name and wversion == version:
                found.append(Wheel(path=path, name=wname, version=wversion, tags=frozenset(tags)))
    return found


def _install(command: Command, wheels: Mapping[NormalizedName, list[Wheel]], cwd: Path | None) -> None:
    dest = Path(cwd or ".", command.options["--target"])
    # `--no-deps WHEEL` (the project's own wheel) or `[--no-deps] -r LOCK` (the fake never follows dependencies:
    # a lock names them all, and with --no-deps a part of one names just what is wanted).
    chosen = [Path(p) for p in command.positional]
    if "-r" in command.options:
        lock = Path(command.options["-r"])
        chosen += [_pick(name, pin, hashes, wheels, command) for name, pin, hashes in _pins(lock)]
    dest.mkdir(parents=True, exist_ok=True)
    for wheel in chosen:
        _unpack(wheel, dest)
    (dest / ".lock").write_text("")  # uv's lock on the target directory: lpack must leave it out


def _pins(lock: Path) -> list[tuple[NormalizedName, str, set[str]]]:
    text = lock.read_text().replace("\\\n", " ")
    found = []
    for line in _lines(text):
        spec, *hashes = line.split(" --hash=sha256:")
        name, _, version = spec.strip().partition("==")
        found.append((canonicalize_name(name), version, {h.strip() for h in hashes}))
    return found


def _pick(
    name: NormalizedName, version: str, hashes: set[str], wheels: Mapping[NormalizedName, list[Wheel]], command: Command
) -> Path:
    fitting = [w for w in wheels.get(name, []) if w.version == Version(version)]
    if not fitting:
        raise UvFailure(f"No solution found: because {name}=={version} has no wheels with a matching platform tag")
    wheel = fitting[0]
    if "--require-hashes" in command.flags and wheel.sha256 not in hashes:
        raise UvFailure(f"Hash mismatch for `{name}=={version}`")
    return wheel.path


def _unpack(wheel: Path, dest: Path) -> None:
    scripts: list[str] = []
    record: Path | None = None
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            path = dest / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(zf.read(info))
            path.chmod(0o755 if (info.external_attr >> 16) & 0o111 else 0o644)
            if info.filename.endswith(".dist-info/entry_points.txt"):
                scripts += _scripts(zf.read(info).decode(), dest / "bin")
            if info.filename.endswith(".dist-info/RECORD"):
                record = path
                _installer_files(path.parent)
    if record is not None:  # uv lists what it installed: the scripts it wrote and its own dist-info files
        added = [f"bin/{name}" for name in scripts] + [
            f"{record.parent.name}/{name}" for name in ("INSTALLER", "REQUESTED", "uv_cache.json")
        ]
        with record.open("a") as fh:
            fh.writelines(f"{rel},,\n" for rel in added)


def _installer_files(dist_info: Path) -> None:
    """What uv adds to a dist-info; uv_cache.json holds the time, which must never reach an artifact."""
    (dist_info / "INSTALLER").write_text("uv\n")
    (dist_info / "REQUESTED").write_text("")
    (dist_info / "uv_cache.json").write_text(json.dumps({"timestamp": {"secs_since_epoch": time.time_ns()}}))


def _scripts(entry_points: str, bin_dir: Path) -> list[str]:
    parser = ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(entry_points)
    if not parser.has_section("console_scripts"):
        return []
    bin_dir.mkdir(exist_ok=True)
    for script, target in parser.items("console_scripts"):
        module, _, func = target.strip().partition(":")
        path = bin_dir / script
        path.write_text(_SCRIPT.format(python=sys.executable, module=module, func=func))
        path.chmod(0o755)
    return [script for script, _ in parser.items("console_scripts")]


def _lines(text: str) -> list[str]:
    return [ln for ln in (raw.split("#")[0].strip() for raw in text.splitlines()) if ln and not ln.startswith("-")]
