"""A remote cache: the local cache's entries shared across machines (CI runners) through S3.

`open_remote(settings)` gives the lpack.cache.Remote a Cache carries; RemoteSettings and its parser live in
lpack.config (BuildConfig holds them), re-exported here.
"""

from __future__ import annotations

from lpack.config.model import RemoteSettings
from lpack.config.remote import ENV_READ_ONLY, ENV_URL, parse_remote_url
from lpack.remote.cache import RemoteCache

__all__ = ["ENV_READ_ONLY", "ENV_URL", "RemoteCache", "RemoteSettings", "open_remote", "parse_remote_url"]


def open_remote(settings: RemoteSettings) -> RemoteCache:
    """The remote cache `settings` names; nothing is contacted until the first fetch or push."""
    return RemoteCache(settings)
