"""Remote workspaces: records and artifacts through a team server (``conveyor server``).

A workspace whose configuration names ``store.server_url`` (or ``CONVEYOR_SERVER_URL``)
and has a token in ``CONVEYOR_TOKEN`` holds no database or bucket credentials: its
records are REST implementations of the same interfaces the SQL records implement
(:func:`rest_records`), and its artifacts stream through the server, which chooses every
storage location. :class:`RemoteClient` is the one HTTP client they share: bearer token,
idempotency keys on writes, retries with backoff, and the server's errors raised again
as the classes the server raised.
"""

from __future__ import annotations

from conveyor.remote._artifacts import (
    HashMismatchError,
    RemoteArtifactStore,
    RemoteOperationError,
)
from conveyor.remote._client import (
    API_PREFIX,
    RemoteClient,
    RemoteError,
    ServerUnavailableError,
    check_server_url,
    error_class,
    error_from,
)
from conveyor.remote._codec import WIRE_CONFIG, MethodSpec, interface_name, method_specs
from conveyor.remote._records import rest_class, rest_records
from conveyor.remote._tokens import RemoteTokens

__all__ = [
    "API_PREFIX",
    "HashMismatchError",
    "MethodSpec",
    "RemoteArtifactStore",
    "RemoteClient",
    "RemoteError",
    "RemoteOperationError",
    "RemoteTokens",
    "ServerUnavailableError",
    "WIRE_CONFIG",
    "check_server_url",
    "error_class",
    "error_from",
    "interface_name",
    "method_specs",
    "rest_class",
    "rest_records",
]
