"""The online store in Redis, for serving from many hosts.

:class:`RedisOnlineStore` keeps one hash per (namespace, view, key) and writes and reads
through Lua scripts; the key and value encoding is :mod:`conveyor.features._online`'s. The
``redis`` package is imported when a store is built, so importing this module does not need it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conveyor.core import redact
from conveyor.errors import ConfigError
from conveyor.features._errors import OnlineStoreUnavailableError
from conveyor.features._online import (
    _URL_FORMS,
    OnlineRow,
    OnlineStore,
    OnlineValue,
    _check_features,
    _check_view,
    _encode,
    _key_json,
    _values,
)

if TYPE_CHECKING:
    import redis

__all__ = ["RedisOnlineStore"]

# KEYS[1]: the view's key set; KEYS[i + 1]: the hash of row i.
# ARGV, per row: key JSON, event_ts (microseconds), the row's values as a JSON object.
# Every key's type is checked before the first write: Redis does not undo the writes of a
# script that fails, so nothing may fail after the first one.
_WRITE_LUA = """
for i = 1, #KEYS do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  local want = 'hash'
  if i == 1 then want = 'set' end
  if kind ~= 'none' and kind ~= want then
    return redis.error_reply('WRONGTYPE key ' .. KEYS[i] .. ' holds a ' .. kind)
  end
end
local applied = 0
for i = 2, #KEYS do
  local pos = 3 * (i - 2) + 1
  local ts = ARGV[pos + 1]
  local stored = redis.call('HGET', KEYS[i], '@ts')
  if (not stored) or tonumber(stored) <= tonumber(ts) then
    redis.call('HSET', KEYS[i], '@ts', ts, '@v', ARGV[pos + 2])
    redis.call('SADD', KEYS[1], ARGV[pos])
    applied = applied + 1
  end
end
return applied
"""

# KEYS: the rows' hashes. Returns one JSON text, [[{feature: value}, event_ts] or null, ...]:
# the stored parts are JSON already, so the script only joins them, and the client decodes
# one string instead of hundreds of reply items.
_READ_LUA = """
local buf = {}
for i = 1, #KEYS do
  local got = redis.call('HMGET', KEYS[i], '@v', '@ts')
  if got[1] then
    buf[i] = '[' .. got[1] .. ',' .. got[2] .. ']'
  else
    buf[i] = 'null'
  end
