"""All terminal output: progress lines, the summary table, warnings, errors with hints. Rich lives only here."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lpack.errors import LpackError
from lpack.redact import redact
from lpack.units import format_size

# Annotations only. A command imports the stages it runs: the console importing all their results would make
# every command (and `lpack build` with nothing to do) load every stage. rich is imported where it is used.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.logging import RichHandler
    from rich.table import Table

    from lpack.audit.checks import AuditReport
    from lpack.cache import CacheInfo
    from lpack.oci import ImageInfo
    from lpack.pipeline.build import BuildResult, Event
    from lpack.publish.layers import PublishResult, UploadProgress
    from lpack.size import Finding, SizeReport
    from lpack.tools.check import CheckResult, FunctionCheck
    from lpack.tools.diff import ArtifactDiff
    from lpack.tools.inspect import Inspection
    from lpack.tools.verify import VerifyResult

_CI_WIDTH = 160  # CI logs are not terminals; rich would squeeze tables to 80 columns


# rich itself is imported when something is shown: `lpack build -q` with nothing to do prints nothing.
def escape(text: str) -> str:
    from rich.markup import escape as rich_escape  # noqa: PLC0415 - see above

    return rich_escape(text)


def _table(**options: Any) -> Table:
    from rich.table import Table  # noqa: PLC0415 - only where a table is shown (not `build -q`)

    return Table(**options)


def _console(*, stderr: bool) -> Console:
    from rich.console import Console  # noqa: PLC0415 - see escape

    console = Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _CI_WIDTH
    return console


class Output:
    def __init__(self, *, quiet: bool = False, verbose: bool = False, json_mode: bool = False) -> None:
        self.quiet = quiet or json_mode
        self.verbose = verbose
        self.json_mode = json_mode
        logger = logging.getLogger("lpack")
        handler = _LogToConsole(self)
        handler.addFilter(_redacting)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.DEBUG if verbose else logging.WARNING)

    # The consoles are made on first use (see escape).
    @cached_property
    def out(self) -> Console:
        return _console(stderr=False)

    @cached_property
    def err(self) -> Console:
        return _console(stderr=True)

    @property
    def tables(self) -> Console:
        # With --json, stdout carries only the JSON: tables and annotations go to stderr.
        return self.err if self.json_mode else self.out

    def event(self, event: Event) -> None:
        if self.quiet or event.stage == "done":
            return
        detail = f" [dim]{escape(redact(event.detail))}[/]" if event.detail else ""
        self.err.print(f"[cyan]•[/] {escape(event.function)}: {event.stage}{detail}")

    def summary(self, result: BuildResult) -> None:
        if self.quiet:
            return
        table = _table(show_edge=False, pad_edge=False)
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
            if fn.bytecode.interpreter:
                done.append(f"{fn.bytecode.compiled} .pyc for {fn.bytecode.interpreter}")
            self.err.print(f"[dim]{escape(fn.name)}: {escape('; '.join(done))}[/]")
        for note in result.notes:
            self.err.print(f"[dim]{escape(note)}[/]")
        for fn in result.functions:
            if fn.artifact.image is not None:
                self._image(fn.name, fn.artifact.image)
        for warning in result.warnings:
            self.warning(warning)
        self._uncompiled(result)

    def _uncompiled(self, result: BuildResult) -> None:
        for fn in result.functions:
            if fn.bytecode.failed:
                n, py = fn.bytecode.failed, fn.bytecode.interpreter
                self.warning(f"{fn.name}: {n} .py not compiled for {py} (a syntax error or a too long name): as source")

    def warning(self, message: str) -> None:
        message = redact(message)
        self.err.print(f"[yellow]warning:[/] {escape(message)}")
        self._annotate("warning", message)

    def check(self, result: CheckResult) -> None:
        if self.quiet and not result.over:
            return
        table = _table(show_edge=False, pad_edge=False)
        for column, justify in (
            ("function", "left"),
            ("target", "left"),
            ("zipped", "right"),
            ("unzipped", "right"),
            ("status", "left"),
        ):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for fn in result.functions:
            r = fn.result
            status = "[red]over[/]" if fn.over else "[green]ok[/]"
            table.add_row(
                escape(r.name),
                f"{r.runtime}/{r.architecture}",
                format_size(fn.zipped_bytes),
                _check_unzipped(fn),
                status,
            )
        self.tables.print(table)
        for fn in result.functions:
            for finding in fn.result.size.findings:
                self._finding(fn.result.name, finding)
            if fn.over:
                self.largest(fn.result.size)
            for suggestion in fn.suggestions:
                self.err.print(f"[cyan]suggestion:[/] {escape(fn.result.name)}: {escape(suggestion.message)}")

    def _finding(self, name: str, finding: Finding) -> None:
        if finding.severity == "error":
            self.err.print(f"[bold red]over:[/] {escape(name)}: {escape(finding.message)}")
            self._annotate("error", f"{name}: {finding.message}")
        else:
            self.warning(f"{name}: {finding.message}")

    def inspection(self, found: Inspection) -> None:
        if self.quiet:
            return
        arch = ", ".join(found.architectures) or "no native code"
        python = ", ".join(found.python_versions) or "unknown"
        language = "Node.js" if found.language == "node" else f"python {python}"
        self.out.print(
            f"{escape(str(found.path))}: {found.shape}, {format_size(found.zipped_bytes)} zipped, "
            f"{format_size(found.unzipped_bytes)} unzipped, {found.files} files; "
            f"{language}; {arch}"
        )
        table = _table(title="packages (unzipped)", show_edge=False)
        for column in ("package", "version", "unzipped", "files"):
            table.add_column(column, justify="right" if column in ("unzipped", "files") else "left")
        for p in found.packages[:20]:
            table.add_row(escape(p.name), escape(p.version or ""), format_size(p.bytes), str(p.files))
        self.out.print(table)
        files = _table(title="largest files", show_edge=False)
        files.add_column("file")
        files.add_column("bytes", justify="right")
        for m in found.largest_files:
            files.add_row(escape(m.path), format_size(m.size))
        self.out.print(files)
        for finding in found.findings:
            self._finding(found.path.name, finding)
        for problem in found.archive_findings:
            line = f"{found.path.name}: {problem.describe()}"
            if problem.severity == "error":
                self.err.print(f"[bold red]error:[/] {escape(line)}")
                self._annotate("error", line)
            else:
                self.warning(line)

    def diff(self, diffs: tuple[ArtifactDiff, ...]) -> None:
        from lpack.tools.diff import describe  # noqa: PLC0415 - `lpack diff` has imported it (see the imports)

        if self.quiet:
            return
        for d in diffs:
            self.out.print(
                f"[bold]{escape(d.label)}[/]: zipped {_signed(d.zipped_delta)}, unzipped {_signed(d.unzipped_delta)}"
            )
            for target in d.target_changes:
                self.out.print(f"  [yellow]{escape(target)}[/]")
            for change in d.changes:
                self.out.print(f"  {escape(describe(change))}")
            if not d.changes:
                self.out.print("  no package changed")

    def _image(self, name: str, image: ImageInfo) -> None:
        self.out.print(
            f"{escape(name)}: image {image.digest} ({image.platform}, {format_size(image.uncompressed_bytes)})"
        )
        for layer in image.layers:
            sizes = f"{format_size(layer.size)} / {format_size(layer.uncompressed_size)}"
            self.out.print(f"  {layer.origin:<5} {layer.digest}  {sizes}")
        for where in (*image.outputs, *([image.pushed] if image.pushed else [])):
            self.out.print(f"  -> {escape(where)}")

    def audit(self, report: AuditReport | None, *, unsafe: bool = False) -> None:
        """Audit findings of an inspected zip; says so when no runtime was known to audit against."""
        if report is None:
            why = "the zip is unsafe to unpack" if unsafe else "no single Python version in the zip; pass --runtime"
            if not self.quiet:
                self.err.print(f"[dim]audit skipped: {why}[/]")
            return
        for finding in report.findings:
            if finding.fails:
                self.err.print(f"[bold red]audit:[/] {escape(finding.describe())}")
                self._annotate("error", finding.describe())
            elif finding.severity == "warning" and not finding.waived:
                self.warning(finding.describe())
            elif not self.quiet:
                self.err.print(f"[dim]{escape(finding.describe())}[/]")

    def verified(self, result: VerifyResult, *, show_result: bool) -> None:
        """The handler imported (and answered): init time on stderr, the handler's result on stdout."""
        if not self.quiet and result.status == "partial":
            self.err.print(f"[yellow]◐[/] {escape(result.handler)}: partial check of {escape(_shown(result.artifact))}")
            for warning in result.warnings:
                self.warning(warning)
            return
        if not self.quiet:
            invoke = f", invoke {result.invoke_ms:.1f} ms" if result.invoke_ms is not None else ""
            self.err.print(
                f"[green]✓[/] {escape(result.handler)} imports from {escape(_shown(result.artifact))} "
                f"with {escape(result.runtime)}: init {result.init_ms:.1f} ms{invoke}"
            )
            if result.isolation == "none":
                self.err.print("[dim]network: not isolated (no usable bwrap or unshare here, or --network)[/]")
            else:
                self.err.print(f"[dim]network: none, isolated with {escape(result.isolation)}[/]")
            if self.verbose:
                self.err.print(f"[dim]interpreter: {escape(result.interpreter)}[/]")
                if result.output:
                    self.err.print(result.output, markup=False)
            for warning in result.warnings:
                self.warning(warning)
        if show_result and result.invoked:
            self.json(json.dumps(result.result))

    def cache_info(self, info: CacheInfo) -> None:
        self.out.print(f"cache: {escape(str(info.root))}", soft_wrap=True)
        table = _table(show_edge=False, pad_edge=False)
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
        table = _table(title="largest packages and files (unzipped)", show_edge=False)
        table.add_column("name")
        table.add_column("unzipped", justify="right")
        table.add_column("files", justify="right")
        for c in size.largest:
            table.add_row(escape(c.name), format_size(c.bytes), str(c.files))
        self.err.print(table)

    def error(self, err: LpackError) -> None:
        msg, hint = redact(err.msg), redact(err.hint) if err.hint else None
        self.err.print(f"[bold red]error:[/] {escape(msg)}")
        self._annotate("error", msg + (f" (hint: {hint})" if hint else ""))
        if hint:
            self.err.print(f"[bold]hint:[/] {escape(hint)}")
        if err.details and self.verbose:
            # Indented: the tool's own "error:" lines are its output, not a second error of lpack's.
            self.err.print(textwrap.indent(redact(err.details), "  | "), markup=False)

    def _annotate(self, level: str, message: str) -> None:
        """In GitHub Actions, also a workflow annotation, so the finding shows on the run and the PR."""
        if os.environ.get("GITHUB_ACTIONS") != "true":
            return
        # Workflow-command escaping: %, CR and LF in the message (docs.github.com, workflow commands).
        text = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        stream = sys.stderr if self.json_mode else sys.stdout
        stream.write(f"::{level} title=lpack::{text}\n")
        stream.flush()

    def sam_written(self, template: Path, resources: tuple[str, ...]) -> None:
        if self.quiet:
            return
        self.out.print(f"[green]wrote[/] {escape(str(template))} with {len(resources)} built resources")
        self.out.print("next: sam package / sam deploy (they read .aws-sam/build/template.yaml)")

    def created(self, directory: Path, written: list[Path]) -> None:
        for path in written:
            self.out.print(f"[green]created[/] {escape(str(path.relative_to(directory)))}")
        self.out.print(f"next: cd {escape(str(directory))} && lpack build")

    def lines(self, lines: list[str]) -> None:
        """Plain lines of a command's outcome (`lpack lock`'s files), not shown with --quiet or --json."""
        if not self.quiet:
            for line in lines:
                self.out.print(escape(line))

    def upload(self, progress: UploadProgress) -> None:
        if self.quiet:
            return
        share = 100 * progress.sent // progress.total if progress.total else 100
        sizes = f"{format_size(progress.sent)} of {format_size(progress.total)}"
        self.err.print(f"[cyan]•[/] {escape(progress.name)}: upload {share}% [dim]{sizes}[/]")

    def published(self, results: tuple[PublishResult, ...]) -> None:
        """The version ARNs on stdout, one a line, for scripts; what happened on stderr."""
        for p in results:
            if not self.json_mode:
                self.out.print(p.layer_version_arn, markup=False, highlight=False, soft_wrap=True)
            if self.quiet:
                continue
            if p.created:
                how = "uploaded" if p.uploaded else ("inline" if p.bucket is None else "object already in S3")
                resumed = f", {p.resumed_parts} parts resumed" if p.resumed_parts else ""
                done = f"created version {p.version} ({how}{resumed})"
            else:
                done = f"unchanged: version {p.version} has sha256 {p.sha256[:16]}"
            shared = f"; granted to {', '.join(p.granted)}" if p.granted else ""
            self.err.print(f"[dim]{escape(p.name)}: {escape(done + shared)}[/]")

    def json(self, text: str) -> None:
        self.out.print(redact(text), markup=False, highlight=False, soft_wrap=True)


def _check_unzipped(fn: FunctionCheck) -> str:
    limit = format_size(fn.limit_bytes)
    if fn.result.artifact.image is None:
        return f"{format_size(fn.unzipped_bytes)} of {limit}"
    # The function's own layers, then the whole image (the base's layers too), which is what 10 GB counts.
    return f"{format_size(fn.unzipped_bytes)} own; image {format_size(fn.result.size.unzipped_bytes)} of {limit}"


def _shown(path: Path) -> str:
    # Relative to where the user is, as they would type it; absolute when it is elsewhere.
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _signed(n: int) -> str:
    return ("+" if n >= 0 else "-") + format_size(abs(n))


class _LogToConsole(logging.Handler):
    """Log records go to the error console through rich's handler, made at the first record (see escape)."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self._output = output
        self._rich: RichHandler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._rich is None:
            from rich.logging import RichHandler  # noqa: PLC0415 - see escape

            self._rich = RichHandler(console=self._output.err, show_time=False, show_path=False, markup=False)
        self._rich.emit(record)


def _redacting(record: logging.LogRecord) -> bool:
    # Every log line passes here: installer commands carry index URLs, and -v must not print their passwords.
    record.msg, record.args = redact(record.getMessage()), None
    return True
