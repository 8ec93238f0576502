"""Online lookups: a service's (or a list of features') values for entity rows."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.features._definitions import FeatureService
from conveyor.features._errors import MissingEntityError
from conveyor.features._values import as_utc, from_online, py_scalar

if TYPE_CHECKING:
    from conveyor.features._store import FeatureStore, ServiceVersion

__all__ = ["online_values"]


def online_values(
    store_: FeatureStore,
    entity_rows: Sequence[Mapping[str, Any]],
    features: Sequence[str] | FeatureService | str | ServiceVersion,
    *,
    on_missing: str | None,
    now: datetime | None,
) -> builtins.list[dict[str, Any]]:
    """``FeatureStore.online`` (see there)."""
    from conveyor.features._errors import EntityFrameError

    wanted = store_.resolve(features)
    policy = on_missing or (wanted.service.on_missing if wanted.service else "error")
    defs = store_.definitions()
    now = as_utc(now) if now is not None else datetime.now(UTC)
    out: list[dict[str, Any]] = [{} for _ in entity_rows]
    for view_name, names in wanted.views.items():
        view = defs.views[view_name]
        keys: list[tuple[Any, ...]] = []
        for i, row in enumerate(entity_rows):
            missing = [k for k in view.join_keys if k not in row]
            if missing:
                raise EntityFrameError(
                    f"Entity row {i} lacks the join key(s) {missing} of feature view "
                    f"{view.name!r}; it has {sorted(map(str, row))[:20]}.",
                    hint=f"Send {', '.join(view.join_keys)} with every row.",
                    row=i,
                    view=view.name,
                )
            keys.append(tuple(py_scalar(row[k]) for k in view.join_keys))
        found = store_.online_store.read(view.name, keys, names)
        for i, (key, value) in enumerate(zip(keys, found, strict=True)):
            expired = value is not None and view.ttl is not None and value.event_ts < now - view.ttl
            if value is None or expired:
                if policy != "default":
                    shown = dict(zip(view.join_keys, key, strict=True))
                    why = "expired (older than its TTL)" if expired else "no online values"
                    raise MissingEntityError(
                        f"Entity {shown} has {why} in feature view {view.name!r}.",
                        hint="Materialize the view (`conveyor features materialize`), "
                        "or declare on_missing='default' on the feature service.",
                        view=view.name,
                        key=shown,
                    )
                for n in names:
                    out[i][n] = view.field(n).default
                continue
            for n in names:
                out[i][n] = from_online(value.values.get(n), view.field(n).dtype)
    return out