end
return '[' .. table.concat(buf, ',') .. ']'
"""


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class RedisOnlineStore(OnlineStore):
    """The online store in Redis: one hash per (namespace, view, key).

    Names are ``conveyor:online:{<namespace hash>.<view hash>}:<key hash>`` (BLAKE2b, so no
    view name or key can reach another's; the braces keep a view in one cluster slot), with
    fields ``@ts`` (microseconds) and ``@v`` (the row's values as a JSON object: a lookup of a
    few features reads whole rows, which keeps it to one short command per key). The set
    ``...}:keys`` lists a view's key JSONs for :meth:`count`, :meth:`sample_keys` and
    :meth:`delete_view`. A batch is one Lua script, which compares event times on the server;
    a read is one Lua script too (one round trip, no batch can land in the middle of it, and
    one reply string to decode rather than hundreds of reply items). Timeouts are short and
    any connection failure raises :class:`OnlineStoreUnavailableError` naming host and port.
    :meth:`delete_view` removes keys in chunks, not atomically. Redis runs one script at a
    time, so a batch holds the server for its length (about 7 ms per 1,000 rows of 10
    features on a laptop): write a large view in batches of about 10,000 rows.

    Args:
        url: ``redis://[user:password@]host:port/db`` or ``rediss://...``.
        namespace: Keeps this project's keys apart from others on the same server.
        connect_timeout: Seconds to wait for a connection.
        timeout: Seconds to wait for an answer.

    Raises:
        ConfigError: The URL is malformed, the namespace empty, or ``redis`` not installed.
    """

    def __init__(
        self, url: str, *, namespace: str, connect_timeout: float = 1.0, timeout: float = 2.0
    ) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise ConfigError(
                f"features.online_url {redact(url)!r} needs the redis package.",
                hint="Install it: pip install 'conveyor-ml[redis]'.",
                url=redact(url),
            ) from exc
        if not isinstance(namespace, str) or not namespace:
            raise ConfigError(
                f"Online store namespace {namespace!r} is not a non-empty string.",
                hint="Pass the project's name.",
            )
        try:
            parts = urlsplit(url)
            self._address = f"{parts.hostname}:{parts.port or 6379}"
            if not re.fullmatch(r"/?[0-9]{0,5}", parts.path):
                raise ValueError(f"the database {parts.path[1:]!r} is not a number")
            self._client: redis.Redis = redis.Redis.from_url(
                url,
                socket_connect_timeout=connect_timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 1),  # one retry, for a pooled connection gone stale
            )
        except ValueError as exc:
            reason = redact(str(exc)).rstrip(".")
            raise ConfigError(
                f"features.online_url {redact(url)!r} is not a valid Redis URL: {reason}.",
                hint=f"Use one of: {_URL_FORMS}.",
                url=redact(url),
            ) from exc
        db = self._client.connection_pool.connection_kwargs.get("db", 0)
        self.store_id = f"{parts.scheme}://{self._address}/{db}#{namespace}"
        self._namespace = _digest(namespace)
        self._unreachable = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._failed = redis.exceptions.RedisError
        self._prefixes: dict[str, bytes] = {}
        self._write = self._client.register_script(_WRITE_LUA)
        self._read = self._client.register_script(_READ_LUA)

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except self._unreachable as exc:
            raise OnlineStoreUnavailableError(
                f"The online store at Redis {self._address} cannot be reached to {doing}: "
                f"{redact(str(exc)).rstrip('.')}.",
                hint="Check that Redis is running and that features.online_url "
                "(CONVEYOR_ONLINE_URL) names it, with the right password.",
                address=self._address,
            ) from exc
        except self._failed as exc:
            raise OnlineStoreUnavailableError(
                f"The online store at Redis {self._address} refused to {doing}: "
                f"{redact(str(exc)).rstrip('.')}.",
                hint="Check the server's memory and role (a replica is read-only), and that "
                "no other program writes keys under conveyor:online:.",
                address=self._address,
            ) from exc

    def _prefix(self, view: str) -> bytes:
        prefix = self._prefixes.get(view)
        if prefix is None:
            prefix = f"conveyor:online:{{{self._namespace}.{_digest(view)}}}:".encode()
            self._prefixes[view] = prefix
        return prefix

    def _row_name(self, view: str, key: str) -> bytes:
        """The Redis name of the hash holding ``key`` (canonical JSON) of ``view``."""
        return (
            self._prefix(view) + hashlib.blake2b(key.encode(), digest_size=16).hexdigest().encode()
        )

    def write_batch(self, view: str, rows: Sequence[OnlineRow]) -> int:
        view = _check_view(view)
        encoded = _encode(view, rows)
        if not encoded:
            return 0
        names: list[bytes] = [self._prefix(view) + b"keys"]
        args: list[str | int] = []
        for row in encoded:
            names.append(self._row_name(view, row.key))
            args += (row.key, row.ts, row.value)
        with self._guard(f"write view {view!r}"):
            return int(self._write(keys=names, args=args))

    def read(
        self, view: str, keys: Sequence[tuple[Any, ...]], features: Sequence[str] | None = None
    ) -> list[OnlineValue | None]:
        view = _check_view(view)
        wanted = _check_features(features)
        names = [self._row_name(view, _key_json(view, key)) for key in keys]
        if not names:
            return []
        with self._guard(f"read view {view!r}"):
            reply = self._read(keys=names)
        return _values(json.loads(reply), wanted)

    def _iter_keys(self, view: str) -> Iterator[str]:
        with self._guard(f"read view {view!r}"):
            for member in self._client.sscan_iter(self._prefix(view) + b"keys", count=1000):
                yield member.decode()

    def count(self, view: str) -> int:
        view = _check_view(view)
        with self._guard(f"read view {view!r}"):
            return int(self._client.scard(self._prefix(view) + b"keys"))

    def delete_view(self, view: str) -> None:
        view = _check_view(view)
        members = self._prefix(view) + b"keys"
        with self._guard(f"delete view {view!r}"):
            stored = list(self._client.sscan_iter(members, count=1000))
            for lo in range(0, len(stored), 1000):
                chunk = stored[lo : lo + 1000]
                pipe = self._client.pipeline(transaction=True)
                pipe.delete(*(self._row_name(view, m.decode()) for m in chunk))
                pipe.srem(members, *chunk)  # an emptied set is removed by Redis itself
                pipe.execute()

    def ping(self) -> None:
        with self._guard("answer a ping"):
            self._client.ping()

    def close(self) -> None:
        self._client.close()
