"""What to install: a lock file (given, or made from requirements.in / [project] deps) and built wheels."""

from __future__ import annotations

import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from packaging.utils import canonicalize_name, parse_wheel_filename

from lpack.config.deps import kind_of
from lpack.config.load import read_toml
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve import committed as _committed
from lpack.resolve._binary import newer_releases, run_binary_only
from lpack.resolve._errors import explain_failure
from lpack.resolve._local import reach, read_lines, refresh_args
from lpack.resolve._pip import pip_fallback_note, pip_lock, uv_falls_short
from lpack.resolve.locks import export as export_lock
from lpack.resolve.locks import lock_format
from lpack.resolve.runner import Runner, index_args, installer_env, target_label, uv_bin, uv_env, uv_target_args

# packaging's requirement parser and email's header parser are imported where a resolve reads requirements or a
# wheel's METADATA: a no-change rebuild imports this module and never gets there.
if TYPE_CHECKING:
    from packaging.requirements import Requirement


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    lock: Path | None  # pinned requirements to install (with hashes when we made them)
    direct: frozenset[str]  # what the user named: never removed as "only needed by boto3"
    label: str = ""  # what the user wrote: "requirements.in", "pyproject.toml [project] dependencies"
    wheels: tuple[Path, ...] = ()  # the project's own wheel, installed with --no-deps after the lock
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())  # what the user should act on (an outdated committed lock)


class Locker(Protocol):
    """Locks `lines` (written in `infile`) for `fn`'s target into `lock`; returns notes on what was done."""

    def __call__(
        self, fn: FunctionConfig, lines: list[str], infile: Path, lock: Path, runner: Runner, *, what: str
    ) -> list[str]: ...


def lock_fresh(
    fn: FunctionConfig, lines: list[str], infile: Path, lock: Path, runner: Runner, *, what: str
) -> list[str]:
    """The Locker that always runs the resolver; the pipeline may wrap it in a cache."""
    notes = [f"locked {what} with hashes"]
    lock_requirements(fn, infile, lock, runner, what=what, notes=notes)
    return notes + newer_releases(fn, lines, lock)


def display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def has_hashes(lock: Path) -> bool:
    return "--hash=" in read_requirements(lock)


def gather(
    fn: FunctionConfig, work: Path, runner: Runner, *, locker: Locker = lock_fresh, committed: bool = True
) -> Inputs:
    """The lock to install (made by `locker` for the target) and the project's own wheel.

    With `committed`, a lock `lpack lock` wrote into the project stands in for `locker` while it matches its
    inputs (and must, with `fn.locked`).
    """
    warnings: list[str] = []
    plain = locker
    if committed:
        locker = _committed_first(locker, warnings)
    inputs = _gather(fn, work, runner, locker, warnings if committed else None, plain=plain)
    if warnings:
        inputs = replace(inputs, warnings=(*inputs.warnings, *warnings))
    return replace(inputs, notes=(fn.dependency_note, *inputs.notes)) if fn.dependency_note else inputs


def _committed_first(inner: Locker, warnings: list[str]) -> Locker:
    def locked(
        fn: FunctionConfig, lines: list[str], infile: Path, lock: Path, runner: Runner, *, what: str
    ) -> list[str]:
        if _committed.use_committed(fn, _committed.lines_digest(fn, lines, infile), lock, warnings):
            return [f"installed {_committed.shown(_committed.committed_path(fn), fn)}, locked from {what}"]
        return inner(fn, lines, infile, lock, runner, what=what)

    return locked


def _gather(
    fn: FunctionConfig, work: Path, runner: Runner, locker: Locker, warnings: list[str] | None, *, plain: Locker
) -> Inputs:
    # Without a file from the config or discovery (a layer, a config built in code): the project's pyproject.
    path = fn.requirements or fn.project_dir / "pyproject.toml"
    if fn.requirements is None and not path.is_file():
        return Inputs(lock=None, direct=frozenset())
    if kind_of(path) == "pyproject":
        return _from_pyproject(fn, path, work, runner, locker)
    return _from_requirements(fn, path, work, runner, locker, warnings=warnings, plain=plain)


def _from_pyproject(fn: FunctionConfig, path: Path, work: Path, runner: Runner, locker: Locker) -> Inputs:
    if not path.is_file():
        raise ConfigError(
            f"{display(path, fn.project_dir)}: requirements file not found",
            hint="fix `requirements` in the config, or create the file",
        )
    data = read_toml(path)
    project = data.get("project") if isinstance(data.get("project"), dict) else None
    if project is None:
        return Inputs(lock=None, direct=frozenset())
    if "build-system" in data and not fn.source_set and path.parent.resolve() == fn.project_dir.resolve():
        return _from_built_wheel(fn, project, work, runner, locker)
    deps = [str(d) for d in project.get("dependencies", [])]
    what = f"{display(path, fn.project_dir)} [project] dependencies"
    return _locked(fn, deps, work, runner, what, locker=locker)


