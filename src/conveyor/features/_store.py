"""``ws.features``: apply definitions, build point-in-time training sets, materialize and
read online features.

The facade ties the pieces together: definitions come from the project's ``features.py``
(:mod:`conveyor.features._loader`), their versions from the feature records, each view's
offline table is computed once per (view version, dataset version) and kept as a Parquet
artifact, the point-in-time join runs in DuckDB (:mod:`conveyor.features._offline`) and the
online store is SQLite or Redis (:mod:`conveyor.features._online`).
"""

from __future__ import annotations

import builtins
import io
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from conveyor.core import Actor, utcnow
from conveyor.features._definitions import (
    DTYPES,
    Definitions,
    FeatureService,
    FeatureView,
    definition_hash,
    feature_ref,
    lookup_view,
    split_ref,
)
from conveyor.features._errors import (
    FeatureChangeRefusedError,
    FeatureNotFoundError,
    FeatureSourceError,
    MissingEntityError,
)
from conveyor.features._loader import load_definitions
from conveyor.features._records import (
    BaseFeatureRecords,
    DefinitionRecord,
    FeatureTableRecord,
    MaterializationRecord,
)

if TYPE_CHECKING:
    from conveyor.artifacts import ArtifactStore
    from conveyor.config import FeaturesConfig
    from conveyor.data import DatasetRegistry
    from conveyor.features._online import OnlineStore

__all__ = [
    "AppliedDefinition",
    "FeatureSet",
    "FeatureStore",
    "Materialized",
    "ServiceVersion",
]

#: The rows written to the online store per atomic batch.
BATCH_ROWS = 2_000
#: The tag a model version carries when it was trained with a feature service.
SERVICE_TAG = "conveyor.feature_service"


@dataclass(frozen=True)
class AppliedDefinition:
    """What ``apply`` did with one definition."""

    kind: str
    name: str
    version: int
    changed: bool

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Materialized:
    """What ``materialize`` wrote for one view."""

    view: str
    view_version: int
    dataset: str
    rows: int
    keys: int
    full: bool
    record: MaterializationRecord


@dataclass(frozen=True)
class ServiceVersion:
    """A recorded version of a feature service: its explicit ``view:feature`` list and the
    views' versions at the time."""

    name: str
    version: int
    features: tuple[str, ...]
    on_missing: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class FeatureSet:
    """Features resolved for a lookup: per view, the features wanted from it."""

    views: dict[str, list[str]] = field(default_factory=dict)
    service: ServiceVersion | None = None

    @property
    def refs(self) -> list[str]:
        return [feature_ref(v, f) for v, fs in self.views.items() for f in fs]


