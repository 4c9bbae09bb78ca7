"""The offline wheelhouse in fixtures/ is reproducible, valid, and what the generator makes today."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
GENERATOR = FIXTURES / "make_wheelhouse.py"

EM_X86_64 = 62
EM_AARCH64 = 183
ET_DYN = 3
SHT_GNU_VERNEED = 0x6FFFFFFE


def _generate(out: Path, *, umask: int, tz: str) -> None:
    env = {**os.environ, "TZ": tz}
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(out)],
        check=True,
        env=env,
        umask=umask,
        capture_output=True,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    _generate(out, umask=0o022, tz="UTC")
    return out


def _wheels(root: Path) -> list[Path]:
    return sorted((root / "wheels").glob("*.whl"))


def _sdists(root: Path) -> list[Path]:
    return sorted((root / "sdists").glob("*.tar.gz"))


# --- determinism ---------------------------------------------------------------------------


def test_generator_output_is_byte_identical_across_umask_and_tz(tmp_path: Path) -> None:
    _generate(tmp_path / "one", umask=0o022, tz="UTC")
    _generate(tmp_path / "two", umask=0o077, tz="Pacific/Chatham")
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert sorted(one) == sorted(two)
    assert one == two
    modes = {p.stat().st_mode & 0o777 for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert modes == {0o644}


def _zip_contents(path: Path) -> list[tuple[str, tuple[int, ...], int, int, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [
            (i.filename, i.date_time, i.external_attr, i.create_system, archive.read(i)) for i in archive.infolist()
        ]


def test_committed_fixtures_match_the_generator(wheelhouse: Path) -> None:
    # Compared by content rather than compressed bytes, so another zlib build cannot fail this.
    committed = sorted(p.relative_to(FIXTURES).as_posix() for p in [*_wheels(FIXTURES), *_sdists(FIXTURES)])
    fresh = sorted(p.relative_to(wheelhouse).as_posix() for p in [*_wheels(wheelhouse), *_sdists(wheelhouse)])
    assert committed == fresh, "run: python fixtures/make_wheelhouse.py"
    for wheel in _wheels(wheelhouse):
        assert _zip_contents(wheel) == _zip_contents(FIXTURES / "wheels" / wheel.name), wheel.name
    for sdist in _sdists(wheelhouse):
        expected = gzip.decompress(sdist.read_bytes())
        assert gzip.decompress((FIXTURES / "sdists" / sdist.name).read_bytes()) == expected, sdist.name


def test_zip_and_tar_headers_are_fixed(wheelhouse: Path) -> None:
    for wheel in _wheels(wheelhouse):
        for name, date_time, external_attr, create_system, _ in _zip_contents(wheel):
            assert date_time == (1980, 1, 1, 0, 0, 0)
            assert create_system == 3
            assert external_attr >> 16 in {0o100644, 0o100755}, name
    for sdist in _sdists(wheelhouse):
        assert sdist.read_bytes()[4:8] == bytes(4)  # gzip MTIME
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")


# --- wheel validity -------------------------------------------------------------------------


def _urlsafe_sha256(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _check_record(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        records = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)]
        assert len(records) == 1, wheel.name
        rows = list(csv.reader(io.StringIO(archive.read(records[0]).decode())))
        assert sorted(row[0] for row in rows) == sorted(names), wheel.name
        for path, digest, size in rows:
            if path == records[0]:
                assert (digest, size) == ("", "")
                continue
            data = archive.read(path)
            assert digest == _urlsafe_sha256(data), f"{wheel.name}: {path}"
            assert int(size) == len(data), f"{wheel.name}: {path}"


def test_every_wheel_record_matches_its_members(wheelhouse: Path) -> None:
    wheels = _wheels(wheelhouse)
    assert len(wheels) == 25
    for wheel in wheels:
        _check_record(wheel)


def _metadata(archive: zipfile.ZipFile, name: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for line in archive.read(name).decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    return fields


def test_wheel_names_metadata_and_tags_agree(wheelhouse: Path) -> None:
    for wheel in _wheels(wheelhouse):
        dist, version, python, abi, platforms = wheel.name.removesuffix(".whl").split("-")
        assert re.fullmatch(r"[a-z0-9_]+", dist), wheel.name  # PEP 427 escaped name
        info = f"{dist}-{version}.dist-info"
        with zipfile.ZipFile(wheel) as archive:
            meta = _metadata(archive, f"{info}/METADATA")
            assert meta["Metadata-Version"] == ["2.1"]
            assert re.sub(r"[-_.]+", "_", meta["Name"][0]).lower() == dist
            assert meta["Version"] == [version]
            wheel_file = _metadata(archive, f"{info}/WHEEL")
            expected = {f"{python}-{abi}-{p}" for p in platforms.split(".")}
            assert set(wheel_file["Tag"]) == expected
            assert wheel_file["Root-Is-Purelib"] == ["true" if platforms == "any" else "false"]
            assert archive.read(f"{info}/top_level.txt").strip()


def test_dependency_shape(wheelhouse: Path) -> None:
    def requires(filename: str) -> list[str]:
        with zipfile.ZipFile(wheelhouse / "wheels" / filename) as archive:
            info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            return _metadata(archive, info).get("Requires-Dist", [])

    assert requires("lp_pure_a-1.0-py3-none-any.whl") == ["lp-pure-b"]
    assert requires("boto3-1.0.0-py3-none-any.whl") == ["botocore", "s3transfer", "jmespath"]
    assert requires("botocore-1.0.0-py3-none-any.whl") == ["jmespath", "python-dateutil", "urllib3"]
    assert requires("python_dateutil-1.0.0-py3-none-any.whl") == ["six"]
    assert requires("lp_uses_urllib3-1.0-py3-none-any.whl") == ["urllib3"]


# --- the shared objects ---------------------------------------------------------------------


def _elf_glibc_needs(data: bytes) -> tuple[int, int, list[str]]:
    """(e_type, e_machine, version names needed) read straight from the section headers."""
    assert data[:4] == b"\x7fELF" and data[4:6] == b"\x02\x01"  # ELFCLASS64, little-endian
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    (e_shoff,) = struct.unpack_from("<Q", data, 40)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 58)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    needs = []
    for _, sh_type, _, _, sh_offset, _, link, count, _, _ in headers:
        if sh_type != SHT_GNU_VERNEED:
            continue
        strtab = headers[link][4]
        offset = sh_offset
        for _ in range(count):
            _, cnt, _, aux, nxt = struct.unpack_from("<HHIII", data, offset)
            aux_at = offset + aux
            for _ in range(cnt):
                _, _, _, name, aux_next = struct.unpack_from("<IHHII", data, aux_at)
                needs.append(data[strtab + name : data.index(b"\0", strtab + name)].decode())
                aux_at += aux_next
            offset += nxt
    return e_type, e_machine, needs


@pytest.mark.parametrize(
    ("filename", "machine", "glibc"),
    [
        ("lp_native-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", EM_X86_64, "GLIBC_2.17"),
        (
            "lp_native-1.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
            EM_AARCH64,
            "GLIBC_2.17",
        ),
        ("lp_new_glibc-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", EM_X86_64, "GLIBC_2.28"),
        ("lp_new_glibc-1.0-cp39-abi3-manylinux_2_28_aarch64.whl", EM_AARCH64, "GLIBC_2.28"),
        ("lp_glibc_224-1.0-cp39-abi3-manylinux_2_24_x86_64.whl", EM_X86_64, "GLIBC_2.24"),
        ("lp_glibc_224-1.0-cp39-abi3-manylinux_2_24_aarch64.whl", EM_AARCH64, "GLIBC_2.24"),
        # Tagged for glibc 2.17, needs 2.28: the wheel the audit must catch.
        ("lp_lying_glibc-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", EM_X86_64, "GLIBC_2.28"),
        (
            "lp_lying_glibc-1.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
            EM_AARCH64,
            "GLIBC_2.28",
        ),
    ],
)
def test_native_wheels_hold_elf_for_their_machine(wheelhouse: Path, filename: str, machine: int, glibc: str) -> None:
    with zipfile.ZipFile(wheelhouse / "wheels" / filename) as archive:
        so = next(n for n in archive.namelist() if n.endswith(".abi3.so"))
        assert _elf_glibc_needs(archive.read(so)) == (ET_DYN, machine, [glibc])


# --- namespace packages and sdists ----------------------------------------------------------


def test_nspkg_pth_makes_both_portions_importable(wheelhouse: Path, tmp_path: Path) -> None:
    for part in "ab":
        with zipfile.ZipFile(wheelhouse / "wheels" / f"lp_nspkg_{part}-1.0-py3-none-any.whl") as archive:
            assert "lp_ns/__init__.py" not in archive.namelist()
            archive.extractall(tmp_path)
    # -S: only the .pth files of this directory may set up lp_ns, through site.addsitedir.
    code = f"import site; site.addsitedir({str(tmp_path)!r}); import lp_ns.a, lp_ns.b; "
    code += "print(lp_ns.a.NAME + lp_ns.b.NAME)"
    result = subprocess.run([sys.executable, "-S", "-c", code], check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "ab"


def _extract(sdist: Path, dest: Path) -> None:
    with tarfile.open(sdist) as tar:
        # Python 3.12+ warns without an explicit filter; early 3.10 and 3.11 releases have none.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)  # pragma: no cover


def _host_tag() -> str:
    python = "cp{}{}".format(*sys.version_info[:2])
    return f"{python}-{python}-linux_{platform.machine().lower()}"


@pytest.mark.parametrize(
    ("sdist", "wheel"),
    [
        ("lp-sdist-pure-1.0.tar.gz", "lp_sdist_pure-1.0-py3-none-any.whl"),
        ("lp-sdist-native-1.0.tar.gz", f"lp_sdist_native-1.0-{_host_tag()}.whl"),
    ],
)
def test_sdist_backend_builds_offline(wheelhouse: Path, tmp_path: Path, sdist: str, wheel: str) -> None:
    original = wheelhouse / "sdists" / sdist
    _extract(original, tmp_path / "src")
    (source,) = (tmp_path / "src").iterdir()
    out = tmp_path / "out"
    out.mkdir()
    code = f"import lp_backend as b; print(b.build_wheel({str(out)!r})); print(b.build_sdist({str(out)!r}))"
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=source, check=True, capture_output=True, text=True)
    assert result.stdout.split() == [wheel, sdist]
    _check_record(out / wheel)
    # The backend's own sdist is the generator's, byte for byte: one tarball recipe, not two.
    assert (out / sdist).read_bytes() == original.read_bytes()


# --- the installers accept it ---------------------------------------------------------------


def _uv() -> str:
    try:
        # Imported here: uv is an lpack dependency, but without it only these tests should skip.
        from uv import find_uv_bin  # noqa: PLC0415

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            pytest.skip("uv is not installed")
        return found


def _uv_install(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Keep the developer's own pip/uv settings out: only the fixtures may be found.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["UV_NO_CONFIG"] = "1"
    command = [
        _uv(), "pip", "install", "--no-cache", "--no-index", "--target", str(target),
        "--find-links", str(FIXTURES / "wheels"), "--find-links", str(FIXTURES / "sdists"), *args,
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def test_uv_installs_the_wheelhouse_for_lambda_arm(tmp_path: Path) -> None:
    uv_target = tmp_path / "target"
    result = _uv_install(
        uv_target, "--python-version", "3.12", "--python-platform", "aarch64-manylinux_2_34",
        "lp-pure-a", "lp-native", "lp-new-glibc", "boto3", "lp-nspkg-a", "lp-sdist-pure",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (uv_target / "bin" / "lp-a").is_file()
    assert 'ARCH = "aarch64"' in (uv_target / "lp_native" / "__init__.py").read_text()
    assert (uv_target / "six.py").is_file()
    assert (uv_target / "lp_sdist_pure" / "__init__.py").is_file()


def test_uv_refuses_new_glibc_wheels_on_old_glibc(tmp_path: Path) -> None:
    uv_target = tmp_path / "target"
    result = _uv_install(
        uv_target, "--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_17", "lp-new-glibc"
    )
    assert result.returncode != 0
    assert "manylinux_2_28" in result.stderr
