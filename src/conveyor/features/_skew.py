"""The training/serving skew check: do the online values say what the offline join says?

For each view, entity keys are sampled from the online store; each key's online values and
their event time are read, and the offline point-in-time join (the view's current
definition over its current dataset version) is asked for the same keys *as of that event
time*. A value the online store serves that the offline join would not give is skew: the
view's definition or data changed and the online store was not materialized again, or the
two paths compute the features differently.

Values are compared per feature type: floats within a relative tolerance of 1e-9 (absolute
1e-12), a missing float (``None`` or NaN) equals another missing one; integers, strings,
booleans and datetimes exactly.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from conveyor.core import isoformat
from conveyor.errors import ConfigError
from conveyor.features._definitions import FeatureView, feature_ref, split_ref
from conveyor.features._errors import FeatureNotFoundError
from conveyor.features._skew_report import FeatureSkew, SkewExample, SkewReport, ViewSkew

if TYPE_CHECKING:
    from conveyor.features._records import MaterializationRecord
    from conveyor.features._store import FeatureStore

__all__ = [
    "FeatureSkew",
    "SkewExample",
    "SkewReport",
    "ViewSkew",
    "feature_skew",
    "same_value",
]

#: Relative and absolute tolerance of float comparisons.
REL_TOL = 1e-9
ABS_TOL = 1e-12
#: Mismatching keys kept per view as examples.
EXAMPLES = 5


def feature_skew(
    store: FeatureStore,
    target: str | Sequence[str] | None = None,
    *,
    sample: int | None = None,
    seed: int = 0,
    max_mismatch_rate: float = 0.0,
) -> SkewReport:
    """Compare sampled online values with what the offline point-in-time join says.

    Args:
        store: The feature store (``ws.features``).
        target: A view name, a feature service (``name`` or ``name@version``; only its
            features are compared), a list of those (or of ``view:feature`` references),
            or ``None`` for every applied view.
        sample: Keys sampled per view (default ``features.skew_sample``).
        seed: The sampling seed (the same seed picks the same keys).
        max_mismatch_rate: The largest share of sampled keys a feature may differ on.

    Returns:
        The report; ``report.passed`` is False when a feature differs too often, or when a
        view has nothing in the online store.

    Raises:
        FeatureNotFoundError: ``target`` names no view or service (the message lists them),
            or a view changed since it was applied.
        OnlineStoreUnavailableError: The online store cannot be reached.

    Example:
        >>> report = feature_skew(ws.features, "churn", sample=500)  # doctest: +SKIP
        >>> report.passed, report.explanation  # doctest: +SKIP
    """
    if not 0.0 <= max_mismatch_rate <= 1.0:  # also refuses NaN
        raise ConfigError(
            f"The skew check's max_mismatch_rate {max_mismatch_rate!r} is not within [0, 1].",
            hint="Give the largest share of sampled keys a feature may differ on, e.g. 0.01.",
            max_mismatch_rate=repr(max_mismatch_rate),
        )
    size = store.config.skew_sample if sample is None else sample
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(
            f"The skew check's sample {sample!r} is not a positive number of keys.",
            hint="Sample at least 1 key per view (features.skew_sample is the default).",
            sample=repr(sample),
        )
    wanted = _wanted(store, target)
    online = store.online_store
    views = tuple(
        _view_skew(store, view, names, size=size, seed=seed, threshold=max_mismatch_rate)
        for view, names in wanted
    )
    label = target if target is None or isinstance(target, str) else ", ".join(target)
    return SkewReport(
        target=label,
        store=online.store_id,
        views=views,
        max_mismatch_rate=max_mismatch_rate,
        sample=size,
        seed=seed,
    )


def _wanted(
    store: FeatureStore, target: str | Sequence[str] | None
) -> list[tuple[FeatureView, tuple[str, ...]]]:
    """The views to check, each with the features to compare."""
    defs = store.definitions()
    if target is None:
        applied = {r.name for r in store.records.latest("view")}
        return [(defs.views[n], defs.views[n].features) for n in sorted(applied & set(defs.views))]
    items = [target] if isinstance(target, str) else list(target)
    refs: list[str] = []
    for item in items:
        view_name, _ = split_ref(item)
        if view_name in defs.views:
            refs.append(item)
            continue
        try:
            refs.extend(store.service_version(item).features)
        except FeatureNotFoundError:
            views = ", ".join(sorted(defs.views)) or "none"
            services = ", ".join(r.name for r in store.records.latest("service")) or "none"
            raise FeatureNotFoundError(
                f"No feature view or service named {item!r}; the views are: {views}; the "
                f"services are: {services}.",
                hint="Name a view or a service (`conveyor features list`), or run "
                "`conveyor features apply` after defining it.",
                name=item,
            ) from None
    resolved = store.resolve(refs)
    return [(defs.views[v], tuple(names)) for v, names in resolved.views.items()]


def _view_skew(
    store: FeatureStore,
    view: FeatureView,
    names: tuple[str, ...],
    *,
    size: int,
    seed: int,
    threshold: float,
) -> ViewSkew:
    online = store.online_store
    last = store.records.last_committed(view.name, online.store_id)
    base: dict[str, Any] = {
        "view": view.name,
        "online_version": None if last is None else last.view_version,
        "materialized_at": None if last is None else last.finished_at,
        "online_keys": online.count(view.name),
        "max_mismatch_rate": threshold,
    }
    keys = online.sample_keys(view.name, size, seed=seed)
    found = online.read(view.name, keys, list(names)) if keys else []
    pairs = [(k, v) for k, v in zip(keys, found, strict=True) if v is not None]
    record = store.records.get("view", view.name)
    if not pairs:
        return ViewSkew(
            **base,
            version=None if record is None else record.version,
            dataset=None,
            sampled=0,
            features=tuple(FeatureSkew(view.name, n, view.field(n).dtype, 0, 0) for n in names),
            examples=(),
            missing_offline=0,
            stale_keys=0,
        )
    table = store.table(view)
    taken = {*table.column_names, *names}
    ts_col, row_col = _free("as_of", taken), _free("row", taken)
    entity = _entity_frame(view, table, [k for k, _ in pairs])
    entity[ts_col] = pd.Series([v.event_ts for _, v in pairs], dtype="datetime64[us, UTC]")
    entity[row_col] = np.arange(len(pairs))
    refs = [feature_ref(view.name, n) for n in names]
    # The check reads features, it does not build a training set: run the join outside any
    # current run, so a check inside a pipeline does not overwrite its features lineage.
    offline = contextvars.Context().run(store.historical, entity, refs, timestamp_column=ts_col)
    lineage = offline.attrs.get("conveyor.features", {}).get("views", {}).get(view.name, {})
    if row_col in offline.columns:
        offline = offline.sort_values(row_col, kind="stable").reset_index(drop=True)
    rows = _offline_rows(view, table, entity, ts_col, row_col)
    as_of = _offline_times(view, rows, ts_col, row_col)
    stale = _stale(view, rows, entity[ts_col], row_col, last)
    counts = dict.fromkeys(names, 0)
    examples: list[SkewExample] = []
    missing_offline = 0
    for i, (key, value) in enumerate(pairs):
        offline_ts = as_of.get(i)
        if offline_ts is None:
            missing_offline += 1
        diffs: dict[str, tuple[Any, Any]] = {}
        for n in names:
            got = value.values.get(n)
            want = offline.at[i, n]
            if offline_ts is None or not same_value(got, want, view.field(n).dtype):
                counts[n] += 1
                diffs[n] = (_json(got), _json(want))
        if diffs and len(examples) < EXAMPLES:
            examples.append(
                SkewExample(
                    key=dict(zip(view.join_keys, key, strict=True)),
                    event_ts=value.event_ts,
                    offline_ts=offline_ts,
                    differences=diffs,
                )
            )
    return ViewSkew(
        **base,
        version=lineage.get("version", None if record is None else record.version),
        dataset=lineage.get("dataset"),
        sampled=len(pairs),
        features=tuple(
            FeatureSkew(view.name, n, view.field(n).dtype, len(pairs), counts[n]) for n in names
        ),
        examples=tuple(examples),
        missing_offline=missing_offline,
        stale_keys=stale,
    )


def _free(stem: str, taken: set[str]) -> str:
    """A column name starting ``__conveyor_<stem>`` that is not in ``taken``."""
    name = f"__conveyor_{stem}"
    while name in taken:
        name += "_"
    return name


def _entity_frame(view: FeatureView, table: pa.Table, keys: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The sampled keys as a frame whose key columns have the offline table's types."""
    columns: dict[str, pa.Array] = {}
    for i, name in enumerate(view.join_keys):
        values = [k[i] for k in keys]
        try:
            columns[name] = pa.array(values, type=table.schema.field(name).type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError):
            columns[name] = pa.array(values)
    frame: pd.DataFrame = pa.table(columns).to_pandas()
    return frame


