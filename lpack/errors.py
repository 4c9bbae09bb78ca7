"""Exceptions raised by lpack's library code; the CLI maps them to exit codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    # Only for the payloads' types: at run time this module imports nothing, so every level can raise these.
    from lpack.audit.checks import Finding
    from lpack.size import SizeReport

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TOO_BIG = 3
EXIT_NO_INTERPRETER = 4  # `lpack verify` found no interpreter of the target's version: nothing was checked


class LpackError(Exception):
    """Base error: a one-line message plus an optional hint saying what to try."""

    exit_code = EXIT_FAILED

    def __init__(self, msg: str, *, hint: str | None = None, details: str | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.hint = hint
        # Captured tool output (pip's, uv's): shown with -v, kept off the one-line message.
        self.details = details

    def __str__(self) -> str:
        return self.msg

    def prefixed(self, context: str) -> LpackError:
        """Return a copy of this error with `context: ` in front, keeping type, hint and details."""
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__)
        LpackError.__init__(err, f"{context}: {self.msg}", hint=self.hint, details=self.details)
        return err


class ConfigError(LpackError):
    """The project's configuration or the command line is wrong."""

    exit_code = EXIT_USAGE


class ResolveError(LpackError):
    """Dependencies could not be installed for the target."""


class AuditError(LpackError):
    """The staged tree would not run on the target."""

    def __init__(self, msg: str, *, hint: str | None = None, findings: Sequence[Finding] = ()) -> None:
        super().__init__(msg, hint=hint)
        # The audit findings that failed, for the JSON report.
        self.findings = tuple(findings)


class SizeLimitError(LpackError):
    """An artifact is over one of Lambda's limits or the project's budget."""

    exit_code = EXIT_TOO_BIG

    def __init__(self, msg: str, *, hint: str | None = None, report: SizeReport | None = None) -> None:
        super().__init__(msg, hint=hint)
        # The SizeReport (what is big) so the CLI can show the breakdown with the error.
        self.report = report


class EmitError(LpackError):
    """An artifact could not be written."""


class PublishError(LpackError):
    """An artifact could not be uploaded or registered; nothing was registered, and a re-run resumes."""


class RegistryError(EmitError):
    """An OCI registry could not be reached, refused us, or answered something unexpected."""


class VerifyError(LpackError):
    """The handler does not import or fails when invoked from the built artifact."""


class ArchiveError(LpackError):
    """A zip from outside is unreadable or unsafe to unpack: a name leaving the tree, a bomb, corrupt data."""


class InspectError(LpackError):
    """The file is not an artifact lpack can read (`lpack inspect`)."""


class DiffError(LpackError):
    """An input to `lpack diff` cannot be read."""


class NoInterpreterError(LpackError):
    """No interpreter of the target's language and version exists here, so nothing could be verified."""

    exit_code = EXIT_NO_INTERPRETER
