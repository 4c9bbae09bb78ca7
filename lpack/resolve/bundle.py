"""A Node.js function as one esbuild bundle: TypeScript or JavaScript, CommonJS or ESM, for the runtime's Node.js.

The project is copied into the build's work directory without its node_modules, and `npm ci` installs the lock
there for the Lambda target, so esbuild resolves exactly what the lock pins (never the developer's own
node_modules, with its dev tools and host binaries). The bundle lands where Lambda looks for the handler
("src/index.handler" -> src/index.js, or src/index.mjs for ESM); packages that cannot be bundled stay external
and ship in node_modules with what they need. Type checking stays the user's (`tsc --noEmit`): esbuild only strips
types.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from lpack.cache import Cache
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve import node_packages
from lpack.resolve.esbuild import Esbuild, find_esbuild
from lpack.resolve.node import direct_dependencies
from lpack.resolve.node_cache import NOT_PROJECT, install
from lpack.resolve.result import BundleReport, PackageBytes, Resolved
from lpack.resolve.runner import Runner, installer_env, target_label
from lpack.units import format_size

# The handler's module path decides the entry; TypeScript first, as a compiled .js beside it is its output.
ENTRY_EXTENSIONS = (".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs", ".jsx")
_ESM = (".mts", ".mjs")
_CJS = (".cts", ".cjs")
_NOT_COPIED = shutil.ignore_patterns(*NOT_PROJECT)
REQUIRE_SHIM = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);"
PROJECT = "(project)"


def bundle(fn: FunctionConfig, work: Path, dest: Path, *, runner: Runner, cache: Cache | None) -> Resolved:
    """Bundle `fn`'s handler into `dest` and install its external packages into `dest`/node_modules."""
    assert fn.bundle is not None
    project = work / "project"
    source = _source_within(fn)
    shutil.copytree(fn.project_dir, project, symlinks=True, ignore=_NOT_COPIED)
    installed = install(fn, project, runner, cache)
    entry = entry_file(fn, project / source)
    fmt = output_format(entry, project)
    # esbuild is a tool, not a build result: it stays in lpack's cache even for a build without one.
    esbuild = find_esbuild((cache or Cache.default()).root, runner=runner)
    natives = node_packages.native(project) if installed else set()
    provided = {"@aws-sdk/*"} if fn.exclude_runtime_provided else set()
    externals = sorted(natives | set(fn.external))
    module = fn.handler.rsplit(".", 1)[0]
    ext = ".mjs" if fmt == "esm" else ".js"
    out, staged = dest / f"{module}{ext}", project / f"{module}.lpack-bundle{ext}"
    args = esbuild_args(fn, entry.relative_to(project), staged, work / "meta.json", fmt=fmt, project=project)
    args += [f"--external:{name}" for name in [*externals, *sorted(provided)]]
    warnings = _run(fn, esbuild, args, project=project, runner=runner, entry=entry.relative_to(project).as_posix())
    place_output(staged, out, sourcemap=fn.bundle.sourcemap == "file")
    shipped = node_packages.closure(project, [n for n in externals if "*" not in n])
    node_packages.copy_packages(project, shipped, dest)
    output = out.relative_to(dest).as_posix()
    report = _report(fn, esbuild, work / "meta.json", output, fmt=fmt, shipped=shipped)
    report = replace(report, entry=entry.relative_to(project).as_posix(), bundled=_versioned(report.bundled, project))
    direct = direct_dependencies(node_packages.manifest(project)) if installed else set()
    return Resolved(
        lock=None,
        direct=frozenset(direct),
        installer="npm+esbuild" if installed else "esbuild",
        notes=_notes(fn, esbuild, report),
        warnings=(*warnings, *_unused_patterns(fn)),
        bundle=report,
    )


def _unused_patterns(fn: FunctionConfig) -> list[str]:
    if not fn.include and not fn.exclude:
        return []
    return ["include/exclude select sources, but a bundle holds the code esbuild reaches from the handler: ignored"]