def _offline_rows(
    view: FeatureView, table: pa.Table, entity: pd.DataFrame, ts_col: str, row_col: str
) -> pd.DataFrame:
    """The offline rows of the sampled keys: each with the sampled row's number
    (``row_col``) and online event time (``ts_col``), and its own timestamp."""
    keys = list(view.join_keys)
    first = table.column(keys[0])
    # Only the sampled keys' rows: filtered on the first key column before pandas sees them.
    wanted = pa.array(entity[keys[0]].drop_duplicates().tolist(), type=first.type)
    subset = table.select([*keys, view.timestamp_field]).filter(pc.is_in(first, value_set=wanted))
    rows: pd.DataFrame = subset.to_pandas()
    merged: pd.DataFrame = entity[[*keys, ts_col, row_col]].merge(rows, on=keys, how="inner")
    return merged


def _offline_times(
    view: FeatureView, rows: pd.DataFrame, ts_col: str, row_col: str
) -> dict[int, datetime]:
    """Per sampled row, the event time of the key's latest offline row at or before the
    row's online event time (rows without one are absent)."""
    ts = view.timestamp_field
    newest = rows[rows[ts] <= rows[ts_col]].groupby(row_col)[ts].max()
    return {int(i): _utc(t) for i, t in zip(newest.index.tolist(), newest.tolist(), strict=True)}


