"""All terminal output: progress lines, the summary table, warnings, errors with hints. Rich lives only here."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from lpack._units import format_size
from lpack.build import BuildResult, Event
from lpack.cache import CacheInfo
from lpack.errors import LpackError
from lpack.size import SizeReport

_CI_WIDTH = 160  # CI logs are not terminals; rich would squeeze tables to 80 columns


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _CI_WIDTH
    return console


class Output:
    def __init__(self, *, quiet: bool = False, verbose: bool = False, json_mode: bool = False) -> None:
        self.out = _console(stderr=False)
        self.err = _console(stderr=True)
        self.quiet = quiet or json_mode
        self.verbose = verbose
        logger = logging.getLogger("lpack")
        logger.handlers[:] = [RichHandler(console=self.err, show_time=False, show_path=False, markup=False)]
        logger.setLevel(logging.DEBUG if verbose else logging.WARNING)

    def event(self, event: Event) -> None:
        if self.quiet or event.stage == "done":
            return
        detail = f" [dim]{escape(event.detail)}[/]" if event.detail else ""
        self.err.print(f"[cyan]•[/] {escape(event.function)}: {event.stage}{detail}")

    def summary(self, result: BuildResult) -> None:
        if self.quiet:
            return
        table = Table(show_edge=False, pad_edge=False)
        for column in ("artifact", "target", "zipped", "unzipped", "files", "sha256"):
            table.add_column(column, justify="right" if column in ("zipped", "unzipped", "files") else "left")
        for fn in result.functions:
            a = fn.artifact
            target = f"{fn.runtime}/{fn.architecture}"
            sizes = (format_size(a.zipped_bytes), format_size(a.unzipped_bytes), str(a.files))
            table.add_row(escape(_shown(a.path)), target, *sizes, a.sha256[:16])
        self.out.print(table)
        for fn in result.functions:
            done = [*fn.notes, f"pruned {fn.pruned.files} files ({format_size(fn.pruned.bytes)})"]
            done.append(
                f"{fn.bytecode.compiled} .pyc for {fn.bytecode.interpreter}" if fn.bytecode.interpreter else "no .pyc"
            )
            self.err.print(f"[dim]{escape(fn.name)}: {escape('; '.join(done))}[/]")
        for warning in result.warnings:
            self.err.print(f"[yellow]warning:[/] {escape(warning)}")

    def cache_info(self, info: CacheInfo) -> None:
        self.out.print(f"cache: {escape(str(info.root))}", soft_wrap=True)
        table = Table(show_edge=False, pad_edge=False)
        for column in ("kind", "entries", "size"):
            table.add_column(column, justify="left" if column == "kind" else "right")
        for kind in info.kinds:
            table.add_row(kind.kind, str(kind.entries), format_size(kind.bytes))
        table.add_row("total", str(sum(k.entries for k in info.kinds)), format_size(info.bytes))
        self.out.print(table)

    def cache_cleaned(self, root: Path, freed: int) -> None:
        if not self.quiet:
            self.out.print(f"removed {format_size(freed)} from {escape(str(root))}")

    def largest(self, size: SizeReport) -> None:
        table = Table(title="largest packages and files (unzipped)", show_edge=False)
        table.add_column("name")
        table.add_column("unzipped", justify="right")
        table.add_column("files", justify="right")
        for c in size.largest:
            table.add_row(escape(c.name), format_size(c.bytes), str(c.files))
        self.err.print(table)

    def error(self, err: LpackError) -> None:
        self.err.print(f"[bold red]error:[/] {escape(err.msg)}")
        if err.hint:
            self.err.print(f"[bold]hint:[/] {escape(err.hint)}")
        if err.details and self.verbose:
            self.err.print(err.details, markup=False)

    def json(self, text: str) -> None:
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)


def _shown(path: Path) -> str:
    # Relative to where the user is, as they would type it; absolute when it is elsewhere.
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