def _from_requirements(
    fn: FunctionConfig,
    path: Path,
    work: Path,
    runner: Runner,
    locker: Locker,
    *,
    warnings: list[str] | None,
    plain: Locker,
) -> Inputs:
    if not path.is_file():
        raise ConfigError(
            f"{display(path, fn.project_dir)}: requirements file not found",
            hint="fix `requirements` in the config, or create the file",
        )
    if lock_format(path) is not None:
        if warnings is not None:
            _committed.check_committed(fn, _committed.lock_file_digest(fn, path), warnings)
        return _from_lock(fn, path, work, runner)
    if kind_of(path) == "requirements-in":
        # The .in is the user's intent; lock it for this target, as pip-compile would, with hashes.
        lines = _requirement_lines(path)
        return _locked(fn, lines, work, runner, display(path, fn.project_dir), source=path, locker=locker)
    if not has_hashes(path):
        # A requirements.txt is the user's lock (`lpack lock` leaves it be, --locked asks nothing of it), but one
        # without hashes is locked for the target too, into the cache only: its wheels are then installed and
        # cached one by one, shared with other locks and machines, instead of resolved by every install.
        lines = _requirement_lines(path)
        return _locked(fn, lines, work, runner, display(path, fn.project_dir), source=path, locker=plain)
    return Inputs(lock=path, direct=direct_names(path), label=display(path, fn.project_dir))


def _from_lock(fn: FunctionConfig, path: Path, work: Path, runner: Runner) -> Inputs:
    # Another tool's lock: its pins and hashes for this target, written as requirements for the installer.
    lines, direct = export_lock(path, fn, runner)
    label = display(path, fn.project_dir)
    if not lines:
        return Inputs(lock=None, direct=direct, label=label)
    lock = work / "requirements.lock.txt"
    lock.write_text("\n".join(lines) + "\n")
    return Inputs(lock=lock, direct=direct, label=label, notes=(f"pins and hashes from {label}",))


def _requirement_lines(path: Path) -> list[str]:
    return [ln for ln in (raw.split(" #")[0].strip() for raw in read_requirements(path).splitlines()) if ln]