def _source_within(fn: FunctionConfig) -> Path:
    try:
        return fn.source.relative_to(fn.project_dir.resolve())
    except ValueError:
        raise ConfigError(
            f"source: {fn.source.name} is outside the project; a bundle resolves packages from the project's lock",
            hint="move the sources under the project directory, or set bundle = false",
        ) from None


def entry_file(fn: FunctionConfig, source: Path) -> Path:
    """The handler's source file: "src/index.handler" -> src/index.ts (or .mts, .cts, .js, .mjs, .cjs)."""
    module = fn.handler.rsplit(".", 1)[0]
    for ext in ENTRY_EXTENSIONS:
        if (source / f"{module}{ext}").is_file():
            return source / f"{module}{ext}"
    raise ConfigError(
        f'handler "{fn.handler}": none of {", ".join(module + e for e in ENTRY_EXTENSIONS[:6])} is in the sources',
        hint="fix `handler` (its module path names the entry file, relative to `source`)",
    )


def output_format(entry: Path, project: Path) -> str:
    """ESM for .mts/.mjs, or any other entry of a `"type": "module"` package; CommonJS otherwise."""
    if entry.suffix in _ESM:
        return "esm"
    if entry.suffix in _CJS:
        return "cjs"
    return "esm" if node_packages.manifest(project).get("type") == "module" else "cjs"


def node_target(fn: FunctionConfig) -> str:
    assert fn.bundle is not None
    return fn.bundle.target or f"node{fn.runtime.version[0] if fn.runtime.version else 20}"


def esbuild_args(fn: FunctionConfig, entry: Path, out: Path, meta: Path, *, fmt: str, project: Path) -> list[str]:
    options = fn.bundle
    assert options is not None
    args = [entry.as_posix(), "--bundle", "--platform=node", f"--target={node_target(fn)}", f"--format={fmt}"]
    args += [f"--outfile={out}", f"--metafile={meta}", "--log-level=warning", "--color=false", "--charset=utf8"]
    args += ["--minify"] if options.minify else []
    args += {"off": [], "inline": ["--sourcemap=inline"], "file": ["--sourcemap=external"]}[options.sourcemap]
    args += ["--tsconfig=tsconfig.json"] if (project / "tsconfig.json").is_file() else []
    args += [f"--define:{name}={value}" for name, value in options.define]
    banner = "\n".join(
        b for b in ((REQUIRE_SHIM if fmt == "esm" and options.require_shim else ""), options.banner) if b
    )
    args += [f"--banner:js={banner}"] if banner else []
    return args


def place_output(staged: Path, out: Path, *, sourcemap: bool) -> None:
    """Move the bundle (and its map) from beside the entry to its place in the artifact.

    esbuild writes it inside the project copy, at the entry's depth, so the map's `sources` read as they will
    on Lambda ("index.ts", "../node_modules/x/index.js" from /var/task/src); its name there cannot collide
    with the entry, and the `sourceMappingURL` comment names the map's final name.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staged.replace(out)
    if sourcemap:
        staged.with_name(staged.name + ".map").replace(out.with_name(out.name + ".map"))
        with out.open("a", encoding="utf-8") as fh:
            fh.write(f"//# sourceMappingURL={out.name}.map\n")


def _run(
    fn: FunctionConfig, esbuild: Esbuild, args: list[str], *, project: Path, runner: Runner, entry: str
) -> list[str]:
    proc = runner([str(esbuild.path), *args], env=installer_env({"NO_COLOR": "1"}), cwd=project)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        first = next((ln for ln in output.splitlines() if "[ERROR]" in ln), output.splitlines()[0] if output else "")
        where = _location(output)
        raise ResolveError(
            f"bundling {entry} for {target_label(fn)}: {first.replace('✘', '').replace('[ERROR]', '').strip()}"
            + (f" ({where})" if where else ""),
            hint="a package missing from package.json's dependencies? add it, or name it in `external`",
            details=f"$ esbuild {' '.join(args)}\n{output}",
        )
    return [
        f"esbuild: {ln.replace('▲', '').replace('[WARNING]', '').strip()}"
        for ln in output.splitlines()
        if "[WARNING]" in ln
    ]


def _location(output: str) -> str:
    # esbuild prints the place as "    src/index.ts:3:20:" under the message.
    for line in output.splitlines():
        text = line.strip()
        if text.count(":") >= 3 and text.endswith(":") and " " not in text:
            return text.rstrip(":")
    return ""


def package_of(path: str) -> str:
    """The npm package a bundled source came from (its last node_modules/ segment), or the project."""
    if "node_modules/" not in path:
        return PROJECT
    rest = path.rsplit("node_modules/", 1)[1].split("/")
    return "/".join(rest[:2]) if rest[0].startswith("@") else rest[0]


def bundled_packages(meta: dict[str, Any]) -> tuple[PackageBytes, ...]:
    """Bytes each package contributes to the bundle, from esbuild's metafile (largest first)."""
    sizes: dict[str, int] = {}
    for output in meta.get("outputs", {}).values():
        for path, info in output.get("inputs", {}).items():
            name = package_of(path)
            sizes[name] = sizes.get(name, 0) + int(info.get("bytesInOutput", 0))
    return tuple(PackageBytes(name=n, bytes=b) for n, b in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))


