"""One redaction for everything lpack shows or writes: log lines, errors, hints, reports.

Credentials reach lpack in URLs (an index URL with `user:pass@`, an `--endpoint-url`) and in tool output that
echoes them (pip, uv, npm, botocore). Redacting at every exit point, with one function, means a new message
cannot forget to.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "****"

# scheme://user:password@host or scheme://token@host: everything between // and @ is a credential.
# The user part is kept only when a password follows, as pip does ("https://user:****@host").
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s@'\"<>]+)@")
# Token shapes from gitleaks' and detect-secrets' rule sets: distinctive prefixes, so no false positives on
# hashes or paths. AWS secret keys have no prefix: only caught next to their variable name.
_TOKENS = re.compile(
    r"\b(?:"
    r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|npm_[A-Za-z0-9]{36}"  # npm
    r"|pypi-[A-Za-z0-9_-]{50,}"  # PyPI upload tokens
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|sk_live_[0-9a-zA-Z]{24,}"  # Stripe
    r")"
)
# What a packed file must not hold, by name, for `lpack build`'s secret scan: never the match itself in a message.
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)(?!IOSFODNN7EXAMPLE)[0-9A-Z]{16}\b")),
    ("a Google service-account key", re.compile(r'"type"\s*:\s*"service_account"')),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b|_authToken\s*=\s*\S{8,}")),
    ("a PyPI token", re.compile(r"\bpypi-[A-Za-z0-9_-]{50,}")),
    ("a Stripe live key", re.compile(r"\bsk_live_[0-9a-zA-Z]{24,}")),
)

# key=value / key: value where the key names a secret (password=..., aws_secret_access_key = ..., _authToken=...).
# Only `=` or a quoted key with `:` (JSON, YAML): prose such as "may hold secrets: .npmrc" is left alone.
_SECRET_KEY = r"[\w.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)[\w.-]*"
_ASSIGNED = re.compile(
    rf"(?P<key>\b{_SECRET_KEY}\s*=\s*['\"]?|['\"]{_SECRET_KEY}['\"]\s*:\s*['\"]?)(?P<value>[^\s'\",;&]{{4,}})",
    re.IGNORECASE,
)
# Authorization headers as pip/uv/botocore debug output shows them.
_AUTH_HEADER = re.compile(r"(?P<key>\bAuthorization:\s*(?:Basic|Bearer|AWS4-HMAC-SHA256)\s+)(?P<value>\S+)", re.I)


def _userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match["userinfo"].partition(":")
    return f"{match['scheme']}{user}:{MASK}@" if sep else f"{match['scheme']}{MASK}@"


def redact(text: str) -> str:
    """`text` with URL credentials, token shapes and `password=...` values replaced by ****."""
    if not text:
        return text
    text = _URL_USERINFO.sub(_userinfo, text)
    text = _AUTH_HEADER.sub(lambda m: m["key"] + MASK, text)
    text = _ASSIGNED.sub(lambda m: m["key"] + MASK, text)
    return _TOKENS.sub(MASK, text)


def redact_data(data: Any) -> Any:
    """A JSON-like value with every string in it redacted (for reports)."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {key: redact_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(value) for value in data]
    return data
