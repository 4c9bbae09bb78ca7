"""A small OCI distribution client: token auth, blob HEAD/mount/upload, manifest GET/PUT.

Why our own: the docker SDK only talks to a daemon, and oras-py (the maintained Python registry client) has
no cross-repository mount, targets artifacts rather than image indexes, and brings requests and jsonschema.
The protocol we need is a dozen requests [github.com/opencontainers/distribution-spec spec.md]; the stdlib
does it, including the bearer-token flow [distribution docs/spec/auth/token.md].
"""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any, NoReturn

from lpack.config.reference import Reference
from lpack.errors import RegistryError
from lpack.oci import INDEXES, MANIFESTS, Descriptor
from lpack.oci.auth import Credentials, credentials_for

log = logging.getLogger("lpack")
ACCEPT = ", ".join((*MANIFESTS, *INDEXES))
MONOLITHIC_MAX = 64 << 20  # larger blobs go up in PATCH chunks: proxies and registries cap request bodies
CHUNK = 32 << 20
_TIMEOUT = 60
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(slots=True)
class _Response:
    status: int
    headers: Message
    body: IO[bytes]

    def read(self) -> bytes:
        with self.body:
            return self.body.read()


def plain_http(host: str, insecure: tuple[str, ...] = ()) -> bool:
    # As docker does: loopback registries speak HTTP; others only when the user says so.
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]", maxsplit=1)[0] + "]"
    return name in ("localhost", "127.0.0.1", "[::1]") or host in insecure or name in insecure


