"""Build results kept in the cache as plain JSON with a schema version, checked field by field when read
back (msgspec, strict: a wrong type, a missing field or an unknown literal is no result). A pickle would run
whatever code a planted cache file names; JSON only ever yields data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import msgspec

SCHEMA = 1  # bump when a stored class changes shape: older results then read as "none"

T = TypeVar("T")


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    schema: int
    value: msgspec.Raw


def _encode(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    raise NotImplementedError(f"cannot store {type(obj).__name__}")


def _decode(kind: type, obj: Any) -> Any:
    if kind is Path and isinstance(obj, str):
        return Path(obj)
    raise NotImplementedError(f"no {kind}")


def dump(value: object) -> bytes:
    return msgspec.json.encode({"schema": SCHEMA, "value": value}, enc_hook=_encode)


def load(data: bytes, kind: type[T]) -> T | None:
    """The `kind` in `data`, or None when it is another schema, another type or not valid at all."""
    try:
        envelope = msgspec.json.decode(data, type=_Envelope)
        if envelope.schema != SCHEMA:
            return None
        return msgspec.json.decode(envelope.value, type=kind, strict=True, dec_hook=_decode)
    except (msgspec.ValidationError, msgspec.DecodeError, NotImplementedError):
        return None
