"""Artifacts through the control plane: streamed, verified, stored where the server chooses.

A real ``conveyor server`` on 127.0.0.1 over a local project; clients are
:class:`~conveyor.remote.RemoteArtifactStore` (the store a remote workspace uses), plain
``httpx`` and raw sockets (for uploads cut off midway and paths no client would send).
"""

from __future__ import annotations

import os
import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.artifacts import MasterKey
from conveyor.core import hash_bytes, hash_file
from conveyor.errors import ArtifactNotFoundError, IntegrityError, InvalidNameError
from conveyor.remote import (
    HashMismatchError,
    RemoteArtifactStore,
    RemoteClient,
    RemoteOperationError,
)
from conveyor.security import AccessDeniedError
from conveyor.workspace import Workspace
from server_support import Server, control_plane

MIB = 1024 * 1024
MISSING = "0" * 64


class _Recording(httpx.HTTPTransport):
    """The network, with the method and path of every request noted (to see what was sent)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return super().handle_request(request)


@dataclass
class Served:
    server: Server
    ws: Workspace
    tokens: dict[str, str]
    clients: list[RemoteClient] = field(default_factory=list)

    def store(
        self, role: str = "developer", transport: httpx.BaseTransport | None = None
    ) -> RemoteArtifactStore:
        client = RemoteClient(self.server.url, self.tokens[role], retries=1, transport=transport)
        self.clients.append(client)
        return RemoteArtifactStore(client)

    def call(
        self, method: str, path: str, role: str = "developer", **kwargs: Any
    ) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.server.url}/api/v1{path}",
            headers={"authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
            **kwargs,
        )

    @property
    def artifact_root(self) -> Path:
        return Path(self.ws.artifacts.url.removeprefix("file://"))

    def object_path(self, digest: str) -> Path:
        return self.artifact_root / "objects" / digest[:2] / digest[2:]

    def leftovers(self) -> list[Path]:
        """Temporary files of the server: its staging folder and the artifact store's tmp."""
        folders = [self.ws.root / ".conveyor" / "tmp", self.artifact_root / "tmp"]
        return sorted(p for folder in folders if folder.exists() for p in folder.iterdir())

    def stored(self) -> list[str]:
        return [info.hash for info in self.ws.artifacts.iter_objects()]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with Workspace.open(tmp_path / "project") as ws, control_plane(ws) as server:
        tokens = {role: server.token(role, role) for role in ("viewer", "predictor", "developer")}
        opened = Served(server, ws, tokens)
        try:
            yield opened
        finally:
            for client in opened.clients:
                client.close()


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for start in range(0, size, 4 * MIB):
            handle.write(os.urandom(min(4 * MIB, size - start)))
    return path


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (the server finishes a request after the client left)."""
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for: {what}")
        time.sleep(0.02)


# -- round trips and dedup -----------------------------------------------------------------


def test_bytes_round_trip_and_the_server_keeps_them_under_their_hash(served: Served) -> None:
    store = served.store()
    data = b"model bytes \x00\xff" * 1000
    info = store.put_bytes(data)
    assert info.hash == hash_bytes(data)
    assert info.size == len(data)
    assert info.encrypted is False
    assert store.get_bytes(info.hash) == data
    assert store.info(info.hash) == info
    assert store.exists(info.hash)
    store.verify(info.hash)
    assert served.ws.artifacts.get_bytes(info.hash) == data
    assert served.object_path(info.hash).read_bytes() == data


def test_empty_content_round_trips(served: Served) -> None:
    store = served.store()
    info = store.put_bytes(b"")
    assert (info.hash, info.size) == (hash_bytes(b""), 0)
    assert store.get_bytes(info.hash) == b""


def test_a_file_of_several_megabytes_round_trips_atomically(served: Served, tmp_path: Path) -> None:
    source = _file(tmp_path / "client" / "model.bin", 7 * MIB + 5)
    store = served.store()
    seen: list[tuple[str, int, int]] = []
    info = store.put_file(source, progress=lambda *event: seen.append(event))
    assert info.hash == hash_file(source)
    assert info.size == source.stat().st_size
    assert seen[-1] == ("put model.bin", info.size, info.size)
    dest = tmp_path / "client" / "out" / "copy.bin"
    store.get_file(info.hash, dest)
    assert dest.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.bin"]
    assert served.leftovers() == []


def test_get_file_replaces_an_existing_destination(served: Served, tmp_path: Path) -> None:
    store = served.store()
    info = store.put_bytes(b"new content")
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"old")
    store.get_file(info.hash, dest)
    assert dest.read_bytes() == b"new content"


def test_a_second_put_of_the_same_content_uploads_nothing(served: Served, tmp_path: Path) -> None:
    source = _file(tmp_path / "data.bin", 2 * MIB)
    transport = _Recording()
    store = served.store(transport=transport)
    first = store.put_file(source)
    assert [m for m, _ in transport.sent].count("PUT") == 1
    transport.sent.clear()
    assert store.put_file(source) == first
    assert store.put_bytes(source.read_bytes()) == first
    assert store.put_file(source, known_hash=first.hash) == first
    assert "PUT" not in [m for m, _ in transport.sent]
    # the reused object was protected on the server (its gc lease renewed) each time
    assert transport.sent.count(("POST", f"/api/v1/artifacts/{first.hash}/protect")) == 3


def test_upload_answers_201_when_new_and_200_when_the_object_existed(served: Served) -> None:
    data = b"counted once"
    digest = hash_bytes(data)
    created = served.call("PUT", f"/artifacts/{digest}", content=data)
    assert created.status_code == 201, created.text
    assert created.json()["hash"] == digest
    assert created.json()["size"] == len(data)
    again = served.call("PUT", f"/artifacts/{digest}", content=data)
    assert again.status_code == 200
    assert served.stored() == [digest]


def test_protect_says_whether_the_object_exists(served: Served) -> None:
    store = served.store()
    info = store.put_bytes(b"keep me")
    assert store.protect(info.hash) is True
    assert store.protect(MISSING) is False
    answer = served.call("POST", f"/artifacts/{MISSING}/protect")
    assert answer.json() == {"exists": False}


def test_encryption_at_rest_applies_to_uploads(tmp_path: Path) -> None:
    key = MasterKey.generate().to_text()
    env = {"CONVEYOR_MASTER_KEY": key, "CONVEYOR_ENCRYPTION": "true"}
    with Workspace.open(tmp_path / "vault", env=env) as ws, control_plane(ws) as server:
        client = RemoteClient(server.url, server.token("dev", "developer"))
        store = RemoteArtifactStore(client)
        data = b"secret-plaintext-marker " * 100
        try:
            info = store.put_bytes(data)
            assert info.encrypted is True
            assert store.encrypts is False  # the server's concern, not the client's
            assert store.get_bytes(info.hash) == data
        finally:
            client.close()
        stored = Path(ws.artifacts.url) / "objects" / info.hash[:2] / info.hash[2:]
        assert b"secret-plaintext-marker" not in stored.read_bytes()


# -- refused uploads -------------------------------------------------------------------


def test_an_upload_that_does_not_hash_to_its_name_is_refused_and_not_stored(
    served: Served,
) -> None:
    declared = hash_bytes(b"what was promised")
    answer = served.call("PUT", f"/artifacts/{declared}", content=b"what was sent")
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "hash_mismatch"
    assert body["declared"] == declared
    assert body["actual"] == hash_bytes(b"what was sent")
    assert declared in body["error"]
    assert body["actual"] in body["error"]
    assert served.stored() == []
    assert served.leftovers() == []


def test_a_known_hash_that_is_not_the_files_is_refused(served: Served, tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"actual content")
    store = served.store()
    with pytest.raises(HashMismatchError, match="nothing was stored") as caught:
        store.put_file(source, known_hash=hash_bytes(b"other content"))
    assert isinstance(caught.value, IntegrityError)
    assert served.stored() == []


def _cut_off_upload(url: str, token: str, digest: str, declared: int, sent: int) -> None:
    """Send an upload's headers and the first ``sent`` of ``declared`` bytes, then hang up."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            (
                f"PUT /api/v1/artifacts/{digest} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {declared}\r\n\r\n"
            ).encode()
        )
        chunk = os.urandom(64 * 1024)
        for _ in range(sent // len(chunk)):
            sock.sendall(chunk)


def test_an_upload_cut_off_midway_leaves_nothing_and_a_retry_succeeds(
    served: Served, tmp_path: Path
) -> None:
    source = _file(tmp_path / "big.bin", 10 * MIB)
    digest = hash_file(source)
    staging = served.ws.root / ".conveyor" / "tmp"
    _cut_off_upload(served.server.url, served.tokens["developer"], digest, 10 * MIB, MIB)
    # the server has seen the body start (its staging folder exists) and, once it notices
    # the client left, removes what it received
    _wait_for(staging.exists, "the upload to start")
    _wait_for(lambda: served.leftovers() == [], "the cut-off upload to be cleaned up")
    assert served.stored() == []
    assert not served.ws.artifacts.exists(digest)

    info = served.store().put_file(source)
    assert info.hash == digest
    assert served.ws.artifacts.get_bytes(digest) == source.read_bytes()
    assert served.leftovers() == []


def test_a_download_cut_off_midway_leaves_nothing_on_the_server(
    served: Served, tmp_path: Path
) -> None:
    source = _file(tmp_path / "big.bin", 16 * MIB)
    info = served.ws.artifacts.put_file(source)
    with httpx.stream(
        "GET",
        f"{served.server.url}/api/v1/artifacts/{info.hash}",
        headers={"authorization": f"Bearer {served.tokens['viewer']}"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(16 * MIB)
        next(response.iter_bytes(MIB))
    _wait_for(lambda: served.leftovers() == [], "the download's staging copy to go")


# -- hostile names ---------------------------------------------------------------------

HOSTILE = [
    "..",
    "%2e%2e",
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "ab/" + "c" * 61,
    "a" * 63,
    "a" * 65,
    "A" * 64,
    "g" * 64,
    "a" * 63 + "%00",
    "%00" + "a" * 63,
    "a" * 64 + "%00",
    "a" * 64 + "%0a",
    "%d9%a0" * 64,  # ARABIC-INDIC DIGIT ZERO, a unicode look-alike digit
    "%ef%bc%90" * 64,  # FULLWIDTH DIGIT ZERO
    "%20" + "a" * 63,
    "",
]


def _raw_status(url: str, method: str, path: str, token: str) -> int:
    """Send ``path`` exactly as given (no client normalises it) and return the status."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            (
                f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                "hello"
            ).encode()
        )
        answer = b""
        while b"\r\n" not in answer:
            more = sock.recv(4096)
            if not more:
                break
            answer += more
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/api/v1/artifacts/{}"),
        ("HEAD", "/api/v1/artifacts/{}"),
        ("PUT", "/api/v1/artifacts/{}"),
        ("POST", "/api/v1/artifacts/{}/protect"),
    ],
)
def test_a_hash_that_is_not_64_lowercase_hex_digits_is_refused(
    served: Served, method: str, template: str, name: str
) -> None:
    path = template.format(name)
    status = _raw_status(served.server.url, method, path, served.tokens["developer"])
    assert status == 400, f"{method} {path}"
    assert served.stored() == []
    assert served.leftovers() == []


def test_a_refused_name_is_answered_invalid_name(served: Served) -> None:
    answer = served.call("PUT", "/artifacts/..%2f..%2fx", content=b"x")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_name"


def test_the_client_refuses_a_bad_hash_before_calling(served: Served) -> None:
    transport = _Recording()
    store = served.store(transport=transport)
    for call in (store.get_bytes, store.exists, store.info, store.protect, store.verify):
        with pytest.raises(InvalidNameError):
            call("../" + "a" * 61)
    assert transport.sent == []


# -- missing, refused, corrupt ---------------------------------------------------------


def test_a_missing_object_raises_artifact_not_found(served: Served, tmp_path: Path) -> None:
    store = served.store()
    assert store.exists(MISSING) is False
    with pytest.raises(ArtifactNotFoundError, match=MISSING):
        store.get_bytes(MISSING)
    with pytest.raises(ArtifactNotFoundError, match=MISSING):
        store.info(MISSING)
    dest = tmp_path / "client" / "missing.bin"
    with pytest.raises(ArtifactNotFoundError):
        store.get_file(MISSING, dest)
    assert list(dest.parent.iterdir()) == []
    answer = served.call("GET", f"/artifacts/{MISSING}")
    assert answer.status_code == 404
    assert answer.json()["code"] == "artifact_not_found"
    assert served.call("HEAD", f"/artifacts/{MISSING}").status_code == 404


def test_errors_do_not_reveal_where_the_server_stores_objects(served: Served) -> None:
    answer = served.call("GET", f"/artifacts/{MISSING}")
    assert str(served.artifact_root) not in answer.text
    assert "url" not in answer.json()


def test_a_viewer_cannot_upload_and_a_predictor_cannot_download(served: Served) -> None:
    data = b"guarded"
    digest = hash_bytes(data)
    refused = served.call("PUT", f"/artifacts/{digest}", "viewer", content=data)
    assert refused.status_code == 403
    assert refused.json()["code"] == "access_denied"
    assert served.call("POST", f"/artifacts/{digest}/protect", "viewer").status_code == 403
    with pytest.raises(AccessDeniedError, match="may not write"):
        served.store("viewer").put_bytes(data)
    assert served.stored() == []

    info = served.store().put_bytes(data)
    assert served.store("viewer").get_bytes(info.hash) == data
    assert served.call("GET", f"/artifacts/{digest}", "predictor").status_code == 403
    assert served.call("HEAD", f"/artifacts/{digest}", "predictor").status_code == 403
    predictor = served.store("predictor")
    with pytest.raises(AccessDeniedError, match="may not read"):
        predictor.get_bytes(info.hash)
    with pytest.raises(AccessDeniedError, match="may not read"):
        predictor.exists(info.hash)


def test_a_corrupt_object_on_the_server_is_not_delivered(served: Served, tmp_path: Path) -> None:
    source = _file(tmp_path / "model.bin", 3 * MIB)
    store = served.store()
    info = store.put_file(source)
    stored = served.object_path(info.hash)
    damaged = bytearray(stored.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    stored.write_bytes(bytes(damaged))

    dest = tmp_path / "out" / "model.bin"
    with pytest.raises(IntegrityError, match=info.hash):
        store.get_file(info.hash, dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(IntegrityError):
        store.get_bytes(info.hash)
    with pytest.raises(IntegrityError):
        store.verify(info.hash)
    assert served.leftovers() == []


class _Tampering(httpx.HTTPTransport):
    """The network, flipping one byte of every download on the way (a hostile proxy)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method != "GET":
            return response
        content = bytearray(response.read())
        if content:
            content[0] ^= 0x01
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(content)
        )


def test_the_client_verifies_what_it_receives(served: Served, tmp_path: Path) -> None:
    info = served.ws.artifacts.put_bytes(b"exact bytes")
    store = served.store(transport=_Tampering())
    dest = tmp_path / "client" / "copy.bin"
    with pytest.raises(IntegrityError, match="was not kept"):
        store.get_file(info.hash, dest)
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(IntegrityError):
        store.get_bytes(info.hash)


def test_whole_store_operations_are_refused_on_the_client(served: Served) -> None:
    store = served.store()
    with pytest.raises(RemoteOperationError, match="on the server"):
        store.gc(set())
    with pytest.raises(RemoteOperationError):
        store.delete(MISSING)
    with pytest.raises(RemoteOperationError):
        store.iter_objects()
    with pytest.raises(RemoteOperationError):
        store.rotate_master_key(MasterKey.generate())
    with pytest.raises(RemoteOperationError):
        store.field_cipher()
    with store.deferred_sync():
        store.put_bytes(b"batched")
    assert store.url == served.server.url


# -- memory ----------------------------------------------------------------------------


def test_uploads_and_downloads_stream_with_bounded_memory(served: Served, tmp_path: Path) -> None:
    """Server and client share this process: the traced heap stays far below the file."""
    size = 64 * MIB
    source = _file(tmp_path / "huge.bin", size)
    digest = hash_file(source)
    store = served.store()
    dest = tmp_path / "back.bin"
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        info = store.put_file(source)
        store.get_file(info.hash, dest)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.hash == digest
    assert hash_file(dest) == digest
    assert peak - baseline < 16 * MIB, f"heap grew by {(peak - baseline) / MIB:.1f} MiB"
