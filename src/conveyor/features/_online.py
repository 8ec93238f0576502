"""The online store: the newest feature values per entity key, for low-latency lookups.

Materialization writes rows with :meth:`OnlineStore.write_batch`; the serving path reads them
with :meth:`OnlineStore.read`. Two implementations: :class:`SqliteOnlineStore` (one local
file, the default; ``_online_sqlite``) and :class:`RedisOnlineStore` (``_online_redis``);
:func:`open_online_store` turns ``features.online_url`` into one of them. This module holds
the base class and the encoding both share.

Keys are the canonical JSON of the key tuple (ASCII, no spaces): numpy scalars become their
Python values, a ``bool`` stays a ``bool``, and a float stays a float, so ``(1,)`` and
``(1.0,)`` are two different keys. Integers must fit in 64 bits; NaN and infinity, ``None``
and anything that is not a ``str``, ``int``, ``float`` or ``bool`` is refused. Feature values
are JSON scalars or ``None``; a float NaN (and pandas' ``NA``) is stored as ``None``. Event
times are stored as integer microseconds since the epoch, UTC.
"""

from __future__ import annotations

import abc
import hashlib
import heapq
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conveyor.core import redact
from conveyor.errors import ConfigError
from conveyor.features._errors import (
    EntityFrameError,
    FeatureDefinitionError,
    FeatureSourceError,
)

if TYPE_CHECKING:
    from conveyor.features._online_redis import RedisOnlineStore
    from conveyor.features._online_sqlite import SqliteOnlineStore