class FeatureStore:
    """The project's feature store (``ws.features``).

    Args:
        records: The feature records (definition versions, tables, materializations).
        datasets: The dataset registry the views read.
        artifacts: Where offline tables are kept.
        actor: Who applies and materializes (audited).
        root: The project folder (``features.py`` and the embedded online store).
        config: The ``features:`` section.
        namespace: Keeps this project's keys apart in a shared online store.
    """

    def __init__(
        self,
        *,
        records: BaseFeatureRecords,
        datasets: DatasetRegistry,
        artifacts: ArtifactStore,
        actor: Actor,
        root: Path,
        config: FeaturesConfig,
        namespace: str,
        model_tags: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.records = records
        self.datasets = datasets
        self.artifacts = artifacts
        self.actor = actor
        self.root = root
        self.config = config
        self.namespace = namespace
        self._model_tags = model_tags
        self._definitions: Definitions | None = None
        self._online: OnlineStore | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FeatureStore(root={str(self.root)!r}, online={self.config.online_url!r})"

    def close(self) -> None:
        """Close the online store connection, if one was opened."""
        with self._lock:
            if self._online is not None:
                self._online.close()
                self._online = None

    # -- definitions ---------------------------------------------------------------------

    def definitions(self, *, reload: bool = False) -> Definitions:
        """The definitions of the project's ``features.py`` (``features.definitions``).

        Raises:
            FeatureDefinitionError: The file is missing, outside the project, or fails.
        """
        with self._lock:
            if self._definitions is None or reload:
                self._definitions = load_definitions(self.root, self.config.definitions)
            return self._definitions

    def apply(
        self, definitions: Definitions | None = None, *, force: bool = False
    ) -> builtins.list[AppliedDefinition]:
        """Record every definition; a changed one gets a new version (audited as
        ``features.apply``).

        A change to a view that removes a feature, or changes its type, while a registered
        model version was trained with a service using it is refused: the model would be
        served other features than it learned from. Give the changed view a new name, or
        pass ``force=True`` to record it anyway.

        Raises:
            FeatureChangeRefusedError: The change would alter a served model's features.
        """
        defs = definitions if definitions is not None else self.definitions(reload=True)
        items = [(kind, name, definition_hash(spec), spec) for kind, name, spec in defs.specs()]
        if not force:
            self._refuse_breaking_changes(defs)
        recorded = self.records.record_definitions(self.actor, items)
        if definitions is not None:
            with self._lock:
                self._definitions = definitions
        return [AppliedDefinition(r.kind, r.name, r.version, changed) for r, changed in recorded]

    def _refuse_breaking_changes(self, defs: Definitions) -> None:
        used = self._features_used_by_models()
        for name, view in defs.views.items():
            current = self.records.get("view", name)
            if current is None:
                continue
            before = {f["name"]: f["dtype"] for f in current.spec.get("schema", [])}
            after = {f.name: f.dtype for f in view.schema}
            for feature, dtype in before.items():
                models = used.get(feature_ref(name, feature))
                if not models or after.get(feature) == dtype:
                    continue
                what = "removes" if feature not in after else f"changes the type of ({dtype} ->"
                what = what if feature not in after else f"{what} {after[feature]})"
                raise FeatureChangeRefusedError(
                    f"Feature view {name!r}: the change {what} feature {feature!r}, which model "
                    f"version(s) {', '.join(sorted(models))} were trained with.",
                    hint="Define the changed view under a new name (and a new service for the "
                    "next model), or apply with --force if those versions are retired.",
                    view=name,
                    feature=feature,
                    models=sorted(models),
                )

    def _features_used_by_models(self) -> dict[str, set[str]]:
        used: dict[str, set[str]] = {}
        if self._model_tags is None:
            return used
        for tags in self._model_tags():
            ref = tags.get(SERVICE_TAG)
            model = tags.get("__model__", "?")
            if not isinstance(ref, str):
                continue
            try:
                service = self.service_version(ref)
            except FeatureNotFoundError:
                continue
            for feature in service.features:
                used.setdefault(feature, set()).add(str(model))
        return used

    def list(self) -> builtins.list[DefinitionRecord]:
        """The latest version of every recorded definition."""
        return self.records.latest()

    def show(self, name: str) -> builtins.list[DefinitionRecord]:
        """Every version of the view, service or entity called ``name`` (views first).

        Raises:
            FeatureNotFoundError: Nothing of that name was applied.
        """
        for kind in ("view", "service", "entity"):
            history = self.records.history(kind, name)
            if history:
                return history
        known = ", ".join(sorted({r.name for r in self.records.latest()})) or "none"
        raise FeatureNotFoundError(
            f"No feature view, service or entity named {name!r}; there are: {known}.",
            hint="Run `conveyor features list`, or `conveyor features apply` first.",
            name=name,
        )

    def service_version(self, ref: str) -> ServiceVersion:
        """A recorded service version, ``name`` (latest) or ``name@version``.

        Raises:
            FeatureNotFoundError: No such service (version) was applied.
        """
        name, _, version = ref.partition("@")
        record = self.records.get("service", name, int(version) if version.isdigit() else None)
        if record is None:
            known = ", ".join(r.name for r in self.records.latest("service")) or "none"
            raise FeatureNotFoundError(
                f"No feature service {ref!r} was applied; the services are: {known}.",
                hint="Run `conveyor features apply`.",
                service=ref,
            )
        return ServiceVersion(
            record.name,
            record.version,
            tuple(record.spec["features"]),
            str(record.spec.get("on_missing", "error")),
        )

    def _applied_view(self, view: FeatureView) -> DefinitionRecord:
        """The record of the view as defined now; it must have been applied."""
        record = self.records.get("view", view.name)
        digest = definition_hash(view.spec())
        if record is None or record.definition_hash != digest:
            state = "was never applied" if record is None else "changed since it was applied"
            raise FeatureNotFoundError(
                f"Feature view {view.name!r} {state}.",
                hint="Run `conveyor features apply` to record its definition.",
                view=view.name,
            )
        return record

    def resolve(
        self, features: Sequence[str] | FeatureService | str | ServiceVersion
    ) -> FeatureSet:
        """Group ``features`` (``view:feature`` refs, ``view`` for all, a service object,
        a service name or ``name@version``) by view, checked against the definitions.

        Raises:
            FeatureNotFoundError: A view, feature or service does not exist (the message
                lists what does).
        """
        defs = self.definitions()
        service: ServiceVersion | None = None
        if isinstance(features, ServiceVersion):
            service = features
            refs: Sequence[str] = features.features
        elif isinstance(features, FeatureService):
            service = self.service_version(features.name)
            refs = features.resolved(defs.views)
        elif isinstance(features, str):
            service = self.service_version(features)
            refs = service.features
        else:
            refs = list(features)
        out = FeatureSet(service=service)
        for ref in refs:
            view_name, feature = split_ref(ref)
            view = lookup_view(defs.views, view_name)
            wanted = view.features if feature is None else (view.field(feature).name,)
            picked = out.views.setdefault(view.name, [])
            picked.extend(f for f in wanted if f not in picked)
        if not out.views:
            raise FeatureNotFoundError(
                "No features were asked for.",
                hint="Pass features=['view:feature', ...] or a feature service.",
            )
        return out

    def pin(self, features: Sequence[str] | FeatureService | str) -> dict[str, Any]:
        """What ``historical(..., features)`` would read now: the service version and, per
        view, its definition version and the exact dataset version (a cache key for
        pipelines; the lineage a result records).

        Raises:
            FeatureNotFoundError: A view, feature or service does not exist, or a view
                changed since it was applied.
        """
        wanted = self.resolve(features)
        defs = self.definitions()
        views: dict[str, Any] = {}
        for view_name, names in wanted.views.items():
            view = defs.views[view_name]
            record = self._applied_view(view)
            name, _, pinned = view.dataset.partition("@")
            dataset = self.datasets.get(name, None if pinned == "latest" else int(pinned))
            views[view.name] = {
                "version": record.version,
                "dataset": f"{name}@{dataset.version}",
                "features": list(names),
            }
        return {
            "service": None if wanted.service is None else wanted.service.ref,
            "views": views,
        }

    # -- offline -------------------------------------------------------------------------

    def table(self, view: str | FeatureView, *, dataset_version: int | None = None) -> pa.Table:
        """The view's offline table: its join keys, timestamp (UTC) and features, computed
        from its dataset version once and kept as a Parquet artifact."""
        found = (
            view if isinstance(view, FeatureView) else lookup_view(self.definitions().views, view)
        )
        return self._table(found, dataset_version=dataset_version)[0]

    def _table(
        self, view: FeatureView, *, dataset_version: int | None = None
    ) -> tuple[pa.Table, FeatureTableRecord]:
        record = self._applied_view(view)
        name, _, pinned = view.dataset.partition("@")
        version = dataset_version
        if version is None and pinned != "latest":
            version = int(pinned)
        dataset = self.datasets.get(name, version)
        cached = self.records.find_table(view.name, record.version, name, dataset.version)
        if cached is not None:
            data = self.artifacts.get_bytes(cached.artifact_hash)
            return pq.read_table(io.BytesIO(data)), cached
        table = build_view_table(view, self.datasets.load(f"{name}@{dataset.version}"))
        sink = io.BytesIO()
        pq.write_table(table, sink)
        info = self.artifacts.put_bytes(sink.getvalue())
        ts = table.column(view.timestamp_field)
        stored = self.records.record_table(
            self.actor,
            FeatureTableRecord(
                view=view.name,
                view_version=record.version,
                dataset=name,
                dataset_version=dataset.version,
                artifact_hash=info.hash,
                rows=table.num_rows,
                min_ts=_py_ts(pa.compute.min(ts)),
                max_ts=_py_ts(pa.compute.max(ts)),
                created_at=utcnow(),
            ),
        )
        return table, stored

    def historical(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str] | FeatureService | str,
        *,
        timestamp_column: str = "event_timestamp",
        full_names: bool = False,
    ) -> pd.DataFrame:
        """``entity_df`` with, for each row, every feature's latest value at or before the
        row's timestamp (within the view's TTL), never a later one.

        The result's ``attrs["conveyor.features"]`` records what it was built from (the
        service version, each view's version and dataset version); called inside a run,
        the same is logged to the run's parameters under ``features``.

        Args:
            entity_df: Entity key columns and ``timestamp_column``.
            features: ``view:feature`` references, a :class:`FeatureService`, or a service
                name (``name`` or ``name@version``).
            timestamp_column: The entity frame's event time column.
            full_names: Name columns ``view__feature`` (default: the feature name).

        Raises:
            EntityFrameError: The timestamp column or a join key is missing, or timestamps
                mix naive and aware values.
            FeatureNotFoundError: A view or feature does not exist.
        """
        from conveyor.features._offline import ViewTable, point_in_time_join

        wanted = self.resolve(features)
        defs = self.definitions()
        tables: list[ViewTable] = []
        lineage: dict[str, Any] = {
            "service": None if wanted.service is None else wanted.service.ref,
            "views": {},
        }
        for view_name, names in wanted.views.items():
            view = defs.views[view_name]
            table, record = self._table(view)
            tables.append(
                ViewTable(
                    name=view.name,
                    join_keys=view.join_keys,
                    timestamp_field=view.timestamp_field,
                    ttl=view.ttl,
                    features=tuple(names),
                    table=table,
                )
            )
            lineage["views"][view.name] = {
                "version": record.view_version,
                "dataset": f"{record.dataset}@{record.dataset_version}",
                "features": list(names),
            }
        result: pd.DataFrame = point_in_time_join(
            entity_df, tables, timestamp_column=timestamp_column, full_names=full_names
        )
        result.attrs["conveyor.features"] = lineage
        self._log_to_run(lineage, result, [c for c in result.columns if c not in entity_df])
        return result

    def _log_to_run(
        self, lineage: Mapping[str, Any], result: pd.DataFrame, columns: builtins.list[Any]
    ) -> None:
        """Inside a run: log what the training set was built from (parameter ``features``),
        record the views' dataset versions on the run, and keep the profile of the looked-up
        columns (artifact ``features-profile.json``): monitoring's reference for them."""
        import json
        import tempfile

        from conveyor.data import compute_profile
        from conveyor.tracking import current

        ctx = current()
        if ctx is None:
            return
        ctx.tracker.log_params(ctx.run_id, {"features": dict(lineage)})
        for view in lineage["views"].values():
            version = self.datasets.get(view["dataset"])
            ctx.tracker.record_dataset(
                ctx.run_id, version.name, version.version, version.content_hash
            )
        profile = compute_profile(
            pa.Table.from_pandas(result[columns].reset_index(drop=True), preserve_index=False)
        )
        with tempfile.TemporaryDirectory(prefix="conveyor-features-") as folder:
            path = Path(folder) / PROFILE_ARTIFACT
            path.write_text(json.dumps(profile, default=str), encoding="utf-8")
            ctx.tracker.log_artifact(ctx.run_id, path)

    # -- online --------------------------------------------------------------------------

    @property
    def online_store(self) -> OnlineStore:
        """The online store named by ``features.online_url`` (opened on first use)."""
        from conveyor.features._online import open_online_store

        with self._lock:
            if self._online is None:
                self._online = open_online_store(
                    self.config.online_url, root=self.root, namespace=self.namespace
                )
            return self._online

    def materialize(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        views: Sequence[str] | None = None,
        full: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> builtins.list[Materialized]:
        """Write the latest values per entity key (timestamps in ``[start, end]``) of each
        view to the online store, incrementally.

        Only keys whose latest row differs from what the last committed materialization
        of the view into this store wrote are written, in atomic batches: a run killed
        half-way leaves every key with its old or its new values, and the next run writes
        whatever is still missing. A view whose definition changed is written in full.

        Args:
            start: Ignore rows older than this (default: no lower bound).
            end: Ignore rows newer than this (default: now).
            views: The views to materialize (default: all applied views).
            full: Write every key, whatever was written before (after the online store
                was cleared or restored from elsewhere). An empty online store for a view
                that was materialized before is written in full anyway.
            progress: Called with a line per view.
        """
        from conveyor.features._online import OnlineRow

        defs = self.definitions()
        store = self.online_store
        end = _utc(end) if end is not None else datetime.now(UTC)
        start = _utc(start) if start is not None else None
        names = list(views) if views is not None else sorted(defs.views)
        done: list[Materialized] = []
        for name in names:
            view = lookup_view(defs.views, name)
            table, trecord = self._table(view)
            last = self.records.last_committed(view.name, store.store_id)
            in_full = (
                full
                or last is None
                or last.view_version != trecord.view_version
                or (last.rows > 0 and store.count(view.name) == 0)
            )
            now_latest = latest_per_key(view, table, start, end)
            if not in_full and last is not None:
                before, _ = self._table(view, dataset_version=last.dataset_version)
                previous = latest_per_key(view, before, last.start_ts, last.end_ts)
                changed = _changed(now_latest, previous, view)
            else:
                changed = now_latest
            record = self.records.start_materialization(
                self.actor,
                view=view.name,
                view_version=trecord.view_version,
                dataset_version=trecord.dataset_version,
                store_id=store.store_id,
                start_ts=start,
                end_ts=end,
            )
            written = 0
            rows = _online_rows(view, changed, OnlineRow)
            for i in range(0, len(rows), BATCH_ROWS):
                written += store.write_batch(view.name, rows[i : i + BATCH_ROWS])
            watermark = None if now_latest.empty else _py_ts(now_latest[view.timestamp_field].max())
            committed = self.records.commit_materialization(
                self.actor, record.id, rows=len(rows), watermark=watermark
            )
            if progress is not None:
                kind = "in full" if in_full else "changed keys"
                progress(f"{view.name}: {len(rows):,} key(s) written ({kind})")
            done.append(
                Materialized(
                    view=view.name,
                    view_version=trecord.view_version,
                    dataset=f"{trecord.dataset}@{trecord.dataset_version}",
                    rows=written,
                    keys=len(now_latest),
                    full=in_full,
                    record=committed,
                )
            )
        return done

    def online(
        self,
        entity_rows: Sequence[Mapping[str, Any]],
        features: Sequence[str] | FeatureService | str | ServiceVersion,
        *,
        on_missing: str | None = None,
        now: datetime | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """The online values of ``features`` for each entity row (its join keys).

        A value older than its view's TTL counts as missing. A missing entity follows
        ``on_missing`` (default: the service's policy, else ``"error"``): ``"error"``
        raises :class:`MissingEntityError` naming the key, ``"default"`` answers each
        feature's declared default (``None`` when it declares none).

        Returns:
            One ``{feature: value}`` dict per entity row, in order.

        Raises:
            EntityFrameError: A row lacks a join key.
            MissingEntityError: An entity has no online values and the policy is "error".
            OnlineStoreUnavailableError: The online store cannot be reached.
        """
        from conveyor.features._errors import EntityFrameError

        wanted = self.resolve(features)
        policy = on_missing or (wanted.service.on_missing if wanted.service else "error")
        defs = self.definitions()
        now = _utc(now) if now is not None else datetime.now(UTC)
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
                keys.append(tuple(_py(row[k]) for k in view.join_keys))
            found = self.online_store.read(view.name, keys, names)
            for i, (key, value) in enumerate(zip(keys, found, strict=True)):
                expired = (
                    value is not None and view.ttl is not None and value.event_ts < now - view.ttl
                )
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
                    out[i][n] = _from_online(value.values.get(n), view.field(n).dtype)
        return out


def build_view_table(view: FeatureView, frame: pd.DataFrame) -> pa.Table:
    """The view's rows from its dataset's frame: transformed, checked, typed.

    Raises:
        FeatureSourceError: The transformation failed or returned something else than a
            DataFrame, a declared column is missing, or a value does not fit its type.
    """
    from conveyor.features._definitions import Transformation

    if isinstance(view.source, Transformation):
        try:
            frame = view.source(frame)
        except Exception as exc:
            raise FeatureSourceError(
                f"The transformation {view.source.name!r} of feature view {view.name!r} "
                f"failed: {type(exc).__name__}: {exc}",
                hint="Fix the function in features.py and apply again.",
                view=view.name,
            ) from exc
        if not isinstance(frame, pd.DataFrame):
            raise FeatureSourceError(
                f"The transformation {view.source.name!r} of feature view {view.name!r} "
                f"returned {type(frame).__name__}, not a DataFrame.",
                hint="Return a pandas DataFrame.",
                view=view.name,
            )
    wanted = [*view.join_keys, view.timestamp_field, *view.features]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:30]))
        raise FeatureSourceError(
            f"The source of feature view {view.name!r} ({view.dataset}) lacks the declared "
            f"column(s) {missing}; it has: {shown}.",
            hint="Fix the view's schema, join keys or timestamp_field, or its source.",
            view=view.name,
            missing=missing,
        )
    out = pd.DataFrame(index=frame.index)
    for key in view.join_keys:
        out[key] = frame[key]
    try:
        stamps = pd.to_datetime(frame[view.timestamp_field], utc=True)
    except (ValueError, TypeError) as exc:
        raise FeatureSourceError(
            f"Feature view {view.name!r}: the timestamp column {view.timestamp_field!r} "
            f"holds values that are not timestamps ({exc}).",
            hint="Store timestamps (or ISO 8601 strings) in that column.",
            view=view.name,
        ) from exc
    if stamps.isna().any():
        row = stamps.index[stamps.isna()][0]
        raise FeatureSourceError(
            f"Feature view {view.name!r}: row {row!r} has no timestamp in "
            f"{view.timestamp_field!r}.",
            hint="Drop or fill rows without a timestamp in the source or transformation.",
            view=view.name,
        )
    out[view.timestamp_field] = stamps.astype("datetime64[us, UTC]")
    for f in view.schema:
        out[f.name] = _cast(frame[f.name], f.dtype, view.name, f.name)
    return pa.Table.from_pandas(out.reset_index(drop=True), preserve_index=False)