def read_requirements(path: Path) -> str:
    """A requirements file's text; pip and uv read them as UTF-8, so any other byte is the user's to fix."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path.name}: not UTF-8 (line {line})", hint="save the file as UTF-8") from None


def _locked(
    fn: FunctionConfig,
    lines: list[str],
    work: Path,
    runner: Runner,
    what: str,
    *,
    source: Path | None = None,
    locker: Locker,
) -> Inputs:
    if not lines:
        return Inputs(lock=None, direct=frozenset())
    infile = source or work / "requirements.in"
    if source is None:
        infile.write_text("\n".join(lines) + "\n")
    lock = work / "requirements.lock.txt"
    notes = locker(fn, lines, infile, lock, runner, what=what)
    names = {canonicalize_name(r.name) for r in map(_parse, lines) if r is not None}
    return Inputs(lock=lock, direct=frozenset(names), label=what, notes=tuple(notes))


def _parse(line: str) -> Requirement | None:
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415 - see the imports

    try:
        return Requirement(line)
    except InvalidRequirement:
        return None  # an option line such as "--index-url": uv reads it from the file itself


def lock_requirements(
    fn: FunctionConfig, infile: Path, lock: Path, runner: Runner, *, what: str, notes: list[str]
) -> None:
    """pip-tools' format (pinned, --hash per file, `# via` notes), resolved for the target's markers."""
    assert fn.runtime.version is not None
    cmd = [
        uv_bin(),
        "pip",
        "compile",
        str(infile),
        "-o",
        str(lock),
        "--generate-hashes",
        "--no-header",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--quiet",
        *uv_target_args(fn),
        *index_args(fn.index),
        *refresh_args(reach(read_lines(infile), infile.parent, fn.project_dir), read_lines(infile)),
    ]
    proc, _ = run_binary_only(fn, lambda extra: runner([*cmd, *extra], env=uv_env(), cwd=fn.project_dir))
    if proc.returncode == 0:
        _carry_index_options(infile, lock)
        return
    where = f"{what} for {target_label(fn)}"
    output = proc.stdout + proc.stderr
    if not uv_falls_short(fn, output):
        raise explain_failure(fn, output, where, " ".join(proc.args))
    pip_lock(fn, infile, lock, runner, where, uv_output=output)
    _carry_index_options(infile, lock)
    notes.append(pip_fallback_note(fn, "locked"))


# Lines of a requirements.in that say where packages come from, in pip's spellings.
_INDEX_OPTION = re.compile(
    r"^\s*(?P<opt>--index-url|-i|--extra-index-url|--find-links|-f|--no-index)(?:\s*[= ]\s*(?P<value>\S+))?\s*$"
)


def _carry_index_options(infile: Path, lock: Path) -> None:
    """The .in's own index lines, put at the top of the lock, so the install uses the index the lock came from.

    The lock is written with --no-emit-index-url (a command line's index URL, password and all, stays out of
    it); without this, an `--index-url` line in requirements.in locked from one index and installed from another.
    """
    carried = []
    for raw in read_requirements(infile).splitlines():
        match = _INDEX_OPTION.match(raw.split(" #")[0])
        if match is None:
            continue
        value = match.group("value")
        if value and match.group("opt") in ("--find-links", "-f") and "://" not in value:
            value = str((infile.parent / value).resolve())  # relative to the .in, not to the lock's directory
        carried.append(f"{match.group('opt')} {value}" if value else match.group("opt"))
    if carried:
        lock.write_text("\n".join(carried) + "\n" + read_requirements(lock))


def direct_names(lock: Path) -> frozenset[str]:
    """Names in a requirements file that the user asked for, not only pulled in by another package.

    pip-tools notes each pin with `# via ...`, in an indented block or on the pin's own line; a pin with
    no note, or one via `-r file`, is direct. A pin only `-c constraints.txt` names is not: a constraint
    never asks for a package.
    """
    pins: list[tuple[str, list[str]]] = []
    for raw in read_requirements(lock).splitlines():
        code, _, comment = raw.partition("#")
        note = comment.strip()
        indented = raw[:1] in (" ", "\t")
        if note.startswith("via"):
            note = note[3:].strip()
        elif not indented:
            note = ""  # a plain comment after a pin ("# we call it ourselves") says nothing about who needs it
        notes = [n.strip() for n in note.split(",") if n.strip()] if note else []
        if indented or not code.strip():
            if pins and indented:
                pins[-1][1].extend(notes)  # an indented `# via` block belongs to the pin above
            continue
        req = _parse(code.split(" --")[0].split("\t--")[0].rstrip("\\ \t"))
        if req is not None:
            pins.append((canonicalize_name(req.name), notes))
    return frozenset(name for name, via in pins if not via or any(v.startswith("-r") for v in via))


def _from_built_wheel(
    fn: FunctionConfig, project: dict[str, object], work: Path, runner: Runner, locker: Locker
) -> Inputs:
    """Build the project with pypa/build, then lock its dependencies and install it after them."""
    out = work / "wheel"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(fn.project_dir)]
    proc = runner(cmd, env=installer_env(), cwd=fn.project_dir)
    wheels = sorted(out.glob("*.whl")) if out.is_dir() else []
    if proc.returncode != 0 or len(wheels) != 1:
        last = next((ln for ln in reversed((proc.stdout + proc.stderr).splitlines()) if ln.strip()), "no wheel")
        raise ResolveError(
            f"building {fn.project_dir.name} into a wheel: {last.strip()}",
            hint="run `python -m build --wheel` in the project to see why",
            details=proc.stdout + proc.stderr,
        )
    wheel = wheels[0]
    _check_pure(wheel, fn)
    deps = _wheel_requires(wheel)
    inputs = _locked(fn, deps, work, runner, f"{wheel.name} dependencies", locker=locker)
    name = canonicalize_name(str(project.get("name", wheel.name.split("-")[0])))
    return Inputs(
        lock=inputs.lock,
        direct=inputs.direct | {name},
        wheels=(wheel,),
        label=inputs.label,
        notes=(*inputs.notes, f"built {wheel.name}"),
    )


def _check_pure(wheel: Path, fn: FunctionConfig) -> None:
    _, _, _, tags = parse_wheel_filename(wheel.name)
    if not any(t.abi == "none" and t.platform == "any" for t in tags):
        raise ResolveError(
            f"{wheel.name}: the project builds a platform wheel on this machine, "
            f"which cannot run on {fn.runtime.name}/{fn.architecture}",
            hint="keep native code in a dependency with manylinux wheels, or build on the target",
        )


def _wheel_requires(wheel: Path) -> list[str]:
    from email.parser import HeaderParser  # noqa: PLC0415 - see the imports

    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = HeaderParser().parsestr(zf.read(meta_name).decode("utf-8"))
    return list(meta.get_all("Requires-Dist") or [])
