"""The artifact store of a remote workspace: content streams through the team server.

:class:`RemoteArtifactStore` is an :class:`~conveyor.artifacts.ArtifactStore` whose
objects live wherever the server keeps them (the client never learns where, and holds no
storage credentials). It keeps the store's contract: uploads are skipped when the server
has the content already (after protecting it from a concurrent ``gc``), a file is sent
streaming (memory stays bounded) and re-read on every retry, and every download is
verified against its hash on the client too before anything appears under the target
name. Operations over the whole store (``gc``, ``delete``, listing, key rotation) run on
the server; here they raise :class:`RemoteOperationError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, NoReturn

import httpx
import orjson
from blake3 import blake3

from conveyor.artifacts import (
    ArtifactStore,
    FieldCipher,
    GcResult,
    LinkMode,
    MasterKey,
    ObjectInfo,
)
from conveyor.artifacts._objects import check_hash
from conveyor.artifacts._rotate import RotationResult
from conveyor.core import ProgressCallback, hash_bytes, hash_file, no_progress
from conveyor.errors import ArtifactNotFoundError, ConveyorError, IntegrityError
from conveyor.remote._client import (
    _RETRY_STATUS,
    RemoteClient,
    _Attempts,
    _retry_after,
    error_from,
)

_CHUNK_SIZE = 1024 * 1024
#: Where downloaded chunks go.
Sink = Callable[[bytes], object]
_OCTETS = "application/octet-stream"


class RemoteOperationError(ConveyorError):
    """An operation over the whole artifact store was asked of a remote workspace."""

    code = "remote_operation"


class HashMismatchError(IntegrityError):
    """Uploaded bytes do not hash to the hash they were sent under (nothing is stored)."""

    code = "hash_mismatch"
    status = 422


class RemoteArtifactStore(ArtifactStore):
    """The artifact store of the ``conveyor server`` that ``client`` calls.

    Thread safe as far as ``client`` is (an ``httpx.Client`` is). Encryption at rest is
    the server's concern: :attr:`encrypts` is ``False`` here and :attr:`ObjectInfo.encrypted`
    reports how the server stores each object.

    Args:
        client: The remote workspace's client (its token needs ``read`` to download and
            ``write`` to upload or protect).

    Raises (besides those of :class:`~conveyor.artifacts.ArtifactStore`):
        ServerUnavailableError: the server could not be reached through every retry.
        AccessDeniedError: the token lacks the permission.
        RemoteOperationError: ``gc``, ``delete``, ``iter_objects``,
            ``rotate_master_key`` and ``field_cipher``, which run on the server.

    Example:
        >>> store = RemoteArtifactStore(RemoteClient(url, token))  # doctest: +SKIP
        >>> store.get_bytes(store.put_bytes(b"hi").hash)  # doctest: +SKIP
        b'hi'
    """

    def __init__(self, client: RemoteClient) -> None:
        # The local store's state is not built: every method below goes to the server.
        self.url = client.url
        self._client = client
        self._key = None
        self._encrypt = False
        self._deferred = 0

    def __repr__(self) -> str:
        return f"RemoteArtifactStore({self.url!r})"

    @contextlib.contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Nothing to batch: the server makes each object durable before answering."""
        yield

    @property
    def master_key(self) -> MasterKey | None:
        """Always ``None``: keys stay on the server."""
        return None

    @property
    def encrypts(self) -> bool:
        """Always ``False``: the server encrypts at rest as it is configured to."""
        return False

    # -- writing -------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> ObjectInfo:
        """Store ``data`` on the server unless it has that content already."""
        digest = hash_bytes(data)
        existing = self._existing(digest)
        if existing is not None:
            return existing
        return self._upload(digest, len(data), lambda: _BytesBody(data))

    @property
    def links_files(self) -> bool:
        """Never: files are uploaded to the server's store."""
        return False

    def put_file(
        self,
        path: str | os.PathLike[str],
        *,
        known_hash: str | None = None,
        progress: ProgressCallback | None = None,
        link: LinkMode = "reflink",
        known_stat: tuple[int, int, int, int] | None = None,
    ) -> ObjectInfo:
        """Upload the file at ``path`` streaming, unless the server has it already.

        Args:
            path: A local file.
            known_hash: The file's hash if the caller knows it; when the server has that
                object, the file is not read at all.
            progress: Called with ``("put <name>", bytes_done, bytes_total)``.
            link: Ignored: a server's store takes an upload, never a link
                (:attr:`links_files` is False).
            known_stat: Ignored (it only spares hashing a file linked in place).

        Raises:
            IntegrityError: the file changed while it was sent (or ``known_hash`` is not
                its hash): the server refused it and stored nothing.
            FileNotFoundError: ``path`` does not exist.
        """
        source = Path(path)
        report = progress or no_progress
        label = f"put {source.name}"
        if known_hash is not None:
            existing = self._existing(check_hash(known_hash))
            if existing is not None:
                return existing
        total = source.stat().st_size
        digest = known_hash or hash_file(source)
        existing = None if known_hash is not None else self._existing(digest)
        if existing is None:
            report(label, 0, total)
            existing = self._upload(
                digest, total, lambda: _FileBody(source, lambda done: report(label, done, total))
            )
        report(label, total, total)
        return existing

    def protect(self, hash: str) -> bool:
        """Renew the lease of an existing object on the server (see the base class).

        Returns:
            Whether the object exists; if not, upload it again before referencing it.
        """
        digest = check_hash(hash)
        response = self._client.send("POST", f"/artifacts/{digest}/protect")
        return bool(orjson.loads(response.content)["exists"])

    def _existing(self, digest: str) -> ObjectInfo | None:
        if not self.protect(digest):
            return None
        try:
            return self.info(digest)
        except ArtifactNotFoundError:  # a gc on the server took it meanwhile
            return None

    def _upload(self, digest: str, size: int, body: Callable[[], _Body]) -> ObjectInfo:
        path = f"/artifacts/{digest}"
        headers = {"content-type": _OCTETS, "content-length": str(size)}
        attempt = _Attempts(self._client, "PUT", path)
        for _ in attempt:
            with contextlib.closing(body()) as content:  # read afresh on every attempt
                try:
                    response = self._client.http.request(
                        "PUT", path, content=content, headers=headers
                    )
                except httpx.TransportError as exc:
                    attempt.failed(f"{type(exc).__name__}: {exc}")
                    continue
            if response.status_code in _RETRY_STATUS:
                attempt.failed(f"HTTP {response.status_code}", _retry_after(response))
                continue
            if response.status_code >= 400:
                raise error_from(response)
            answer = orjson.loads(response.content)
            return ObjectInfo(
                str(answer["hash"]),
                int(answer["size"]),
                _timestamp(answer.get("modified")),
                bool(answer.get("encrypted", False)),
            )
        raise attempt.unavailable()

    # -- reading -------------------------------------------------------------------------

    def get_bytes(self, hash: str) -> bytes:
        """Download object ``hash`` and return its content, verified here.

        Raises:
            ArtifactNotFoundError: no such object on the server.
            IntegrityError: the object (on the server, or as received) does not match
                its hash.
        """
        buffer = io.BytesIO()

        def restart() -> Sink:
            buffer.seek(0)
            buffer.truncate()
            return buffer.write

        self._download(check_hash(hash), restart, lambda done, total: None)
        return buffer.getvalue()

    def verify(self, hash: str) -> None:
        """Download object ``hash`` whole and check its hash, keeping nothing."""
        self._download(check_hash(hash), lambda: _discard, lambda done, total: None)

    def get_file(
        self,
        hash: str,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Download object ``hash`` to ``dest`` atomically, after verifying it here.

        The content goes to a temporary file next to ``dest`` that replaces ``dest`` only
        once its hash matched; on any failure ``dest`` is left as it was.

        Raises:
            ArtifactNotFoundError, IntegrityError: as :meth:`get_bytes`.
        """
        digest = check_hash(hash)
        target = Path(dest)
        report = progress or no_progress
        label = f"get {target.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.part"
        handles: list[IO[bytes]] = []

        def restart() -> Sink:
            for handle in handles:
                handle.close()
            handles[:] = [temp.open("wb")]
            return handles[0].write

        try:
            self._download(digest, restart, lambda done, total: report(label, done, total))
            for handle in handles:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
            os.replace(temp, target)
        finally:
            for handle in handles:
                handle.close()
            temp.unlink(missing_ok=True)

    def _download(
        self,
        digest: str,
        restart: Callable[[], Sink],
        report: Callable[[int, int], None],
    ) -> None:
        """Stream object ``digest`` into the sink ``restart`` gives (a new one on each
        retry), checking its hash at the end; nothing is published here."""
        path = f"/artifacts/{digest}"
        attempt = _Attempts(self._client, "GET", path)
        for _ in attempt:
            request = self._client.http.build_request("GET", path)
            try:
                response = self._client.http.send(request, stream=True)
            except httpx.TransportError as exc:
                attempt.failed(f"{type(exc).__name__}: {exc}")
                continue
            try:
                if response.status_code in _RETRY_STATUS:
                    attempt.failed(f"HTTP {response.status_code}", _retry_after(response))
                    continue
                if response.status_code >= 400:
                    response.read()
                    raise error_from(response)
                write = restart()
                hasher = blake3()
                size = 0
                total = int(response.headers.get("content-length", "0") or 0)
                try:
                    for chunk in response.iter_bytes(_CHUNK_SIZE):
                        hasher.update(chunk)
                        write(chunk)
                        size += len(chunk)
                        report(size, total)
                except httpx.TransportError as exc:  # cut off midway: download it again
                    attempt.failed(f"{type(exc).__name__}: {exc}")
                    continue
            finally:
                response.close()
            actual = hasher.hexdigest()
            if actual != digest:
                raise IntegrityError(
                    f"Object {digest} downloaded from {self.url} hashes to {actual} "
                    f"({size} bytes); it was not kept.",
                    hint="Retry; if it persists, have the server's operator verify the object.",
                    hash=digest,
                    actual=actual,
                    url=self.url,
                )
            return
        raise attempt.unavailable()

    def exists(self, hash: str) -> bool:
        """True if the server holds object ``hash`` (its content is not verified)."""
        return self._ask_head(check_hash(hash)) is not None

    def info(self, hash: str) -> ObjectInfo:
        """Size, modification time and encryption of ``hash`` on the server.

        Raises:
            ArtifactNotFoundError: no such object on the server.
        """
        digest = check_hash(hash)
        response = self._ask_head(digest)
        if response is None:
            raise ArtifactNotFoundError(
                f"No object {digest} on the conveyor server {self.url}.",
                hint="Check the hash, or upload the content first.",
                hash=digest,
                url=self.url,
            )
        headers = response.headers
        return ObjectInfo(
            digest,
            int(headers["content-length"]),
            _timestamp(headers.get("x-conveyor-modified")),
            headers.get("x-conveyor-encrypted") == "true",
        )

    def _ask_head(self, digest: str) -> httpx.Response | None:
        """The ``HEAD`` answer for ``digest``, ``None`` when the server has no such object."""
        path = f"/artifacts/{digest}"
        attempt = _Attempts(self._client, "HEAD", path)
        for _ in attempt:
            try:
                response = self._client.http.request("HEAD", path)
            except httpx.TransportError as exc:
                attempt.failed(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code in _RETRY_STATUS:
                attempt.failed(f"HTTP {response.status_code}", _retry_after(response))
                continue
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                self._raise_head_error(path)
            return response
        raise attempt.unavailable()

    def _raise_head_error(self, path: str) -> NoReturn:
        # A HEAD answer has no body, so its error (code, message, hint) is read from the
        # same request as GET, whose body is closed unread if it succeeds this time.
        with self._client.stream("GET", path):
            pass
        raise RemoteOperationError(
            f"The conveyor server {self.url} refused HEAD {path} but then answered GET.",
            hint="Retry the operation.",
            url=self.url,
        )

    # -- server-side only ----------------------------------------------------------------

    def iter_objects(self) -> Iterator[ObjectInfo]:
        """Not available remotely: list objects on the server."""
        self._server_only("list the artifact store", None)

    def delete(self, hash: str) -> None:
        """Not available remotely: objects are removed on the server (by ``gc``)."""
        self._server_only(f"delete object {hash!r}", "conveyor gc")

    def gc(
        self,
        live: set[str] | Callable[[], Iterable[str]],
        *,
        grace: timedelta = timedelta(hours=1),
        dry_run: bool = False,
    ) -> GcResult:
        """Not available remotely: garbage collection runs where the stores are."""
        self._server_only("collect garbage", "conveyor gc")

    def rotate_master_key(
        self, new_key: MasterKey, *, progress: ProgressCallback | None = None
    ) -> RotationResult:
        """Not available remotely: keys are rotated on the server."""
        self._server_only("rotate the master key", "conveyor keys rotate")

    def field_cipher(self) -> FieldCipher:
        """Not available remotely: sealed fields are the server's (its key never leaves it)."""
        self._server_only("open or seal encrypted record fields", None)

    def _server_only(self, what: str, command: str | None) -> NoReturn:
        where = "on the server, in its project folder, not in a remote workspace"
        raise RemoteOperationError(
            f"Cannot {what} through the conveyor server {self.url}: that runs on the "
            "server, where the artifact store is.",
            hint=f"Run `{command}` {where}." if command else f"Do this {where}.",
            url=self.url,
            operation=what,
        )


class _Body:
    """An upload body: an iterator of chunks that can be closed."""

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the body holds."""


class _BytesBody(_Body):
    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        view = memoryview(self._data)
        for start in range(0, len(view), _CHUNK_SIZE):
            yield bytes(view[start : start + _CHUNK_SIZE])


class _FileBody(_Body):
    def __init__(self, path: Path, report: Callable[[int], None]) -> None:
        self._file = path.open("rb")
        self._report = report
        self._done = 0

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._file.read(_CHUNK_SIZE):
            self._done += len(chunk)
            self._report(self._done)
            yield chunk

    def close(self) -> None:
        self._file.close()


def _discard(chunk: bytes) -> None:
    """A sink that keeps nothing (for :meth:`RemoteArtifactStore.verify`)."""


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


__all__ = ["HashMismatchError", "RemoteArtifactStore", "RemoteOperationError"]