def _report(
    fn: FunctionConfig, esbuild: Esbuild, meta_path: Path, output: str, *, fmt: str, shipped: set[Path]
) -> BundleReport:
    assert fn.bundle is not None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ResolveError(f"esbuild's metafile is unreadable: {err}", hint="report this as an lpack bug") from None
    by_name: dict[str, list[Path]] = {}
    for pkg in shipped:
        by_name.setdefault(node_packages.top_level_name(_rel_modules(pkg)), []).append(pkg)
    external = tuple(
        PackageBytes(name=n, bytes=node_packages.tree_bytes(d), version=_version_of(d))
        for n, d in sorted(by_name.items())
    )
    total = sum(int(o.get("bytes", 0)) for k, o in meta.get("outputs", {}).items() if not k.endswith(".map"))
    return BundleReport(
        entry="",
        output=output,
        format=fmt,
        target=node_target(fn),
        esbuild=esbuild.version,
        bytes=total,
        sourcemap=fn.bundle.sourcemap,
        bundled=bundled_packages(meta),
        external=external,
    )


def _version_of(dirs: list[Path]) -> str | None:
    value = node_packages.manifest(min(dirs, key=lambda d: len(d.parts))).get("version")
    return value if isinstance(value, str) else None


def _versioned(found: tuple[PackageBytes, ...], project: Path) -> tuple[PackageBytes, ...]:
    def version(name: str) -> str | None:
        value = node_packages.manifest(project / "node_modules" / name).get("version")
        return value if isinstance(value, str) and name != PROJECT else None

    return tuple(replace(p, version=version(p.name)) for p in found)


def _rel_modules(pkg: Path) -> str:
    parts = pkg.as_posix().split("/")
    return "/".join(parts[parts.index("node_modules") :])


def _notes(fn: FunctionConfig, esbuild: Esbuild, report: BundleReport) -> tuple[str, ...]:
    shipped = ", ".join(f"{p.name} {format_size(p.bytes)}" for p in report.external) or "none"
    inlined = [p for p in report.bundled if p.name != PROJECT]
    largest = ", ".join(f"{p.name} {format_size(p.bytes)}" for p in inlined[:3])
    count = f"{len(inlined)} package{'' if len(inlined) == 1 else 's'} inlined" + (
        f" (largest: {largest})" if largest else ""
    )
    notes = [
        f"bundled {report.entry} -> {report.output} ({format_size(report.bytes)}, {report.format}, {report.target}, "
        f"esbuild {report.esbuild}): {count}; external in node_modules: {shipped}"
    ]
    if fn.exclude_runtime_provided:
        notes.append("@aws-sdk/* left external: the runtime provides it")
    if report.sourcemap != "off":
        notes.append("source maps: set NODE_OPTIONS=--enable-source-maps on the function for TypeScript stack traces")
    return (*notes, *([esbuild.note] if esbuild.note else []))
