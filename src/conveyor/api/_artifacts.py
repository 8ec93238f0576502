"""Artifact routes of the control plane (content-addressed uploads and downloads).

Clients never name a storage location: they send and ask for content by its BLAKE3
hash, and the server's artifact store decides where it lives (and encrypts it at rest
when configured). ``{hash}`` must be 64 lowercase hex digits, checked before anything
touches storage.

* ``PUT /api/v1/artifacts/{hash}`` streams the body into a staging file while hashing
  it (memory stays bounded whatever the size; ``server.max_request_mb`` does not apply),
  refuses it (422 ``hash_mismatch``) unless it hashes to ``{hash}``, then stores it: 201
  when new, 200 when the object was there already. A body cut off midway leaves nothing.
* ``GET`` streams the object, verified by the store before the first byte is sent;
  ``HEAD`` answers its plaintext size (``content-length``) without a body.
* ``POST .../protect`` renews an existing object's lease against a concurrent ``gc``
  while the client records a reference to it.

Staging files live in the project's ``.conveyor/tmp`` (``upload-*``/``download-*``),
removed when the request ends; one left by a killed server is reaped by ``conveyor gc``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import anyio.to_thread
from blake3 import blake3
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect

from conveyor.artifacts import ArtifactStore, ObjectInfo
from conveyor.artifacts._objects import check_hash
from conveyor.errors import ConveyorError
from conveyor.remote import API_PREFIX, HashMismatchError
from conveyor.security import Permission
from conveyor.serving import Policy
from conveyor.serving._wire import json_response
from conveyor.workspace import Workspace

_log = logging.getLogger("conveyor.server")

#: Read and upload routes share a URL but need different permissions; the policy table
#: is keyed by route path, so the upload route names its parameter differently.
OBJECT_PATH = f"{API_PREFIX}/artifacts/{{hash:path}}"
UPLOAD_PATH = f"{API_PREFIX}/artifacts/{{content_hash:path}}"
PROTECT_PATH = f"{API_PREFIX}/artifacts/{{hash:path}}/protect"

#: The policy of each artifact route (``GET`` and ``HEAD`` share the object path).
ARTIFACT_POLICIES: Mapping[str, Policy] = {
    OBJECT_PATH: Permission.READ,
    UPLOAD_PATH: Permission.WRITE,
    PROTECT_PATH: Permission.WRITE,
}

#: Where uploads and downloads are staged, under the project folder.
STAGING_DIR = Path(".conveyor") / "tmp"
# Bytes collected from the socket before one write to the staging file (off the loop).
_FLUSH_SIZE = 1024 * 1024
# Bytes per chunk of a download.
_READ_SIZE = 256 * 1024
_OCTETS = "application/octet-stream"
_OBJECTS = f"{API_PREFIX}/artifacts/"
_PROTECT = "/protect"


class UploadIncompleteError(ConveyorError):
    """The client went away before sending the whole body of an upload."""

    code = "upload_incomplete"
    status = 400


def add_artifact_routes(app: FastAPI, ws: Workspace) -> None:
    """Add the artifact routes over the artifact store of ``ws`` to ``app``.

    Routes are added with their full paths (see :func:`~conveyor.api.create_app`); the
    protect route comes first so that ``.../protect`` is not read as a hash.
    """
    staging = ws.root / STAGING_DIR
    store = ws.artifacts

    def protect(hash: str, request: Request) -> Response:
        digest = _requested_hash(request)
        with _served(store):
            exists = store.protect(digest)
        return json_response({"exists": exists})

    def read(hash: str, request: Request) -> Response:
        digest = _requested_hash(request)
        if request.method == "HEAD":
            with _served(store):
                info = store.info(digest)
            return Response(status_code=200, headers=_info_headers(info))
        staging.mkdir(parents=True, exist_ok=True)
        temp = staging / f"download-{uuid.uuid4().hex}"
        try:
            with _served(store):
                store.get_file(digest, temp)
            handle = temp.open("rb")
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if os.name == "posix":  # the open handle keeps the bytes; nothing can be left behind
            temp.unlink()
        size = os.fstat(handle.fileno()).st_size
        return StreamingResponse(
            _FileChunks(handle, temp),
            media_type=_OCTETS,
            headers={"content-length": str(size)},
        )

    async def upload(content_hash: str, request: Request) -> Response:
        digest = _requested_hash(request)
        staging.mkdir(parents=True, exist_ok=True)
        temp = staging / f"upload-{uuid.uuid4().hex}.part"
        try:
            actual, size = await _receive(request, temp)
            if actual != digest:
                raise HashMismatchError(
                    f"The upload of object {digest} hashes to {actual} ({size} bytes); "
                    "nothing was stored.",
                    hint="Send the file's exact bytes under its BLAKE3 hash; if the file "
                    "changed while it was sent, upload it again.",
                    declared=digest,
                    actual=actual,
                )
            info, created = await anyio.to_thread.run_sync(_publish, store, temp, digest)
        finally:
            temp.unlink(missing_ok=True)
        body = {
            "hash": info.hash,
            "size": info.size,
            "encrypted": info.encrypted,
            "modified": None if info.modified is None else info.modified.isoformat(),
        }
        return json_response(body, 201 if created else 200)

    common: dict[str, Any] = {"response_class": Response, "tags": ["artifacts"]}
    first = len(app.router.routes)
    app.add_api_route(
        PROTECT_PATH,
        protect,
        methods=["POST"],
        name="artifacts.protect",
        summary="Keep an existing object from gc while a reference to it is recorded.",
        **common,
    )
    # GET and HEAD as two routes: one route with both methods gives both operations the
    # same OpenAPI operation id.
    app.add_api_route(
        OBJECT_PATH,
        read,
        methods=["GET"],
        name="artifacts.get",
        operation_id="artifacts_get",
        summary="The object's content, verified against its hash.",
        **common,
    )
    app.add_api_route(
        OBJECT_PATH,
        read,
        methods=["HEAD"],
        name="artifacts.head",
        operation_id="artifacts_head",
        summary="The object's plaintext size as content-length, no body.",
        **common,
    )
    app.add_api_route(
        UPLOAD_PATH,
        upload,
        methods=["PUT"],
        name="artifacts.put",
        summary="Store the body as the object with this hash (refused if it hashes otherwise).",
        **common,
    )
    for route in app.router.routes[first:]:
        _match_any_character(route)


async def _receive(request: Request, temp: Path) -> tuple[str, int]:
    """Write the request body to ``temp`` while hashing it; return ``(hash, size)``.

    Raises:
        UploadIncompleteError: the client disconnected before the end of the body.
    """
    spool = _Spool(temp)
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= _FLUSH_SIZE:
                data, buffer = buffer, bytearray()
                await anyio.to_thread.run_sync(spool.write, data)
        await anyio.to_thread.run_sync(spool.write, buffer)
    except ClientDisconnect as exc:
        _log.info("Upload to %s cut off after %d bytes", request.url.path, spool.size)
        raise UploadIncompleteError(
            f"The upload was cut off after {spool.size} bytes; nothing was stored.",
            hint="Send the upload again.",
            received=spool.size,
        ) from exc
    finally:
        spool.close()
    return spool.hasher.hexdigest(), spool.size


class _Spool:
    """A staging file and the running hash of what was written to it."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("xb")
        self.hasher = blake3()
        self.size = 0

    def write(self, data: bytes | bytearray) -> None:
        self.hasher.update(data)
        self.file.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.file.close()