def _cast(column: pd.Series, dtype: str, view: str, name: str) -> pd.Series:
    target: Any = DTYPES[dtype]
    try:
        if dtype == "datetime":
            cast: pd.Series = pd.to_datetime(column, utc=True).astype(target)
        else:
            cast = column.astype(target)
        return cast
    except (ValueError, TypeError, OverflowError) as exc:
        bad = _first_bad(column, dtype)
        raise FeatureSourceError(
            f"Feature view {view!r}: feature {name!r} is declared {dtype} but holds "
            f"{bad!r} ({type(exc).__name__}: {exc}).",
            hint=f"Declare the type of the values in {name!r}, or convert them in a "
            "transformation.",
            view=view,
            feature=name,
        ) from exc


def _first_bad(column: pd.Series, dtype: str) -> Any:
    for value in column:
        try:
            target: Any = DTYPES[dtype]
            pd.Series([value]).astype(target)
        except (ValueError, TypeError, OverflowError):
            return value
    return None


def latest_per_key(
    view: FeatureView, table: pa.Table, start: datetime | None, end: datetime
) -> pd.DataFrame:
    """The newest row per entity key with a timestamp in ``[start, end]`` (ties: the
    last in the table), as a frame."""
    import duckdb

    keys = ", ".join(_q(k) for k in view.join_keys)
    ts = _q(view.timestamp_field)
    where = [f"{ts} <= $end"]
    params: dict[str, Any] = {"end": end}
    if start is not None:
        where.append(f"{ts} >= $start")
        params["start"] = start
    # The table's own order, numbered here: a window over a parallel scan has none.
    numbered = table.append_column("__seq", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con = duckdb.connect()
    try:
        con.register("view_rows", numbered)
        query = (
            f"SELECT * EXCLUDE (__seq) FROM view_rows WHERE {' AND '.join(where)} "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {ts} DESC, __seq DESC) = 1"
        )
        result: Any = con.sql(query, params=params).to_arrow_table()
        frame: pd.DataFrame = result.to_pandas()
    finally:
        con.close()
    return frame


