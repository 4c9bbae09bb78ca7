"""The one guard at the top: whatever escapes a command becomes one `error:` line, never a Python stack.

An `LpackError` a command did not catch is printed as any other; anything else is a bug in lpack: the user gets
its type and message, the path of a file holding the full traceback, and exit code 70 (EXIT_INTERNAL).
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from lpack.errors import EXIT_INTERNAL, LpackError, from_os_error

# tempfile, traceback and lpack.redact are imported where an error is reported: `lpack --version` and every
# command that succeeds need none of them.


class GuardedGroup(click.Group):
    """A click group whose `invoke` turns every escaping exception into an exit code and one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except LpackError as err:
            _fail(err)
        except OSError as err:
            if err.errno == errno.EPIPE:
                raise  # stdout closed by `| head`: click exits quietly on it
            # A file lpack could not read or write that no stage anticipated: still the user's to fix.
            _fail(from_os_error(err))
        except Exception as err:  # the point of the guard: nothing unexpected reaches the user as a stack
            _crash(err)


def _fail(err: LpackError) -> NoReturn:
    from lpack.redact import redact  # noqa: PLC0415 - only on failure (see the imports)

    click.echo(f"error: {redact(err.msg)}", err=True)
    if err.hint:
        click.echo(f"hint: {redact(err.hint)}", err=True)
    sys.exit(err.exit_code)


def _crash(err: Exception) -> NoReturn:
    from lpack.redact import redact  # noqa: PLC0415 - only on failure (see the imports)

    message = redact(" ".join(str(err).split()))[:300] or "(no message)"
    where = _write_traceback(err)
    click.echo(f"error: internal error: {type(err).__name__}: {message}", err=True)
    if where is not None:
        click.echo(f"hint: full traceback in {where}; please report it with that file", err=True)
    else:
        click.echo("hint: run again with -v and report the bug", err=True)
    sys.exit(EXIT_INTERNAL)


def _write_traceback(err: Exception) -> Path | None:
    import tempfile  # noqa: PLC0415 - only on a crash (see the imports)
    import traceback  # noqa: PLC0415

    from lpack.redact import redact  # noqa: PLC0415

    # The system temp dir: the cache may be what failed, and the project is not ours to write into.
    text = redact("".join(traceback.format_exception(type(err), err, err.__traceback__)))
    try:
        fd, name = tempfile.mkstemp(prefix="lpack-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
            fh.write(text)
    except OSError:
        return None
    return Path(name)