__all__ = [
    "OnlineRow",
    "OnlineStore",
    "OnlineValue",
    "RedisOnlineStore",
    "SqliteOnlineStore",
    "open_online_store",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_json_str = json.encoder.encode_basestring_ascii
_MICROSECOND = timedelta(microseconds=1)
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_URL_FORMS = "none (the embedded .conveyor/online.db), sqlite:///path, redis://host:port/db"


@dataclass(frozen=True)
class OnlineRow:
    """One entity's feature values at one event time, as materialization writes it.

    Attributes:
        key: Join key values in the view's join-key order (``str``, ``int``, ``float``, ``bool``).
        values: Feature name -> JSON scalar or ``None`` (datetimes converted to ISO strings).
        event_ts: When the values were observed (timezone-aware; stored as UTC).
    """

    key: tuple[Any, ...]
    values: Mapping[str, Any]
    event_ts: datetime


@dataclass(frozen=True)
class OnlineValue:
    """What a lookup returns for one stored key.

    Attributes:
        values: Feature name -> value (only the requested features the row has).
        event_ts: The event time of the stored row, timezone-aware UTC.
    """

    values: dict[str, Any]
    event_ts: datetime


@dataclass(frozen=True)
class _Encoded:
    key: str  # canonical JSON of the key tuple
    value: str  # JSON object of the row's values
    ts: int  # microseconds since the epoch, UTC


def _scalar(value: Any) -> Any:
    """``value`` as a plain Python object (numpy scalars have ``item``)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _scalar_json(raw: Any) -> str | None:
    """The JSON text of a str, bool, 64-bit int or finite float; ``None`` for anything else.

    Exactly what ``json.dumps`` writes, without its per-call cost (this runs for every key
    of a lookup and every value of a batch): bool before int, numbers by their repr, strings
    as ASCII JSON.
    """
    value = _scalar(raw)
    if isinstance(value, str):
        return _json_str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value) if _INT_MIN <= value <= _INT_MAX else None
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else None
    return None


def _key_json(view: str, key: Any) -> str:
    if not isinstance(key, tuple) or not key:
        raise EntityFrameError(
            f"Key {key!r} of view {view!r} is not a non-empty tuple of join key values.",
            hint="Pass each key as a tuple in the view's join-key order, e.g. (42,).",
            view=view,
            key=repr(key),
        )
    parts = []
    for raw in key:
        text = _scalar_json(raw)
        if text is None:
            raise EntityFrameError(
                f"Key {key!r} of view {view!r} holds {raw!r}, which is not a join key value.",
                hint="Join key values are strings, booleans, finite floats or integers that "
                "fit in 64 bits.",
                view=view,
                key=repr(key),
            )
        parts.append(text)
    return "[" + ",".join(parts) + "]"


def _value_json(view: str, key: str, feature: Any, raw: Any) -> str:
    if not isinstance(feature, str):
        raise FeatureSourceError(
            f"Row {key} of view {view!r} has a feature name {feature!r} that is not a string.",
            hint="Feature names are the view's column names.",
            view=view,
        )
    text = _scalar_json(raw)
    if text is not None:
        return text
    value = _scalar(raw)
    if value is None or type(value).__name__ == "NAType":
        return "null"
    if isinstance(value, float) and math.isnan(value):
        return "null"
    raise FeatureSourceError(
        f"Feature {feature!r} of row {key} of view {view!r} is {raw!r}, which the online "
        "store cannot hold.",
        hint="Online values are strings, booleans, finite floats, 64-bit integers or None; "
        "convert datetimes to ISO strings.",
        view=view,
        feature=feature,
    )


def _micros(view: str, key: str, ts: Any) -> int:
    if not isinstance(ts, datetime) or ts.utcoffset() is None:
        raise EntityFrameError(
            f"Row {key} of view {view!r} has event time {ts!r}, which is not a "
            "timezone-aware datetime.",
            hint="Give event times a timezone (UTC), e.g. datetime(..., tzinfo=UTC).",
            view=view,
        )
    return (ts - _EPOCH) // _MICROSECOND


def _check_view(view: Any) -> str:
    if not isinstance(view, str) or not view or not _utf8(view):
        raise FeatureDefinitionError(
            f"View name {view!r} is not a non-empty string of Unicode text.",
            hint="Pass the feature view's name.",
            view=repr(view),
        )
    return view


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _check_features(features: Sequence[str] | None) -> list[str] | None:
    if features is None:
        return None
    if isinstance(features, str) or not all(isinstance(f, str) for f in features):
        raise FeatureDefinitionError(
            f"Features {features!r} are not a list of feature names.",
            hint="Pass a list of names, e.g. ['orders_7d'], or None for all of them.",
        )
    return list(features)


def _encode(view: str, rows: Sequence[OnlineRow]) -> list[_Encoded]:
    """Validate and encode a whole batch before anything is written."""
    out = []
    for row in rows:
        key = _key_json(view, row.key)
        fields = ",".join(
            f"{_json_str(name)}:{_value_json(view, key, name, v)}" for name, v in row.values.items()
        )
        out.append(_Encoded(key, "{" + fields + "}", _micros(view, key, row.event_ts)))
    return out


def _values(entries: list[Any], wanted: list[str] | None) -> list[OnlineValue | None]:
    """Lookup results from decoded ``[values, event_ts]`` entries (``None`` for a miss)."""
    out: list[OnlineValue | None] = []
    for entry in entries:
        if entry is None:
            out.append(None)
            continue
        values = entry[0]
        if wanted is not None:
            values = {name: values[name] for name in wanted if name in values}
        out.append(OnlineValue(values, _timestamp(entry[1])))
    return out


def _timestamp(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


class OnlineStore(abc.ABC):
    """The newest feature values per (view, entity key).

    Contract (``conveyor.testing.online.OnlineStoreContract`` tests every point):

    * ``write_batch`` is atomic: a reader sees all of a batch or none of it, and a batch that
      fails (a bad value, a store error, a process killed mid-batch) leaves the previous
      values. Per key the newest ``event_ts`` wins: a row older than the stored one is
      ignored, an equal one overwrites; rows of one batch apply in order.
    * ``read`` returns one entry per key, in order: ``None`` for a key never written.
    * Methods are thread-safe; one store may serve many threads.
    * Unreachable or failing storage raises :class:`OnlineStoreUnavailableError` (503).
    * Bad keys raise :class:`EntityFrameError`, bad values :class:`FeatureSourceError`, both
      naming the value.

    Attributes:
        store_id: The store's identity for records, never with a password.
    """

    store_id: str

    @abc.abstractmethod
    def write_batch(self, view: str, rows: Sequence[OnlineRow]) -> int:
        """Write ``rows`` of ``view`` in one atomic step; older rows than stored are ignored.

        Args:
            view: The feature view's name.
            rows: The rows, each a key, its values and their event time.

        Returns:
            How many rows were applied (rows older than the stored ones are not).

        Raises:
            EntityFrameError: A key is not a tuple of join key values, or a time is naive.
            FeatureSourceError: A value is not a JSON scalar the store can hold.
            OnlineStoreUnavailableError: The storage cannot be reached or refused the batch.

        Example:
            >>> import tempfile
            >>> from datetime import UTC, datetime
            >>> store = SqliteOnlineStore(Path(tempfile.mkdtemp()) / "online.db")
            >>> store.write_batch("user", [OnlineRow((1,), {"n": 3}, datetime.now(UTC))])
            1
            >>> store.read("user", [(1,), (2,)])[1] is None
            True
        """

    @abc.abstractmethod
    def read(
        self, view: str, keys: Sequence[tuple[Any, ...]], features: Sequence[str] | None = None
    ) -> list[OnlineValue | None]:
        """The stored values of ``keys``, in the same order, ``None`` where never written.

        Args:
            view: The feature view's name.
            keys: Join key tuples.
            features: The features to return (``None``: all); a feature the stored row
                lacks is absent from its ``values``.

        Returns:
            One :class:`OnlineValue` or ``None`` per key. The whole read sees one state of
            the store (no batch half-applied).

        Raises:
            EntityFrameError: A key is not a tuple of join key values.
            OnlineStoreUnavailableError: The storage cannot be reached.
        """

    def sample_keys(self, view: str, n: int, *, seed: int = 0) -> list[tuple[Any, ...]]:
        """Up to ``n`` stored keys of ``view``, the same ones for the same seed and contents.

        Keys are ranked by a hash of the seed and the key, so the sample does not depend on
        the storage order and every backend picks the same keys from the same contents.
        ``n`` below 1 gives an empty list.

        Raises:
            OnlineStoreUnavailableError: The storage cannot be reached.
        """
        view = _check_view(view)
        if n < 1:
            return []
        salt = str(seed).encode()

        def rank(key: str) -> bytes:
            return hashlib.blake2b(key.encode(), digest_size=16, key=salt[:64]).digest()

        chosen = heapq.nsmallest(n, self._iter_keys(view), key=rank)
        return [tuple(json.loads(k)) for k in chosen]

    @abc.abstractmethod
    def _iter_keys(self, view: str) -> Iterator[str]:
        """Every stored key of ``view`` as canonical JSON, in any order."""

    @abc.abstractmethod
    def count(self, view: str) -> int:
        """How many keys of ``view`` are stored."""

    @abc.abstractmethod
    def delete_view(self, view: str) -> None:
        """Remove every stored key of ``view`` (before a full re-materialization)."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Check the storage answers.

        Raises:
            OnlineStoreUnavailableError: It does not.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store is not used afterwards."""

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_online_store(url: str | None, *, root: Path, namespace: str) -> OnlineStore:
    """The online store ``features.online_url`` names.

    Args:
        url: ``None`` for the embedded SQLite file ``<root>/.conveyor/online.db``;
            ``sqlite:///path`` (relative to ``root`` unless absolute); ``redis://`` or
            ``rediss://host:port/db``.
        root: The project folder.
        namespace: What keeps this project's keys apart on a shared Redis (the project name).

    Returns:
        The store, ready to use.

    Raises:
        ConfigError: ``url`` is none of the accepted forms (the message hides a password).
        OnlineStoreUnavailableError: The SQLite file cannot be opened or created.

    Example:
        >>> import tempfile
        >>> store = open_online_store(None, root=Path(tempfile.mkdtemp()), namespace="demo")
        >>> store.store_id.endswith("online.db")
        True
    """
    from conveyor.features._online_redis import RedisOnlineStore
    from conveyor.features._online_sqlite import SqliteOnlineStore

    if url is None:
        return SqliteOnlineStore(root / ".conveyor" / "online.db")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        return SqliteOnlineStore(path if path.is_absolute() else root / path)
    if scheme in ("redis", "rediss") and urlsplit(url).hostname:
        return RedisOnlineStore(url, namespace=namespace)
    raise ConfigError(
        f"features.online_url {redact(url)!r} is not an online store URL.",
        hint=f"Use one of: {_URL_FORMS}.",
        url=redact(url),
    )


def __getattr__(name: str) -> Any:
    # The implementations import this module's base class, so they are loaded on first use.
    if name == "SqliteOnlineStore":
        from conveyor.features._online_sqlite import SqliteOnlineStore

        return SqliteOnlineStore
    if name == "RedisOnlineStore":
        from conveyor.features._online_redis import RedisOnlineStore

        return RedisOnlineStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
