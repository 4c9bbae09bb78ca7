"""Lambda runtime facts (language, OS, glibc, layer paths, base image) and the wheel tags they imply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from packaging.tags import Tag

Arch = Literal["x86_64", "arm64"]
ARCHES: tuple[Arch, ...] = ("x86_64", "arm64")  # Lambda's spelling; the config refuses amd64/aarch64
Language = Literal["python", "node", "provided", "java", "dotnet", "ruby"]
OS = Literal["al1", "al2", "al2023"]

# --- Limits -------------------------------------------------------------------------------------------------
# [docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html] unless noted.

# "50 MB (zipped, for direct upload)". AWS's MB is MiB here: GetAccountSettings reports
# AccountLimit.CodeSizeZipped = 52428800, and CreateFunction/UpdateFunctionCode reject larger bodies with
# "Request must be smaller than 69905067 bytes": 52,428,800 * 4/3 (the zip, base64-encoded), rounded up.
MAX_ZIPPED = 50 * 1024 * 1024
# "250 MB" unzipped, function plus all its layers; Lambda rejects with "Unzipped size must be smaller than
# 262144000 bytes" and GetAccountSettings reports CodeSizeUnzipped = 262144000 (= 250 MiB).
MAX_UNZIPPED = 262_144_000
# "Function layers: five layers".
# Lambda@Edge: CloudFront quotas, "Size of a Lambda@Edge function package (compressed)": 1 MB for
# viewer request/response functions, 50 MB for origin ones
# [docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-lambda-at-edge].
# MB read as MiB, as for Lambda's own 50 MB (see MAX_ZIPPED).
MAX_EDGE_VIEWER_ZIPPED = 1024 * 1024
MAX_EDGE_ORIGIN_ZIPPED = 50 * 1024 * 1024

MAX_LAYERS = 5
# "10 GB" uncompressed container image including all layers [images-create.html]. AWS does not say whether
# this GB is binary; we read it as GiB like the zip limits above, which makes the check the looser of the two.
MAX_IMAGE_BYTES = 10 * 1024**3
# Ceiling AWS recommends for the image manifest [images-create.html, as recorded in DESIGN.md].
MAX_MANIFEST_BYTES = 25_400
# PublishLayerVersion: CompatibleRuntimes has at most 15 items, CompatibleArchitectures at most 2
# [lambda/latest/api/API_PublishLayerVersion.html].
MAX_COMPATIBLE_RUNTIMES = 15
MAX_COMPATIBLE_ARCHITECTURES = 2

# Every Python runtime ships the AWS SDK for Python (boto3 and its dependencies), in a version that depends on
# runtime and Region [lambda-python.html "Runtime-included SDK versions"].
RUNTIME_PROVIDED_PYTHON = ("boto3", "botocore", "s3transfer")
# Node.js 18 and newer ship the AWS SDK for JavaScript v3 only: @aws-sdk/* clients and their @smithy/* core
# [lambda-nodejs.html "SDK for JavaScript versions included in the runtime"].
RUNTIME_PROVIDED_NODE_SCOPES = ("@aws-sdk/", "@smithy/")

# glibc of each Lambda OS. AL2 ships glibc 2.26; AL2023 ships 2.34 and keeps it for its whole life
# [github.com/aws/aws-lambda-base-images issue 92: "The AL2023 image includes glibc version 2.34
# (previously, version 2.26 was included in provided.al2)"; DESIGN.md; aws-lambda-builders PR 752].
# Amazon Linux 1 (2018.03), the OS of python3.7, ships glibc 2.17 [lambda-runtimes.html lists python3.7 on
# "Amazon Linux"; aws-lambda-builders PR 752 table].
_GLIBC: dict[OS, tuple[int, int]] = {"al1": (2, 17), "al2": (2, 26), "al2023": (2, 34)}

# Every runtime in the table runs on both architectures [lambda-runtimes.html; foundation-arch.html].
_BOTH_ARCHES: tuple[Arch, ...] = ("x86_64", "arm64")
_ECR = "public.ecr.aws/lambda"


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """One Lambda runtime identifier and the facts packaging needs about it."""

    name: str
    language: Language
    version: tuple[int, int] | None
    os: OS
    glibc: tuple[int, int]
    architectures: tuple[Arch, ...]
    layer_paths: tuple[str, ...]
    base_image: str | None
    deprecated: str | None = None  # the day security patches stopped (ISO date)
    block_create: str | None = None  # from this day Lambda refuses CreateFunction with this runtime
    block_update: str | None = None  # from this day it refuses updating functions that use it

    @property
    def python_tag(self) -> str:
        """The CPython interpreter/ABI tag, e.g. "cp312"; ValueError for a non-Python runtime."""
        major, minor = _python_version(self)
        return f"cp{major}{minor}"


def _python_version(runtime: Runtime) -> tuple[int, int]:
    if runtime.language != "python" or runtime.version is None:
        raise ValueError(f"{runtime.name} is not a Python runtime")
    return runtime.version


# --- The runtime table --------------------------------------------------------------------------------------
# Identifiers and OS: [docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html]. Deprecation, block-create and
# block-update dates: the "Supported runtimes" and "Deprecated runtimes" tables of that page, as transcribed in
# cfn-lint's src/cfnlint/data/AdditionalSpecs/LmbdRuntimeLifecycle.json (aws-cloudformation/cfn-lint, PR 4532
# "Update Lambda runtime lifecycle dates from AWS docs", 2026-06; checked at its 2026-08-19 commit), which
# records the 2026 bulk extension (most block dates moved to 2027-02-01 / 2027-03-03).
# Lambda's deprecation policy [lambda-runtimes.html "Runtime deprecation policy"]: after the deprecation date
# no security patches; from "block function create" no new functions; from "block function update" no code or
# configuration updates either (existing functions keep running). Each phase starts at midnight Pacific time;
# lpack compares UTC dates, so it may call a block a few hours early, never late.
# `deprecated` is set only once the date has passed (as of the check above); scheduled future deprecations
# are comments, so the tables elsewhere that skip deprecated runtimes keep offering them.
# Layer paths: [lambda/latest/dg/packaging-layers.html "Layer paths for each Lambda runtime"]; bin/ and lib/
# apply to every runtime and are handled by the layer emitter. Base images: gallery.ecr.aws/lambda/<language>
# [images-create.html, python-image.html, nodejs-image.html, java-image.html].
_Blocks = tuple[str, str] | None  # (block function create, block function update), ISO dates
_EXTENDED = ("2027-02-01", "2027-03-03")  # the bulk-extended block dates shared by most deprecated runtimes


def _python(
    minor: int,
    os: OS,
    *,
    deprecated: str | None = None,
    blocks: _Blocks = None,
    architectures: tuple[Arch, ...] = _BOTH_ARCHES,
) -> Runtime:
    name = f"python3.{minor}"
    return Runtime(
        name=name,
        language="python",
        version=(3, minor),
        os=os,
        glibc=_GLIBC[os],
        architectures=architectures,
        # "python" is on sys.path; the site-packages form is version-pinned, so it breaks on a runtime change.
        layer_paths=("python", f"python/lib/{name}/site-packages"),
        base_image=f"{_ECR}/python:3.{minor}",
        deprecated=deprecated,
        block_create=blocks[0] if blocks else None,
        block_update=blocks[1] if blocks else None,
    )


def _node(major: int, os: OS, *, deprecated: str | None = None, blocks: _Blocks = None) -> Runtime:
    return Runtime(
        name=f"nodejs{major}.x",
        language="node",
        version=(major, 0),
        os=os,
        glibc=_GLIBC[os],
        architectures=_BOTH_ARCHES,
        # nodejs/nodeNN/node_modules is on NODE_PATH for runtime NN only [nodejs-layers.html: "where X is your
        # Node.js version, for example node22"]; nodejs/node_modules works for every Node.js runtime.
        layer_paths=("nodejs/node_modules", f"nodejs/node{major}/node_modules"),
        base_image=f"{_ECR}/nodejs:{major}",
        deprecated=deprecated,
        block_create=blocks[0] if blocks else None,
        block_update=blocks[1] if blocks else None,
    )


def _provided(os: OS, *, deprecated: str | None = None, blocks: _Blocks = None) -> Runtime:
    return Runtime(
        name=f"provided.{os}",
        language="provided",
        version=None,
        os=os,
        glibc=_GLIBC[os],
        architectures=_BOTH_ARCHES,
        layer_paths=(),  # only bin/ and lib/; the function supplies a `bootstrap` executable.
        base_image=f"{_ECR}/provided:{os}",
        deprecated=deprecated,
        block_create=blocks[0] if blocks else None,
        block_update=blocks[1] if blocks else None,
    )


def _java(
    name: str, major: int, os: OS, image_tag: str, *, deprecated: str | None = None, blocks: _Blocks = None
) -> Runtime:
    return Runtime(
        name=name,
        language="java",
        version=(major, 0),
        os=os,
        glibc=_GLIBC[os],
        architectures=_BOTH_ARCHES,
        layer_paths=("java/lib",),  # on CLASSPATH
        base_image=f"{_ECR}/java:{image_tag}",
        deprecated=deprecated,
        block_create=blocks[0] if blocks else None,
        block_update=blocks[1] if blocks else None,
    )


def _dotnet(major: int, os: OS, *, deprecated: str | None = None, blocks: _Blocks = None) -> Runtime:
    return Runtime(
        name=f"dotnet{major}",
        language="dotnet",
        version=(major, 0),
        os=os,
        glibc=_GLIBC[os],
        architectures=_BOTH_ARCHES,
        layer_paths=(),  # packaging-layers.html lists no .NET-specific path; only bin/ and lib/
        base_image=f"{_ECR}/dotnet:{major}",
        deprecated=deprecated,
        block_create=blocks[0] if blocks else None,
        block_update=blocks[1] if blocks else None,
    )


def _ruby(major: int, minor: int, os: OS, *, deprecated: str | None = None, blocks: _Blocks = None) -> Runtime:
    return Runtime(
        name=f"ruby{major}.{minor}",
        language="ruby",
        version=(major, minor),
        os=os,
        glibc=_GLIBC[os],
        architectures=_BOTH_ARCHES,
        # The docs show ruby/gems/3.4.0 (GEM_PATH) for Ruby 3.4; the directory is Ruby's ABI version "X.Y.0".
        layer_paths=(f"ruby/gems/{major}.{minor}.0", "ruby/lib"),
        base_image=f"{_ECR}/ruby:{major}.{minor}",
        deprecated=deprecated,
        block_create=blocks[0] if blocks else None,
        block_update=blocks[1] if blocks else None,
    )


_TABLE: tuple[Runtime, ...] = (
    # Python [lambda-python.html]: 3.12 and newer on AL2023, 3.8 to 3.11 on AL2, 3.7 on Amazon Linux 1.
    _python(14, "al2023"),  # deprecation scheduled 2029-06-30
    _python(13, "al2023"),  # deprecation scheduled 2029-06-30
    _python(12, "al2023"),  # deprecation scheduled 2028-10-31
    # AL2 reached end of life 2026-06-30, but AWS extended python3.11 by a year: deprecation 2027-06-30.
    _python(11, "al2"),
    _python(10, "al2", deprecated="2026-10-31", blocks=_EXTENDED),
    _python(9, "al2", deprecated="2025-12-15", blocks=_EXTENDED),
    _python(8, "al2", deprecated="2024-10-14", blocks=_EXTENDED),
    # python3.7 never ran on arm64: Graviton support began with python3.8 [foundation-arch.html].
    _python(7, "al1", deprecated="2023-12-04", blocks=("2024-01-09", "2027-03-03"), architectures=("x86_64",)),
    # Node.js [nodejs-image.html base image table]: 20 and newer on AL2023, 14 to 18 on AL2.
    _node(24, "al2023"),  # deprecation scheduled 2028-04-30
    _node(22, "al2023"),  # deprecation scheduled 2027-04-30
    _node(20, "al2023", deprecated="2026-04-30", blocks=_EXTENDED),
    _node(18, "al2", deprecated="2025-09-01", blocks=_EXTENDED),
    _node(16, "al2", deprecated="2024-06-12", blocks=_EXTENDED),
    _node(14, "al2", deprecated="2023-12-04", blocks=("2024-01-09", "2027-03-03")),
    # OS-only runtimes [runtimes-provided.html].
    _provided("al2023"),  # deprecation scheduled 2029-06-30
    _provided("al2", deprecated="2026-07-31", blocks=_EXTENDED),
    # Java [lambda-java.html]. java8.al2/11/17 on AL2 got the same one-year extension as python3.11.
    # The .al2023 variants shipped 2026-07 [aws-lambda-roadmap issue 86, linking
    # whats-new/2026/07/aws-lambda-java-amazon-linux]; image tags inferred from "java:11.al2023-x86_64".
    _java("java25", 25, "al2023", "25"),
    _java("java21", 21, "al2023", "21"),
    _java("java17.al2023", 17, "al2023", "17.al2023"),
    _java("java11.al2023", 11, "al2023", "11.al2023"),
    _java("java8.al2023", 8, "al2023", "8.al2023"),
    _java("java17", 17, "al2", "17"),
    _java("java11", 11, "al2", "11"),
    _java("java8.al2", 8, "al2", "8.al2"),
    # .NET [lambda-csharp.html]; dotnet9 was container-only and has no zip runtime identifier.
    _dotnet(10, "al2023"),  # deprecation scheduled 2028-11-14
    _dotnet(8, "al2023", deprecated="2026-11-10", blocks=_EXTENDED),  # follows Microsoft's .NET 8 end of support
    # Ruby [lambda-ruby.html]; ruby4.0 shipped 2026-04 [whats-new/2026/04/aws-lambda-adds-ruby].
    _ruby(4, 0, "al2023"),
    _ruby(3, 4, "al2023"),  # deprecation scheduled 2028-03-31
    _ruby(3, 3, "al2023"),  # deprecation scheduled 2027-03-31
    _ruby(3, 2, "al2", deprecated="2026-03-31", blocks=_EXTENDED),  # Ruby 3.2 upstream end of life
)

RUNTIMES: Mapping[str, Runtime] = MappingProxyType({runtime.name: runtime for runtime in _TABLE})


def get_runtime(name: str) -> Runtime:
    """The runtime called `name` ("python3.12"); KeyError when Lambda has no such runtime in this table."""
    return RUNTIMES[name]


def python_runtimes() -> tuple[Runtime, ...]:
    """All Python runtimes, newest first, deprecated ones included."""
    return tuple(runtime for runtime in RUNTIMES.values() if runtime.language == "python")


def machine_name(arch: Arch) -> str:
    """The machine name used in wheel tags and ELF headers: Lambda says arm64, wheels say aarch64."""
    return "aarch64" if arch == "arm64" else "x86_64"


# --- Wheel platforms ----------------------------------------------------------------------------------------

# The oldest glibc minor that has manylinux wheels per machine: x86_64 starts at manylinux1 (glibc 2.5);
# aarch64 wheels start at manylinux2014 (glibc 2.17) [PEP 599, PEP 600].
_OLDEST_GLIBC_MINOR = {"x86_64": 5, "aarch64": 17}
# PEP 513/571/599 names, still used by many wheels; PEP 600 makes each an alias of one manylinux_2_N.
_LEGACY_ALIASES = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def manylinux_platforms(runtime: Runtime, arch: Arch) -> tuple[str, ...]:
    """pip `--platform` values the runtime can load, newest first.

    pip does not expand `--platform manylinux_2_26_x86_64` to older glibc versions, so every minor is
    listed, each legacy alias right after its PEP 600 twin (the order packaging.tags uses). No musllinux:
    Lambda's OS is glibc-based.
    """
    machine = machine_name(arch)
    major, newest = runtime.glibc
    platforms: list[str] = []
    for minor in range(newest, _OLDEST_GLIBC_MINOR[machine] - 1, -1):
        platforms.append(f"manylinux_{major}_{minor}_{machine}")
        alias = _LEGACY_ALIASES.get((major, minor))
        if alias is not None:
            platforms.append(f"{alias}_{machine}")
    return tuple(platforms)


# glibc minors uv's --python-platform knows as "<machine>-manylinux_2_N" [`uv pip install --help`, uv 0.13:
# 2_17 (= manylinux2014), 2_28, 2_31 .. 2_40 on both machines]. aarch64 stops at 2_38 here because older uv
# releases stopped there; AL2023's 2.34 is below either cap.
_UV_GLIBC_MINORS = {
    "x86_64": (17, 28, *range(31, 41)),
    "aarch64": (17, 28, *range(31, 39)),
}


def uv_platform(runtime: Runtime, arch: Arch) -> str:
    """uv's `--python-platform` for the runtime: the newest uv manylinux target the runtime's glibc can load.

    Never "<machine>-unknown-linux-gnu": uv reads that as manylinux_2_28, too new for AL2 (glibc 2.26).
    uv has no target between 2_17 and 2_28, so for AL2 it only sees wheels up to manylinux_2_17: a
    dependency whose only Linux wheels are tagged manylinux_2_18 .. 2_26 needs the pip path, which gets
    every minor from manylinux_platforms().
    """
    machine = machine_name(arch)
    major, minor = runtime.glibc
    usable = [known for known in _UV_GLIBC_MINORS[machine] if known <= minor]
    if major != 2 or not usable:
        raise ValueError(f"uv has no manylinux target for glibc {major}.{minor} ({runtime.name})")
    return f"{machine}-manylinux_2_{max(usable)}"


def supported_tags(runtime: Runtime, arch: Arch) -> list[Tag]:
    """Wheel tags the runtime can install, most preferred first (like packaging.tags.sys_tags() on Lambda).

    CPython tags for the runtime's ABI (cp3X, abi3, none) on every manylinux platform, then the
    pure-Python fallbacks down to py3-none-any. ValueError for a non-Python runtime.
    """
    # packaging.tags (and the subprocess, sysconfig, logging it imports) only when tags are asked for: every
    # command imports this module, few of them resolve wheels.
    from packaging.tags import compatible_tags, cpython_tags  # noqa: PLC0415

    version = _python_version(runtime)
    interpreter = runtime.python_tag
    platforms = manylinux_platforms(runtime, arch)
    return [
        *cpython_tags(version, abis=[interpreter], platforms=platforms),
        *compatible_tags(version, interpreter, platforms),
    ]