def _stale(
    view: FeatureView,
    rows: pd.DataFrame,
    online_ts: pd.Series,
    row_col: str,
    last: MaterializationRecord | None,
) -> int:
    """Sampled keys whose online event time is not that of their latest offline row within
    the last materialization's range (0 when the view was never materialized here)."""
    if last is None:
        return 0
    ts = view.timestamp_field
    within = rows[ts] <= pd.Timestamp(last.end_ts)
    if last.start_ts is not None:
        within &= rows[ts] >= pd.Timestamp(last.start_ts)
    newest = rows[within].groupby(row_col)[ts].max()
    latest = newest.reindex(range(len(online_ts)))
    differs = latest.isna().to_numpy() | (latest.to_numpy() != online_ts.to_numpy())
    return int(differs.sum())


def same_value(online: Any, offline: Any, dtype: str) -> bool:
    """Whether an online value equals the offline one for a feature of type ``dtype``.

    Floats: within 1e-9 relative (1e-12 absolute); two missing values (``None``, NaN,
    ``pd.NA``) are equal. Other types: exactly, a missing value equal only to a missing one.

    Example:
        >>> same_value(0.1 + 0.2, 0.3, "float64"), same_value(None, float("nan"), "float64")
        (True, True)
        >>> same_value("a", "A", "string")
        False
    """
    a, b = _missing(online), _missing(offline)
    if a or b:
        return a and b
    if dtype == "float64":
        try:
            return math.isclose(float(online), float(offline), rel_tol=REL_TOL, abs_tol=ABS_TOL)
        except (TypeError, ValueError):
            return False
    if dtype == "datetime":
        try:
            return bool(_utc(online) == _utc(offline))
        except (TypeError, ValueError):
            return False
    if dtype == "int64":
        left, right = _scalar(online), _scalar(offline)
        if isinstance(left, bool) or isinstance(right, bool):
            return False
        if isinstance(left, int) and isinstance(right, int):
            return left == right
        try:
            return float(left) == float(right)
        except (TypeError, ValueError):
            return False
    if dtype == "bool":
        left, right = _scalar(online), _scalar(offline)
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    left, right = _scalar(online), _scalar(offline)
    return isinstance(left, str) and isinstance(right, str) and left == right


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return False


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    result: datetime = stamp.tz_convert(UTC).to_pydatetime()
    return result


def _json(value: Any) -> Any:
    """A value as a JSON scalar: missing -> None, datetimes -> ISO 8601."""
    if _missing(value):
        return None
    value = _scalar(value)
    if isinstance(value, pd.Timestamp | datetime):
        return isoformat(_utc(value))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # strict JSON has no infinity
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)