def _publish(store: ArtifactStore, temp: Path, digest: str) -> tuple[ObjectInfo, bool]:
    """Store ``temp`` (verified to hash to ``digest``); return its info and whether it is new."""
    with _served(store):
        existed = store.protect(digest)
        return store.put_file(temp, known_hash=digest), not existed


def _match_any_character(route: Any) -> None:
    """Let ``route``'s parameters match newlines too (``.`` does not by default), so a
    name holding one reaches the handler and is refused (400) rather than missing every
    route (404)."""
    route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)


def _requested_hash(request: Request) -> str:
    """The hash a request names, taken from its path as sent.

    Not from the route's parameter: a route pattern ends in ``$``, which also matches
    before a trailing newline, so ``<hash>%0a`` would reach the handler as ``<hash>``.

    Raises:
        InvalidNameError: it is not 64 lowercase hex digits.
    """
    name = str(request.scope["path"]).removeprefix(_OBJECTS)
    if request.method == "POST":
        name = name.removesuffix(_PROTECT)
    return check_hash(name)


class _FileChunks:
    """The chunks of an open staging file, which is closed and removed after the last
    one, or when the response is dropped unsent (the client left first)."""

    def __init__(self, handle: IO[bytes], path: Path) -> None:
        self._handle = handle
        self._release = weakref.finalize(self, _release, handle, path)

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self._handle.read(_READ_SIZE):
                yield chunk
        finally:
            self._release()


def _release(handle: IO[bytes], path: Path) -> None:
    handle.close()
    path.unlink(missing_ok=True)


def _info_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {
        "content-length": str(info.size),
        "content-type": _OCTETS,
        "x-conveyor-encrypted": "true" if info.encrypted else "false",
    }
    if info.modified is not None:
        headers["x-conveyor-modified"] = info.modified.isoformat()
    return headers


@contextlib.contextmanager
def _served(store: ArtifactStore) -> Iterator[None]:
    """Raise the store's errors without the server's storage location in them.

    Clients address content by hash only; where the server keeps it (a folder, a
    bucket) is not theirs to know.
    """
    try:
        yield
    except ConveyorError as exc:
        raise _without_location(exc, store.url) from exc


def _without_location(exc: ConveyorError, url: str) -> ConveyorError:
    where = "the server's artifact store"

    def scrub(text: str) -> str:
        if not url:
            return text
        return text.replace(f"the artifact store {url}", where).replace(url, where)

    fields = {
        key: scrub(value) if isinstance(value, str) else value
        for key, value in exc.fields.items()
        if key not in ("url", "path")
    }
    try:
        clean = type(exc)(scrub(exc.message), hint=exc.hint and scrub(exc.hint), **fields)
    except TypeError:  # a class whose constructor wants other arguments
        return exc
    return clean


__all__ = ["ARTIFACT_POLICIES", "UploadIncompleteError", "add_artifact_routes"]