def _changed(now: pd.DataFrame, before: pd.DataFrame, view: FeatureView) -> pd.DataFrame:
    """Rows of ``now`` whose key is new or whose timestamp or values differ from ``before``."""
    if before.empty:
        return now
    keys = list(view.join_keys)
    compare = [view.timestamp_field, *view.features]
    merged = now.merge(before[[*keys, *compare]], on=keys, how="left", suffixes=("", "__old"))
    differs = np.zeros(len(merged), dtype=bool)
    for column in compare:
        a, b = merged[column], merged[f"{column}__old"]
        same = (a == b).fillna(False).to_numpy(dtype=bool) | (a.isna() & b.isna()).to_numpy()
        differs |= ~same
    return now.loc[differs.tolist()].reset_index(drop=True) if len(now) else now


def _online_rows(view: FeatureView, frame: pd.DataFrame, row_type: Any) -> builtins.list[Any]:
    rows: list[Any] = []
    keys = list(view.join_keys)
    records = frame.to_dict("records")
    for record in records:
        rows.append(
            row_type(
                key=tuple(_py(record[k]) for k in keys),
                values={f: _to_online(record[f]) for f in view.features},
                event_ts=_py_ts(record[view.timestamp_field]),
            )
        )
    return rows


def _py(value: Any) -> Any:
    """A numpy or pandas scalar as the Python scalar it holds."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _to_online(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    return _py(value)


def _from_online(value: Any, dtype: str) -> Any:
    if value is None:
        return None
    if dtype == "datetime":
        return pd.Timestamp(value)
    if dtype == "float64":
        return float(value)
    return value


def _py_ts(value: Any) -> datetime | None:
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if value is None or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    return stamp.to_pydatetime()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _q(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


PROFILE_ARTIFACT = "features-profile.json"
