"""One config value at a time: its type, its closed choices, sizes and runtimes, and the small tables
(prune, budget, publish, audit); every failure is a ConfigError naming the file, the table and the key."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypeGuard, TypeVar, overload

from lpack import lifecycle, runtimes
from lpack.config.model import (
    AUDIT_CODES,
    PRUNE_PROFILES,
    SOURCE_MAPS,
    SSE_MODES,
    AuditConfig,
    Budget,
    BundleConfig,
    PruneConfig,
    PublishConfig,
)
from lpack.config.reference import parse_reference
from lpack.errors import ConfigError
from lpack.runtimes import ARCHES, Arch
from lpack.units import parse_size

T = TypeVar("T")
U = TypeVar("U")
Choice = TypeVar("Choice", bound=str)  # one of a Literal's values: "uv" as an Installer, not any str


class Where:
    """Names a place in the config for error messages: `lpack.toml: [functions.api] runtime`."""

    def __init__(self, file: Path, table: str) -> None:
        self.file = file
        self.table = table

    def error(self, key: str, problem: str, hint: str | None = None) -> ConfigError:
        where = f"[{self.table}] {key}" if self.table else key
        return ConfigError(f"{self.file.name}: {where}: {problem}", hint=hint)

    def sub(self, key: str) -> Where:  # the table under `key`: [functions.api.prune]
        return Where(self.file, f"{self.table}.{key}" if self.table else key)


def closest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return found[0] if found else None


def did_you_mean(word: str, choices: list[str]) -> str:
    best = closest(word, choices)
    return f'did you mean "{best}"?' if best else "valid: " + ", ".join(choices)


@overload
def expect(value: object, kind: type[T], where: Where, key: str, what: str) -> T: ...
@overload
def expect(value: object, kind: tuple[type[T], type[U]], where: Where, key: str, what: str) -> T | U: ...
def expect(value: object, kind: type[T] | tuple[type[T], type[U]], where: Where, key: str, what: str) -> T | U:
    # `value` as the type asked for; a dict or list comes back with unknown item types.
    # bool is an int in Python; a size or path given as `true` is a typo, not a value.
    if isinstance(value, bool) and kind is not bool:
        raise where.error(key, f"expected {what}, got a boolean")
    if not isinstance(value, kind):
        raise where.error(key, f"expected {what}, got {type(value).__name__} {value!r}")
    return value


def flag(value: object, where: Where, key: str) -> bool:
    return expect(value, bool, where, key, "true or false")


def table_of(value: object, where: Where, key: str, what: str = "a table") -> dict[str, object]:
    found: dict[str, object] = expect(value, dict, where, key, what)  # TOML keys are strings
    return found


def str_list(value: object, where: Where, key: str) -> tuple[str, ...]:
    items: list[object] = expect(value, list, where, key, "a list of strings")
    return tuple(expect(item, str, where, key, "a list of strings") for item in items)


def is_one_of(text: str, choices: tuple[Choice, ...]) -> TypeGuard[Choice]:
    return text in choices


def choice(value: object, choices: tuple[Choice, ...], where: Where, key: str) -> Choice:
    text = expect(value, str, where, key, "a string")
    if not is_one_of(text, choices):
        raise where.error(key, f'"{text}" is not one of {", ".join(choices)}; {did_you_mean(text, list(choices))}')
    return text


def check_keys(table: Mapping[str, object], known: list[str], where: Where) -> None:
    for key in table:
        if key not in known:
            raise where.error(key, f"unknown key; {did_you_mean(key, known)}")


def parse_runtime(value: object, where: Where, key: str) -> runtimes.Runtime:
    """Any known runtime; whether lpack can build for it is checked with the function's `kind`."""
    name = expect(value, str, where, key, 'a runtime name like "python3.12"')
    blocked = lifecycle.update_blocked(name, lifecycle.today())
    if blocked is not None:
        raise where.error(key, blocked, hint=f'use runtime = "{lifecycle.successor(name)}"')
    try:
        runtime = runtimes.get_runtime(name)
    except KeyError:
        names = [r.name for r in runtimes.python_runtimes()]
        raise where.error(
            key,
            f'unknown runtime "{name}"; {did_you_mean(name, list(runtimes.RUNTIMES))}',
            hint="supported Python runtimes: " + ", ".join(names),
        ) from None
    return runtime


def parse_arch(value: object, where: Where, key: str) -> Arch:
    text = expect(value, str, where, key, '"x86_64" or "arm64"')
    aliases = {"amd64": "x86_64", "aarch64": "arm64", "x86-64": "x86_64"}
    if text in aliases:
        raise where.error(key, f'"{text}" is spelled "{aliases[text]}" in Lambda')
    return choice(text, ARCHES, where, key)


def parse_size_value(value: object, where: Where, key: str) -> int:
    try:
        return parse_size(expect(value, (str, int), where, key, 'a size like "40MB"'))
    except ValueError as err:
        raise where.error(key, str(err)) from None


def parse_base(value: object, where: Where, key: str) -> str:
    text = expect(value, str, where, key, 'an image: "REGISTRY/REPO:TAG", "oci:DIR[:tag]" or "docker-archive:FILE"')
    if text.startswith(("oci:", "docker-archive:")):
        if not text.split(":", 1)[1]:
            raise where.error(key, f'"{text}" names no path')
        return text
    try:
        parse_reference(text)
    except ConfigError as err:
        raise where.error(key, err.msg, hint=err.hint) from None
    return text


