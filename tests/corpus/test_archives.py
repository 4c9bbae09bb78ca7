"""Hostile and broken zips given to `lpack inspect`, `verify` and `diff`, one table row per case.

Every zip is written byte by byte here (a tiny zip writer whose every field can lie), and every command runs
as a real `python -m lpack` process with a 64 MiB cap on the size of any file it writes (RLIMIT_FSIZE), so a
zip bomb that got unpacked would kill it. Each row asserts: the exit code; an `error:` line naming the cause
(or none, for the zips that are fine); no traceback; nothing written outside the command's temporary directory,
which must be empty again afterwards.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

PY = f"python3.{sys.version_info[1]}"
_FSIZE_CAP = 64 << 20
GIB = 1 << 30


# --- a zip writer in which every field can lie -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Raw:
    name: bytes | str
    data: bytes = b""  # the unzipped bytes; `payload` overrides what is stored
    payload: bytes | None = None
    method: int = 8
    crc: int | None = None
    csize: int | None = None
    usize: int | None = None
    flags: int = 0
    mode: int = 0o100644
    system: int = 3  # unix: external attributes carry the mode
    local_name: bytes | None = None
    offset: int | None = None  # the central directory's local header offset, when it lies

    def raw_name(self) -> bytes:
        return self.name.encode() if isinstance(self.name, str) else self.name

    def stored(self) -> bytes:
        if self.payload is not None:
            return self.payload
        if self.method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            return c.compress(self.data) + c.flush()
        return self.data


def raw_zip(members: list[Raw], *, cd_offset: int | None = None, eocd_count: int | None = None) -> bytes:
    out = bytearray()
    central = bytearray()
    for m in members:
        name = m.raw_name()
        flags = m.flags | (0x800 if isinstance(m.name, str) and not m.name.isascii() else 0)
        body = m.stored()
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        csize = len(body) if m.csize is None else m.csize
        usize = len(m.data) if m.usize is None else m.usize
        offset = len(out) if m.offset is None else m.offset
        local = m.local_name if m.local_name is not None else name
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, m.method, 0, 0x21, crc, csize, usize, len(local), 0)
        out += local + body
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (m.system << 8) | 20,
            20,
            flags,
            m.method,
            0,
            0x21,
            crc,
            csize,
            usize,
            len(name),
            0,
            0,
            0,
            0,
            m.mode << 16,
            offset,
        )
        central += name
    start = len(out)
    out += central
    count = len(members) if eocd_count is None else eocd_count
    where = start if cd_offset is None else cd_offset
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), where, 0)
    return bytes(out)


def handler(text: str = "def handler(event, context):\n    return {'ok': True}\n") -> Raw:
    return Raw(name="app.py", data=text.encode())


@functools.cache
def _bomb_members() -> tuple[bytes, int]:
    # 1 GiB of zeros as ~1 MB of deflate: full-flushed 1 MiB blocks of zeros compress to the same bytes.
    zeros = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    stream = first + again * 1023 + c.flush()
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    return stream, crc


def bomb() -> Raw:
    stream, crc = _bomb_members()
    return Raw(name="zeros.bin", payload=stream, crc=crc, usize=GIB)


def symlink(name: str, target: str) -> Raw:
    return Raw(name=name, data=target.encode(), method=0, mode=0o120777)


def names(*members: str) -> list[Raw]:
    return [handler(), *(Raw(name=n, data=b"x = 1\n") for n in members)]


# --- the table ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    id: str
    zip: Callable[[Path], bytes]  # gets the directory a planted escape would land in
    command: str  # inspect, verify, diff, verify-layer, inspect-runtime
    exit: int
    cause: str | None  # a word the error line names; None: no error line at all
    warning: str | None = None
    extra: tuple[str, ...] = field(default=())


def slip(outside: Path) -> str:
    return "../" * 12 + str(outside / "pwned").lstrip("/")


_BAD_CRC = 0xDEADBEEF


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _truncated(o: Path) -> bytes:
    full = raw_zip(names(*[f"m{i}.py" for i in range(20)]))
    return full[: len(full) // 2]


def _corrupt_deflate(o: Path) -> bytes:
    payload = zlib.compress(b"print('hello')\n" * 200)[2:-4]
    return raw_zip([handler(), Raw(name="lib.py", data=b"print('hello')\n" * 200, payload=_flip(payload, 5))])


def _zip64_marker(o: Path) -> bytes:
    # A zip64 end-of-central-directory locator that says the zip spans two disks.
    plain = raw_zip([handler()])
    locator = struct.pack("<IIQI", 0x07064B50, 0, 0, 2)
    return plain[:-22] + locator + plain[-22:]


def _zip64_real(o: Path) -> bytes:
    import zipfile  # noqa: PLC0415 - only this case writes with the standard library

    path = o.parent / "z64.zip"
    with zipfile.ZipFile(path, "w") as zf, zf.open("app.py", "w", force_zip64=True) as fh:
        fh.write(b"def handler(event, context):\n    return {'ok': True}\n")
    return path.read_bytes()


def _many(o: Path) -> bytes:
    return raw_zip([handler(), *(Raw(name=f"pkg/m{i}.py", data=b"", method=0) for i in range(20_000))])


def _overlap(o: Path) -> bytes:
    # A second central entry named differently, pointing at the first one's local header.
    return raw_zip([handler(), replace(handler(), name="other.py", offset=0)])


def _deep_json(o: Path) -> bytes:
    return b'{"artifacts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _huge_json(o: Path) -> bytes:
    return b'{"artifacts": [], "pad": "' + b"x" * (70 << 20) + b'"}'


def _wrong_json(o: Path) -> bytes:
    return json.dumps({"artifacts": [{"name": "a", "packages": [1, 2], "zipped_bytes": 1}]}).encode()


CASES = [
    Case(id="zip-slip", zip=lambda o: raw_zip(names(slip(o))), command="inspect", exit=1, cause="'..'"),
    Case(id="zip-slip-verify", zip=lambda o: raw_zip(names(slip(o))), command="verify", exit=1, cause="'..'"),
    Case(id="zip-slip-runtime", zip=lambda o: raw_zip(names(slip(o))), command="inspect-runtime", exit=1, cause=".."),
    Case(id="zip-slip-layer", zip=lambda o: raw_zip(names(slip(o))), command="verify-layer", exit=1, cause="'..'"),
    Case(id="zip-slip-middle", zip=lambda o: raw_zip(names("pkg/../../x.py")), command="inspect", exit=1, cause=".."),
    Case(id="absolute", zip=lambda o: raw_zip(names(str(o / "pwned"))), command="inspect", exit=1, cause="absolute"),
    Case(id="absolute-verify", zip=lambda o: raw_zip(names(str(o / "p"))), command="verify", exit=1, cause="absolute"),
    Case(id="drive-letter", zip=lambda o: raw_zip(names("C:/evil.py")), command="inspect", exit=1, cause="absolute"),
    Case(id="backslash", zip=lambda o: raw_zip(names("..\\..\\evil.py")), command="inspect", exit=1, cause="backslash"),
    Case(id="backslash-verify", zip=lambda o: raw_zip(names("a\\b.py")), command="verify", exit=1, cause="backslash"),
    Case(id="duplicate", zip=lambda o: raw_zip(names("app.py")), command="inspect", exit=1, cause="twice"),
    Case(id="duplicate-verify", zip=lambda o: raw_zip(names("app.py")), command="verify", exit=1, cause="twice"),
    Case(id="duplicate-dotted", zip=lambda o: raw_zip(names("./app.py")), command="inspect", exit=1, cause="twice"),
    Case(
        id="duplicate-slashes",
        zip=lambda o: raw_zip(names("a//b.py", "a/b.py")),
        command="inspect",
        exit=1,
        cause="twice",
    ),
    Case(id="empty-name", zip=lambda o: raw_zip(names("")), command="inspect", exit=1, cause="empty"),
    Case(id="control-char", zip=lambda o: raw_zip(names("a\x01b.py")), command="inspect", exit=1, cause="control"),
    Case(
        id="symlink-absolute",
        zip=lambda o: raw_zip([handler(), symlink("etc", "/etc/passwd")]),
        command="inspect",
        exit=1,
        cause="outside",
    ),
    Case(
        id="symlink-up",
        zip=lambda o: raw_zip([handler(), symlink("up", "../../..")]),
        command="verify",
        exit=1,
        cause="outside",
    ),
    Case(
        id="symlink-chain",
        command="inspect",
        exit=1,
        cause="outside",
        zip=lambda o: raw_zip([handler(), symlink("a/b/c/s", "../../.."), symlink("l", "a/b/c/s/..")]),
    ),
    Case(
        id="symlink-loop",
        zip=lambda o: raw_zip([handler(), symlink("x", "y"), symlink("y", "x")]),
        command="inspect",
        exit=1,
        cause="outside",
    ),
    Case(
        id="symlink-empty",
        zip=lambda o: raw_zip([handler(), symlink("x", "")]),
        command="inspect",
        exit=1,
        cause="symlink",
    ),
    Case(
        id="symlink-inside",
        zip=lambda o: raw_zip([handler(), symlink("main.py", "app.py")]),
        command="inspect",
        exit=0,
        cause=None,
        warning="symlink",
    ),
    Case(
        id="symlink-inside-verify",
        zip=lambda o: raw_zip([handler(), symlink("lib/app.py", "../app.py")]),
        command="verify",
        exit=0,
        cause=None,
    ),
    Case(
        id="under-symlink",
        zip=lambda o: raw_zip([handler(), symlink("s", "."), Raw(name="s/x.py", data=b"")]),
        command="inspect",
        exit=1,
        cause="symlink",
    ),
    Case(
        id="under-symlink-verify",
        command="verify",
        exit=1,
        cause="symlink",
        zip=lambda o: raw_zip([handler(), symlink("s", str(o)), Raw(name="s/pwned", data=b"")]),
    ),
    Case(id="under-file", zip=lambda o: raw_zip(names("a", "a/b.py")), command="inspect", exit=1, cause="file"),
    Case(id="bomb-1GB", zip=lambda o: raw_zip([handler(), bomb()]), command="inspect", exit=3, cause="unzipped"),
    Case(id="bomb-verify", zip=lambda o: raw_zip([handler(), bomb()]), command="verify", exit=3, cause="Lambda"),
    Case(
        id="bomb-runtime",
        zip=lambda o: raw_zip([handler(), bomb()]),
        command="inspect-runtime",
        exit=3,
        cause="unzipped",
    ),
    Case(id="bomb-diff", zip=lambda o: raw_zip([handler(), bomb()]), command="diff", exit=0, cause=None),
    Case(
        id="lying-small",
        zip=lambda o: raw_zip([handler(), Raw(name="big.py", data=b"#" * 100_000, usize=10)]),
        command="inspect",
        exit=1,
        cause="corrupt",
    ),
    Case(
        id="lying-small-verify",
        command="verify",
        exit=1,
        cause="corrupt",
        zip=lambda o: raw_zip([handler(), Raw(name="big.py", data=b"#" * 100_000, usize=10)]),
    ),
    Case(
        id="lying-big",
        zip=lambda o: raw_zip([handler(), Raw(name="x.py", data=b"x = 1\n", usize=200 << 20)]),
        command="inspect",
        exit=1,
        cause="bomb",
    ),
    Case(
        id="lying-big-verify",
        command="verify",
        exit=1,
        cause="bomb",
        zip=lambda o: raw_zip([handler(), Raw(name="x.py", data=b"x = 1\n", usize=200 << 20)]),
    ),
    Case(
        id="lying-csize",
        zip=lambda o: raw_zip([handler(), Raw(name="x.py", data=b"x = 1\n", csize=0x7FFFFFF0)]),
        command="inspect",
        exit=1,
        cause="corrupt",
    ),
    Case(
        id="bad-crc",
        zip=lambda o: raw_zip([handler(), Raw(name="x.py", data=b"x = 1\n", crc=_BAD_CRC)]),
        command="inspect",
        exit=1,
        cause="CRC",
    ),
    Case(
        id="bad-crc-verify",
        zip=lambda o: raw_zip([Raw(name="app.py", data=b"x = 1\n", crc=_BAD_CRC)]),
        command="verify",
        exit=1,
        cause="CRC",
    ),
    Case(id="corrupt-deflate", zip=_corrupt_deflate, command="inspect", exit=1, cause="corrupt"),
    Case(id="corrupt-deflate-verify", zip=_corrupt_deflate, command="verify", exit=1, cause="corrupt"),
    Case(
        id="local-name-differs",
        zip=lambda o: raw_zip([handler(), Raw(name="x.py", local_name=b"../../evil.py")]),
        command="inspect",
        exit=1,
        cause="corrupt",
    ),
    Case(id="overlapping", zip=_overlap, command="inspect", exit=1, cause="corrupt"),
    Case(
        id="offset-past-end",
        zip=lambda o: raw_zip([handler(), Raw(name="x.py", offset=10 << 20)]),
        command="inspect",
        exit=1,
        cause="corrupt",
    ),
    Case(id="truncated", zip=_truncated, command="inspect", exit=1, cause="not a readable zip"),
    Case(id="truncated-verify", zip=_truncated, command="verify", exit=1, cause="not a readable zip"),
    Case(id="truncated-diff", zip=_truncated, command="diff", exit=1, cause="not a readable zip"),
    Case(id="not-a-zip", zip=lambda o: b"just some text\n" * 50, command="inspect", exit=1, cause="not a readable zip"),
    Case(id="not-a-zip-verify", zip=lambda o: b"PK\x03\x04 nope", command="verify", exit=1, cause="readable zip"),
    Case(id="empty-file", zip=lambda o: b"", command="inspect", exit=1, cause="not a readable zip"),
    Case(id="empty-zip", zip=lambda o: raw_zip([]), command="inspect", exit=1, cause="no files"),
    Case(id="empty-zip-verify", zip=lambda o: raw_zip([]), command="verify", exit=1, cause="no files"),
    Case(
        id="encrypted",
        zip=lambda o: raw_zip([handler(), Raw(name="s.py", data=b"x", flags=1)]),
        command="inspect",
        exit=1,
        cause="encrypted",
    ),
    Case(
        id="encrypted-verify",
        zip=lambda o: raw_zip([replace(handler(), flags=1)]),
        command="verify",
        exit=1,
        cause="encrypted",
    ),
    Case(
        id="bzip2",
        zip=lambda o: raw_zip([handler(), Raw(name="b.py", payload=b"BZh9", method=12)]),
        command="inspect",
        exit=1,
        cause="compression",
    ),
    Case(
        id="method-99",
        zip=lambda o: raw_zip([replace(handler(), method=99, payload=b"??")]),
        command="verify",
        exit=1,
        cause="compression",
    ),
    Case(id="zip64-marker", zip=_zip64_marker, command="inspect", exit=1, cause="not a readable zip"),
    Case(id="zip64-real", zip=_zip64_real, command="verify", exit=0, cause=None),
    # The end record's directory offset is wrong: zipfile trusts it for the members' offsets, which then miss.
    Case(
        id="cd-offset-wrong",
        zip=lambda o: raw_zip([handler()], cd_offset=1 << 30),
        command="inspect",
        exit=1,
        cause="corrupt",
    ),
    Case(id="count-lies", zip=lambda o: raw_zip([handler()], eocd_count=65535), command="inspect", exit=0, cause=None),
    Case(id="many-members", zip=_many, command="inspect", exit=0, cause=None),
    Case(
        id="utf8-flag-bad-bytes",
        zip=lambda o: raw_zip([handler(), Raw(name=b"\xff\xfe.py", flags=0x800)]),
        command="inspect",
        exit=1,
        cause="not a readable zip",
    ),
    Case(
        id="legacy-name",
        zip=lambda o: raw_zip([handler(), Raw(name=b"caf\x82.py")]),
        command="inspect",
        exit=0,
        cause=None,
        warning="UTF-8",
    ),
    Case(id="deep-json", zip=_deep_json, command="diff-json", exit=1, cause="nested"),
    Case(id="huge-json", zip=_huge_json, command="diff-json", exit=1, cause="far more"),
    Case(id="wrong-json", zip=_wrong_json, command="diff-json", exit=1, cause="not an lpack report"),
    Case(
        id="deep-package-json",
        zip=lambda o: raw_zip([handler(), Raw(name="node_modules/x/package.json", data=b"[" * 100_000)]),
        command="inspect",
        exit=0,
        cause=None,
    ),
    Case(
        id="fifo-member",
        zip=lambda o: raw_zip([handler(), Raw(name="pipe", data=b"", mode=0o010644)]),
        command="verify",
        exit=1,
        cause="fifo",
    ),
    Case(
        id="device-member",
        zip=lambda o: raw_zip([handler(), Raw(name="dev/sda", data=b"", mode=0o060600)]),
        command="inspect",
        exit=1,
        cause="device",
    ),
    Case(
        id="setuid-member",
        zip=lambda o: raw_zip([handler(), Raw(name="bin/tool", data=b"#!/bin/sh\n", mode=0o104755)]),
        command="inspect",
        exit=0,
        cause=None,
        warning="setuid",
    ),
    Case(id="good", zip=lambda o: raw_zip([handler()]), command="verify", exit=0, cause=None),
]


# --- running a case ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    code: int
    out: str


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (_FSIZE_CAP, _FSIZE_CAP))


def lpack(args: list[str], cwd: Path, tmp: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LPACK_", "GITHUB_"))}
    env.update(TMPDIR=str(tmp), COLUMNS="400", NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "lpack", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_cap,  # the cap must be set in the child; this process starts no threads
        check=False,
    )
    return Run(code=proc.returncode, out=proc.stdout + proc.stderr)


def _args(case: Case, artifact: Path, work: Path) -> list[str]:
    good = work / "good.zip"
    verify = ["verify", "--runtime", PY, "--python", sys.executable, "--handler", "app.handler"]
    return {
        "inspect": ["inspect", str(artifact)],
        "inspect-runtime": ["inspect", "--runtime", PY, str(artifact)],
        "verify": [*verify, str(artifact)],
        "verify-layer": [*verify, "--layer", str(artifact), str(good)],
        "diff": ["diff", str(good), str(artifact)],
        "diff-json": ["diff", str(artifact), str(artifact)],
    }[case.command]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_archive(case: Case, tmp_path: Path) -> None:
    outside, work, tmp = tmp_path / "outside", tmp_path / "work", tmp_path / "tmp"
    for d in (outside, work, tmp):
        d.mkdir()
    artifact = work / ("report.json" if case.command == "diff-json" else "artifact.zip")
    artifact.write_bytes(case.zip(outside))
    (work / "good.zip").write_bytes(raw_zip([handler()]))
    before = _tree(tmp_path)

    run = lpack(_args(case, artifact, work), work, tmp)

    text = " ".join(run.out.split())  # rich wraps long lines
    errors = [line for line in run.out.splitlines() if line.startswith(("error:", "over:"))]
    assert "Traceback" not in run.out
    assert run.code == case.exit, run.out
    if case.cause is None:
        assert not errors, run.out
    else:
        assert errors, run.out
        assert case.cause in text, run.out
        if case.command.startswith("verify"):
            assert len(errors) == 1, run.out  # verify refuses with one line
    if case.warning is not None:
        assert "warning:" in run.out and case.warning in text, run.out
    assert _tree(tmp_path) == before, "a file was written outside the temporary directory"
    assert not list(tmp.iterdir()), "the command left its temporary directory behind"
    assert not list(outside.iterdir())


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
