"""Start-up stays lazy (issue 15): `import lpack`, `lpack --version` and `lpack --help` load no stage of the
pipeline and none of the libraries it builds with. A regression guard on what is imported, not a timing test.

Each case runs in a fresh interpreter (this one has imported everything) and reports its sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from lpack.cli.commands import COMMANDS, main

# What none of the three may import: lpack's stages, and the third-party (or heavy standard) modules behind them.
HEAVY = (
    "lpack.config",
    "lpack.resolve",
    "lpack.sources",
    "lpack.archive",
    "lpack.pipeline",
    "lpack.emit",
    "lpack.oci",
    "lpack.publish",
    "lpack.tools",
    "rich",
    "packaging",
    "pathspec",
    "msgspec",
    "yaml",
    "jsonschema",
    "elftools",
    "zlib_ng",
    "isal",
    "boto3",
    "botocore",
    "docker",
    "concurrent.futures",
    "urllib.request",
    "email.parser",
)

_REPORT = "import json, sys; print('\\n' + json.dumps(sorted(sys.modules)))"


def _modules_after(code: str) -> tuple[set[str], str]:
    # `code` runs first; the last line of stdout is then the interpreter's module list.
    script = f"try:\n    {code}\nexcept SystemExit:\n    pass\n{_REPORT}\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    output, _, listing = done.stdout.rstrip("\n").rpartition("\n")
    return set(json.loads(listing)), output


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY))


def test_import_lpack_loads_no_stage_and_no_cli() -> None:
    modules, _ = _modules_after("import lpack")
    assert _heavy(modules) == []
    assert "click" not in modules
    assert "lpack.errors" not in modules  # LpackError too is loaded on first use


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_load_no_command(args: list[str]) -> None:
    # As the `lpack` console script does: lpack.cli:main.
    modules, output = _modules_after(f"from lpack.cli import main; main({args!r})")
    assert _heavy(modules) == []
    assert not {"lpack.cli.build", "lpack.cli.console", "lpack.cli.options"} & modules
    assert ("lpack, version" in output) if args == ["--version"] else all(name in output for name in COMMANDS)


def test_the_public_api_still_resolves() -> None:
    import lpack  # noqa: PLC0415 - the package, after the lazy names above

    assert lpack.build.__module__ == "lpack.pipeline.build"
    assert lpack.load_config.__module__ == "lpack.config.load"
    assert issubclass(lpack.LpackError, Exception)
    assert set(lpack.__all__) <= set(dir(lpack))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = lpack.no_such_name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_commands_table_matches_the_commands(name: str) -> None:
    # The short help --help lists is copied into COMMANDS: it must be the command's own, at any width.
    ctx = click.Context(main, info_name="lpack")
    command = main.get_command(ctx, name)
    assert command is not None and command.name == name
    listed = click.Command(name, help=COMMANDS[name][2])
    for limit in (20, 45, 74, 200):
        assert listed.get_short_help_str(limit) == command.get_short_help_str(limit)
