"""All terminal output: progress lines, the summary table, warnings, errors with hints. Rich lives only here."""

from __future__ import annotations

import logging
import os

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from lpack._units import format_size
from lpack.build import BuildResult, Event
from lpack.errors import LpackError
from lpack.size import SizeReport


class Output:
    def __init__(self, *, quiet: bool = False, verbose: bool = False, json_mode: bool = False) -> None:
        no_color = bool(os.environ.get("NO_COLOR"))
        self.out = Console(no_color=no_color, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)
        self.quiet = quiet or json_mode
        self.verbose = verbose
        logging.getLogger("lpack").handlers[:] = [RichHandler(console=self.err, show_time=False, show_path=False)]
        logging.getLogger("lpack").setLevel(logging.DEBUG if verbose else logging.WARNING)

    def event(self, event: Event) -> None:
        if self.quiet or event.stage == "done":
            return
        detail = f" [dim]{event.detail}[/]" if event.detail else ""
        self.err.print(f"[cyan]•[/] {event.function}: {event.stage}{detail}")

    def summary(self, result: BuildResult) -> None:
        if self.quiet:
            return
        table = Table(title=None, show_edge=False, pad_edge=False)
        for column in ("artifact", "target", "zipped", "unzipped", "files", "sha256"):
            table.add_column(column, justify="right" if column in ("zipped", "unzipped", "files") else "left")
        for fn in result.functions:
            a = fn.artifact
            table.add_row(str(a.path), f"{fn.runtime}/{fn.architecture}", format_size(a.zipped_bytes),
                          format_size(a.unzipped_bytes), str(a.files), a.sha256[:16])
        self.out.print(table)
        for fn in result.functions:
            if fn.pruned.files:
                self.err.print(f"[dim]{fn.name}: pruned {fn.pruned.files} files, {format_size(fn.pruned.bytes)}; "
                               f"{fn.bytecode.compiled} pyc compiled[/]")
        for warning in result.warnings:
            self.err.print(f"[yellow]warning:[/] {warning}")

    def largest(self, size: SizeReport) -> None:
        table = Table(title="largest packages and files (unzipped)", show_edge=False)
        table.add_column("name")
        table.add_column("unzipped", justify="right")
        table.add_column("files", justify="right")
        for c in size.largest:
            table.add_row(c.name, format_size(c.bytes), str(c.files))
        self.err.print(table)

    def error(self, err: LpackError) -> None:
        self.err.print(f"[bold red]error:[/] {err.msg}")
        if err.hint:
            self.err.print(f"[bold]hint:[/] {err.hint}")
        if err.details and self.verbose:
            self.err.print(err.details, markup=False)

    def json(self, text: str) -> None:
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)