def parse_prune(value: object, where: Where, key: str) -> PruneConfig:
    table = table_of(value, where, key)
    sub = where.sub(key)
    check_keys(table, ["profile", "remove", "keep"], sub)
    return PruneConfig(
        profile=choice(table.get("profile", "safe"), PRUNE_PROFILES, sub, "profile"),
        remove=str_list(table.get("remove", []), sub, "remove"),
        keep=str_list(table.get("keep", []), sub, "keep"),
    )


def parse_budget(value: object, where: Where, key: str) -> Budget:
    table = table_of(value, where, key)
    sub = where.sub(key)
    check_keys(table, ["max-zipped", "max-unzipped"], sub)
    get = {k: parse_size_value(v, sub, k) for k, v in table.items()}
    return Budget(max_zipped=get.get("max-zipped"), max_unzipped=get.get("max-unzipped"))


def parse_compatible_runtimes(value: object, where: Where, key: str) -> tuple[str, ...]:
    names = str_list(value, where, key)
    if len(names) > runtimes.MAX_COMPATIBLE_RUNTIMES:
        raise where.error(key, f"{len(names)} runtimes; Lambda records at most {runtimes.MAX_COMPATIBLE_RUNTIMES}")
    return tuple(parse_runtime(name, where, key).name for name in names)


def parse_compatible_arches(value: object, where: Where, key: str) -> tuple[Arch, ...]:
    arches = tuple(parse_arch(a, where, key) for a in str_list(value, where, key))
    if len(set(arches)) != len(arches) or len(arches) > runtimes.MAX_COMPATIBLE_ARCHITECTURES:
        raise where.error(key, "list x86_64 and/or arm64, each once")
    return arches


_PUBLISH_TEXT = {"bucket": "a bucket name", "prefix": "a key prefix", "kms-key-id": "a KMS key id or ARN"}
_PUBLISH_TEXT |= {"license": "licence info, e.g. an SPDX id", "description": "a description"}


def parse_publish(value: object, where: Where, key: str) -> PublishConfig:
    table = table_of(value, where, key)
    sub = where.sub(key)
    check_keys(table, [*_PUBLISH_TEXT, "sse", "public", "grant"], sub)
    text = {
        k.replace("-", "_"): expect(v, str, sub, k, _PUBLISH_TEXT[k]) for k, v in table.items() if k in _PUBLISH_TEXT
    }
    sse = choice(table["sse"], SSE_MODES, sub, "sse") if "sse" in table else None
    if "kms_key_id" in text and sse != "aws:kms":
        raise sub.error("kms-key-id", 'needs sse = "aws:kms"')
    grants = str_list(table.get("grant", []), sub, "grant")
    for account in grants:
        if not re.fullmatch(r"\d{12}", account):
            raise sub.error("grant", f'"{account}" is not a 12-digit AWS account id', hint="public = true for everyone")
    public = flag(table.get("public", False), sub, "public")
    return PublishConfig(sse=sse, public=public, grants=grants, **text)


def parse_audit(value: object, where: Where, key: str) -> AuditConfig:
    table = table_of(value, where, key)
    sub = where.sub(key)
    check_keys(table, ["waive"], sub)
    waive = str_list(table.get("waive", []), sub, "waive")
    for item in waive:
        code = item.partition(":")[0]
        if code not in AUDIT_CODES:
            raise sub.error(
                "waive",
                f'"{code}" is not an audit finding; {did_you_mean(code, list(AUDIT_CODES))}',
                hint='waive a code ("pth") or one file ("elf-glibc:pkg/_native.so"), as the build names them',
            )
    return AuditConfig(waive=waive)


_NODE_TARGET = re.compile(r"^node\d+(\.\d+){0,2}$")
_BUNDLE_KEYS = ["minify", "sourcemap", "target", "define", "banner", "require-shim"]


def parse_bundle(value: object, where: Where, key: str) -> BundleConfig | None:
    # `bundle = true` takes the defaults, `bundle = false` none; a table sets esbuild's options.
    if isinstance(value, bool):
        return BundleConfig() if value else None
    table = table_of(value, where, key, "true, false or a table of bundle options")
    sub = where.sub(key)
    check_keys(table, _BUNDLE_KEYS, sub)
    target = table.get("target")
    if target is not None and not _NODE_TARGET.match(expect(target, str, sub, "target", "a string")):
        raise sub.error("target", f'"{target}" is not a Node.js target', hint='e.g. target = "node20"')
    define = table_of(table.get("define", {}), sub, "define", "a table of NAME = expression strings")
    return BundleConfig(
        minify=flag(table.get("minify", True), sub, "minify"),
        sourcemap=choice(table.get("sourcemap", "off"), SOURCE_MAPS, sub, "sourcemap"),
        target=target if isinstance(target, str) else None,
        define=tuple((k, expect(v, str, sub, f"define.{k}", "an expression string")) for k, v in define.items()),
        banner=expect(table.get("banner", ""), str, sub, "banner", "a string"),
        require_shim=flag(table.get("require-shim", True), sub, "require-shim"),
    )