class _KeepAuthOnSameHost(urllib.request.HTTPRedirectHandler):
    """Blob GETs redirect to storage (S3 for ECR) that rejects a second Authorization: drop it off-host."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.headers.pop("Authorization", None)
        return new


@dataclass(slots=True)
class RegistryClient:
    """One registry host. Tokens are kept per scope for the life of the client."""

    host: str
    insecure: tuple[str, ...] = ()
    chunk_size: int = CHUNK
    monolithic_max: int = MONOLITHIC_MAX
    _tokens: dict[str, str] = field(default_factory=dict)
    _creds: Credentials | None = None
    _creds_read: bool = False
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(_KeepAuthOnSameHost())
    )

    @property
    def base_url(self) -> str:
        return f"{'http' if plain_http(self.host, self.insecure) else 'https'}://{self.host}"

    # --- transport --------------------------------------------------------------------------------------------

    def _credentials(self) -> Credentials | None:
        if not self._creds_read:
            self._creds, self._creds_read = credentials_for(self.host), True
        return self._creds

    def _send(self, method: str, url: str, data: bytes | IO[bytes] | None, headers: dict[str, str]) -> _Response:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            resp = self._opener.open(req, timeout=_TIMEOUT)
            return _Response(resp.status, resp.headers, resp)
        except urllib.error.HTTPError as err:
            return _Response(err.code, err.headers, err)
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise RegistryError(
                f"registry {self.host} is unreachable: {reason}",
                hint=f"check that {self.host} is up and the name is right"
                + ("" if plain_http(self.host, self.insecure) else "; for a plain-HTTP registry: --insecure-registry"),
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...],
        data: bytes | Path | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> _Response:
        """Send, answering one 401 challenge; `path` may be absolute (an upload Location)."""
        url = path if "://" in path else urllib.parse.urljoin(self.base_url, path)
        for attempt in range(2):
            hdrs = {**(headers or {}), **self._auth_header(scopes)}
            body: bytes | IO[bytes] | None = data.open("rb") if isinstance(data, Path) else data
            try:
                resp = self._send(method, url, body, hdrs)
            finally:
                if isinstance(data, Path) and body is not None and not isinstance(body, bytes):
                    body.close()
            if resp.status != 401 or attempt:
                break
            resp.read()
            self._answer(resp.headers.get("Www-Authenticate", ""), scopes)
        if resp.status == 401:
            resp.read()
            raise RegistryError(
                f"registry {self.host} refused the credentials for {method} {urllib.parse.urlsplit(url).path}",
                hint=f"run `docker login {self.host}` (lpack reads ~/.docker/config.json) or check repository access",
            )
        if resp.status not in ok:
            self._fail(method, url, resp)
        return resp

    def _fail(self, method: str, url: str, resp: _Response) -> NoReturn:
        text = resp.read()[:2000].decode(errors="replace")
        try:
            errors = json.loads(text).get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or text
        except (ValueError, AttributeError):
            detail = text.strip() or "(no body)"
        path = urllib.parse.urlsplit(url).path
        raise RegistryError(f"registry {self.host}: {method} {path}: HTTP {resp.status}: {detail}")

    # --- auth -------------------------------------------------------------------------------------------------

    def _auth_header(self, scopes: tuple[str, ...]) -> dict[str, str]:
        token = self._tokens.get(" ".join(scopes)) or self._tokens.get("*")
        return {"Authorization": token} if token else {}

    def _answer(self, challenge: str, scopes: tuple[str, ...]) -> None:
        scheme = challenge.split(" ", 1)[0].lower()
        params = dict(_CHALLENGE.findall(challenge))
        creds = self._credentials()
        if scheme == "basic":
            if creds is None:
                raise RegistryError(
                    f"registry {self.host} needs a login", hint=f"run `docker login {self.host}`, then retry"
                )
            self._tokens["*"] = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"registry {self.host}: unsupported authentication challenge {challenge!r}")
        self._tokens[" ".join(scopes)] = "Bearer " + self._fetch_token(params, scopes, creds)

    def _fetch_token(self, params: dict[str, str], scopes: tuple[str, ...], creds: Credentials | None) -> str:
        # A challenge may name several scopes, space-separated; the token request repeats `scope` for each.
        wanted = dict.fromkeys([*scopes, *params.get("scope", "").split()])
        query = [("service", params["service"])] if "service" in params else []
        query += [("scope", s) for s in wanted]
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urllib.parse.urlencode(query)
        headers = {}
        if creds is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        resp = self._send("GET", url, None, headers)
        if resp.status != 200:
            resp.read()
            who = "the credentials from ~/.docker/config.json" if creds else "anonymous access"
            raise RegistryError(
                f"registry {self.host}: token service refused {who} (HTTP {resp.status})",
                hint=f"run `docker login {self.host}`, or check that the repository exists and you may use it",
            )
        data = json.loads(resp.read())
        token = data.get("token") or data.get("access_token")
        if not isinstance(token, str):
            raise RegistryError(f"registry {self.host}: token service answered without a token")
        return token

    # --- blobs and manifests ----------------------------------------------------------------------------------

    def has_blob(self, repo: str, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=(_pull(repo),), ok=(200, 404))
        resp.read()
        return resp.status == 200

    def get_blob(self, repo: str, digest: str) -> Iterator[bytes]:
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", scopes=(_pull(repo),))
        with resp.body:
            yield from iter(lambda: resp.body.read(1 << 20), b"")

    def get_manifest(self, ref: Reference) -> tuple[str, bytes]:
        """(media type, raw bytes) of a manifest or index, by tag or digest."""
        repo = ref.repository
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{ref.version}",
            scopes=(_pull(repo),),
            headers={"Accept": ACCEPT},
            ok=(200, 404),
        )
        body = resp.read()
        if resp.status == 404:
            raise RegistryError(
                f"image {ref} not found",
                hint="check the repository and tag; a base can also be `oci:DIR[:tag]` or `docker-archive:FILE`",
            )
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return media_type or str(json.loads(body).get("mediaType", "")), body

    def mount_blob(self, repo: str, digest: str, source_repo: str) -> str | None:
        """Cross-repository mount: None when the registry linked the blob it has under `source_repo`, else the
        Location of the ordinary upload it opened instead (ECR, for one, never mounts), for upload_blob."""
        query = urllib.parse.urlencode({"mount": digest, "from": source_repo})
        scopes = (_push(repo), _pull(source_repo))
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/?{query}", scopes=scopes, ok=(201, 202))
        resp.read()
        return None if resp.status == 201 else self._location(resp)

    def upload_blob(self, repo: str, desc: Descriptor, path: Path, *, location: str | None = None) -> None:
        """POST (unless `location` is an upload already open), then one PUT, or PATCH chunks and a closing PUT."""
        scopes = (_push(repo),)
        if location is None:
            resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes, ok=(202,))
            resp.read()
            location = self._location(resp)
        if desc.size > self.monolithic_max:
            location = self._patch_chunks(location, path, scopes)
        sep = "&" if "?" in location else "?"
        final = f"{location}{sep}{urllib.parse.urlencode({'digest': desc.digest})}"
        body: bytes | Path = b"" if desc.size > self.monolithic_max else path
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(0 if body == b"" else desc.size)}
        self.request("PUT", final, scopes=scopes, data=body, headers=headers, ok=(201,)).read()

    def _location(self, resp: _Response) -> str:
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.host}: upload started without a Location header")
        return urllib.parse.urljoin(self.base_url, location)

    def _patch_chunks(self, location: str, path: Path, scopes: tuple[str, ...]) -> str:
        offset = 0
        with path.open("rb") as src:
            for chunk in iter(lambda: src.read(self.chunk_size), b""):
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                    "Content-Length": str(len(chunk)),
                }
                resp = self.request("PATCH", location, scopes=scopes, data=chunk, headers=headers, ok=(202,))
                resp.read()
                location, offset = self._location(resp), offset + len(chunk)
        return location

    def put_manifest(self, ref: Reference, media_type: str, body: bytes) -> str:
        repo = ref.repository
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{ref.version}",
            scopes=(_push(repo),),
            data=body,
            headers={"Content-Type": media_type},
            ok=(200, 201),
        )
        resp.read()
        return resp.headers.get("Docker-Content-Digest", "")


def _pull(repo: str) -> str:
    return f"repository:{repo}:pull"


def _push(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def json_body(data: bytes) -> dict[str, Any]:
    parsed = json.loads(data)
    if not isinstance(parsed, dict):
        raise RegistryError("registry answered a manifest that is not a JSON object")
    return parsed
