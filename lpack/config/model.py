"""The configuration as frozen dataclasses, and each closed choice as a Literal with the tuple the config checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lpack import runtimes
from lpack.archive.deflate import Compression
from lpack.runtimes import Arch

# Each Literal's values once more as a tuple: what a config value is checked against, in the order
# error messages list them (tests/unit/test_config.py checks that the two agree).
PruneProfile = Literal["safe", "none"]
PRUNE_PROFILES: tuple[PruneProfile, ...] = ("safe", "none")
Installer = Literal["uv", "pip"]
INSTALLERS: tuple[Installer, ...] = ("uv", "pip")
# "only": dependencies as .pyc alone (the sourceless layout), for functions near the unzipped limit.
Bytecode = Literal["auto", "none", "only"]
BYTECODES: tuple[Bytecode, ...] = ("auto", "none", "only")
ArtifactRole = Literal["function", "layer"]
LayerLayout = Literal["default", "site-packages", "versioned"]
LAYER_LAYOUTS: tuple[LayerLayout, ...] = ("default", "site-packages", "versioned")
Format = Literal["zip", "image"]
FORMATS: tuple[Format, ...] = ("zip", "image")
Kind = Literal["auto", "prebuilt"]
KINDS: tuple[Kind, ...] = ("auto", "prebuilt")
EdgeEvent = Literal["viewer", "origin"]
EDGE_EVENTS: tuple[EdgeEvent, ...] = ("viewer", "origin")
SseMode = Literal["AES256", "aws:kms"]
SSE_MODES: tuple[SseMode, ...] = ("AES256", "aws:kms")
SourceMap = Literal["off", "inline", "file"]
SOURCE_MAPS: tuple[SourceMap, ...] = ("off", "inline", "file")

# Every audit finding a user can waive: `audit = { waive = ["elf-glibc"] }` or one file, "elf-glibc:path/in/zip".
# Here, not in lpack.audit (a later stage), because the config checks them; lpack.audit.checks uses these.
AUDIT_CODES = (
    "elf-arch",
    "elf-glibc",
    "elf-musl",
    "elf-invalid",
    "unreadable",
    "no-exec",
    "abs-shebang",
    "pth",
    "nspkg",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneConfig:
    profile: PruneProfile = "safe"
    remove: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    max_zipped: int | None = None
    max_unzipped: int | None = None
    edge: EdgeEvent | None = None  # a Lambda@Edge function: CloudFront's smaller package quotas apply


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishConfig:
    """A layer's `publish` table: where `lpack publish` puts it; the command line's options win."""

    bucket: str | None = None
    prefix: str = ""
    sse: SseMode | None = None
    kms_key_id: str | None = None
    license: str | None = None
    description: str | None = None
    public: bool = False
    grants: tuple[str, ...] = ()  # account ids allowed to use the published version


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditConfig:
    # Findings the user accepts: a whole code ("pth") or one file ("elf-glibc:pkg/_x.so").
    waive: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleConfig:
    """A Node.js function's `bundle` table: esbuild's options (`bundle = true` means these defaults)."""

    minify: bool = True
    sourcemap: SourceMap = "off"
    target: str | None = None  # esbuild's target ("node20"); None: the runtime's Node.js version
    define: tuple[tuple[str, str], ...] = ()  # identifier -> replacement expression
    banner: str = ""  # text put at the top of the bundle
    # ESM output: define `require` with createRequire, so bundled CommonJS code can require Node's modules.
    require_shim: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexOptions:
    """Where packages come from; empty means the installer's own defaults and environment."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedInclude:
    """An `include = [{ from = "../shared", to = "shared" }]` entry: files from outside the function's source."""

    source: Path  # absolute: `from`, relative to the project directory; a directory or one file
    target: str  # POSIX path inside the artifact it lands under ("" = the root)


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionConfig:
    name: str
    project_dir: Path
    runtime: runtimes.Runtime
    handler: str
    architecture: Arch = "x86_64"  # Lambda's default
    source: Path
    source_set: bool = False  # whether `source`/`include` were given (a built wheel then adds sources)
    requirements: Path | None = None
    # What the build says about the dependency files (lpack.config.deps): which one was found when the config
    # names none, and files that exist but are not used.
    dependency_note: str = ""
    dependency_warnings: tuple[str, ...] = ()
    # Packages whose source distributions may be built on this machine even though they are not pure Python.
    build_from_source: tuple[str, ...] = ()
    # What a uv.lock, poetry.lock or pylock.toml named by `requirements` contributes besides the main
    # dependencies: extras and dependency groups (a dev group never).
    lock_extras: tuple[str, ...] = ()
    lock_groups: tuple[str, ...] = ()
    # `lpack build --locked`: a lock committed by `lpack lock` must exist and match its inputs, or exit 2.
    locked: bool = False
    include: tuple[str, ...] = ()
    shared: tuple[SharedInclude, ...] = ()  # include's { from, to } tables
    # The function's environment variables (`environment = { TABLE = "orders" }`, or a SAM template's
    # Environment.Variables): `build --verify` imports the handler with them, as Lambda would.
    environment: tuple[tuple[str, str], ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_runtime_provided: bool = False
    prune: PruneConfig = field(default_factory=PruneConfig)
    budget: Budget = field(default_factory=Budget)
    audit: AuditConfig = field(default_factory=AuditConfig)
    installer: Installer = "uv"
    bytecode: Bytecode = "auto"
    compression: Compression = "default"  # zip deflate: fast (ISA-L 2), default (zlib-ng 6), small (zlib-ng 9)
    python: Path | None = None
    index: IndexOptions = field(default_factory=IndexOptions)
    role: ArtifactRole = "function"
    # A function's layers, by name, in the order Lambda stacks them; and whether the same distribution may
    # appear in the function and a layer at different versions (the layer's is shadowed: usually a bug).
    layers: tuple[str, ...] = ()
    allow_duplicate_versions: bool = False
    node_scripts: bool = False  # run npm install scripts (only when the target is this machine)
    # "prebuilt": `source` is a directory another toolchain built (Go/Rust bootstrap, Java, .NET, Ruby):
    # zipped as it is, with the user's patterns, the sizer and the report; no installer runs.
    kind: Kind = "auto"
    # A layer's shape: where packages go (packaging-layers.html), what it is recorded as compatible with,
    # and directories whose contents go to the zip's bin/ (on PATH) and lib/ (on LD_LIBRARY_PATH).
    layout: LayerLayout = "default"  # python/ or nodejs/node_modules/
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[Arch, ...] = ()
    bin_dir: Path | None = None
    lib_dir: Path | None = None
    publish: PublishConfig = field(default_factory=PublishConfig)
    format: Format = "zip"
    base: str | None = None  # image base: registry reference, oci:DIR[:tag] or docker-archive:FILE
    # Node.js: one esbuild bundle instead of the sources (None: not bundled); packages left out of it
    # (installed into node_modules), besides the native ones found; a layer's Lambda extensions directory.
    bundle: BundleConfig | None = None
    external: tuple[str, ...] = ()
    extensions_dir: Path | None = None
    # `--strict`: a secret-looking content in a packed file (a private key, an access key id) fails the build.
    strict_secrets: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageDelivery:
    """Where image builds go besides the OCI layout in the output directory (command-line only)."""

    outputs: tuple[str, ...] = ()  # "oci:DIR" (instead of dist/NAME.oci) and "docker-archive:FILE"
    push: str | None = None  # REGISTRY/REPOSITORY:TAG
    load: bool = False  # into the local Docker daemon
    insecure: tuple[str, ...] = ()  # registry hosts spoken to over plain HTTP (loopback always is)

    @property
    def requested(self) -> bool:
        return bool(self.outputs or self.push or self.load)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteSettings:
    """A remote cache shared across machines: `s3://bucket/prefix`; read-only builds fetch and never push."""

    url: str  # normalized: s3://bucket or s3://bucket/prefix (no trailing slash)
    read_only: bool = False

    @property
    def bucket(self) -> str:
        return self.url.removeprefix("s3://").partition("/")[0]

    @property
    def prefix(self) -> str:
        return self.url.removeprefix("s3://").partition("/")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildConfig:
    """Everything `lpack.build()` needs: the functions to build and where to put them."""

    project_dir: Path
    config_file: Path | None
    out_dir: Path
    functions: tuple[FunctionConfig, ...]
    layers: tuple[FunctionConfig, ...] = ()  # role "layer"; built before the functions that use them

    def layers_of(self, fn: FunctionConfig) -> tuple[FunctionConfig, ...]:
        by_name = {layer.name: layer for layer in self.layers}
        return tuple(by_name[name] for name in fn.layers)

    image: ImageDelivery = field(default_factory=ImageDelivery)
    # [tool.lpack.cache] remote, LPACK_CACHE_REMOTE or --cache-remote; None: the local cache only.
    cache_remote: RemoteSettings | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """Values from the command line; they win over the config file."""

    runtime: str | None = None
    architecture: str | None = None
    out_dir: Path | None = None
    functions: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    installer: str | None = None
    python: Path | None = None
    index_url: str | None = None
    find_links: tuple[str, ...] = ()  # added to the config's, relative to the current directory
    no_index: bool = False
    locked: bool = False
    format: str | None = None
    outputs: tuple[str, ...] = ()
    push: str | None = None
    load: bool = False
    insecure_registries: tuple[str, ...] = ()
    strict: bool = False  # --strict: secrets found in packed files are errors, not warnings
    cache_remote: str | None = None  # --cache-remote s3://bucket/prefix
    cache_read_only: bool = False  # --cache-read-only
