"""After an image is written as an OCI layout: docker archives, a registry push, a local Docker daemon."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

from lpack.archive import writer as _archive
from lpack.config.reference import Reference, parse_reference
from lpack.errors import EmitError
from lpack.oci import Descriptor, ImageInfo
from lpack.oci.docker_archive import write_archive
from lpack.oci.push import PushResult, push


def deliver(
    layout: Path,
    info: ImageInfo,
    *,
    archives: tuple[Path, ...] = (),
    push_to: str | None = None,
    load: bool = False,
    repo_tag: str,
    insecure: tuple[str, ...] = (),
) -> tuple[ImageInfo, PushResult | None]:
    """Everything the user asked for beyond the layout; `repo_tag` names the image in archives and docker."""
    manifest = Descriptor(media_type=info.manifest_media_type, digest=info.digest, size=info.manifest_bytes)
    outputs = list(info.outputs)
    for dest in archives:
        with _archive.atomic_output(dest) as tmp:
            write_archive(layout, manifest, tmp, repo_tags=(repo_tag,))
        outputs.append(f"docker-archive:{dest}")
    result = None
    if push_to:
        target = parse_reference(push_to)
        result = push(layout, manifest, target, mount_from=_registry_of(info.base), insecure=insecure)
    if load:
        outputs.append(f"docker:{load_into_docker(layout, manifest, repo_tag)}")
    info = dataclasses.replace(info, outputs=tuple(outputs))
    if result is not None:
        info = dataclasses.replace(
            info, pushed=result.reference, uploaded=result.uploaded, mounted=result.mounted, present=result.present
        )
    return info, result


def _registry_of(base: str) -> tuple[str, str] | None:
    if base.startswith(("oci:", "docker-archive:")):
        return None
    ref: Reference = parse_reference(base)
    return ref.host, ref.repository


def load_into_docker(layout: Path, manifest: Descriptor, repo_tag: str) -> str:
    """`docker load` through the docker SDK; returns the tag. Raises EmitError when no daemon answers."""
    try:
        import docker  # noqa: PLC0415 - optional dependency, only for --load
        from docker.errors import DockerException  # noqa: PLC0415
    except ImportError:
        raise EmitError(
            "--load: needs the docker SDK", hint="pip install 'lpack[docker]', or use --output docker-archive:FILE"
        ) from None
    client = _docker_client(docker)
    with tempfile.TemporaryDirectory(prefix="lpack-load-") as tmp:
        archive = Path(tmp) / "image.tar"
        write_archive(layout, manifest, archive, repo_tags=(repo_tag,))
        try:
            with archive.open("rb") as fh:
                client.images.load(fh)
        except DockerException as err:
            raise EmitError(f"--load: Docker refused the image: {err}") from None
        finally:
            client.close()
    return repo_tag


def _docker_client(docker: Any) -> Any:
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    # A missing socket is the usual "no daemon"; say so before the SDK tries (it leaks a socket on that path).
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        raise _no_daemon(f"{host.removeprefix('unix://')} does not exist")
    client = None
    try:
        # A fixed API version: "auto" asks the daemon before we can say that none answers.
        client = docker.from_env(version="1.41")
        client.ping()
    except Exception as err:  # the SDK raises its own and requests' errors
        if client is not None:
            client.close()
        raise _no_daemon(str(err)) from None
    return client


def _no_daemon(why: str) -> EmitError:
    return EmitError(
        f"--load: no Docker daemon answers ({why})",
        hint="start Docker (or set DOCKER_HOST), or write --output docker-archive:FILE and `docker load` it",
    )
