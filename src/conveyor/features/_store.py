"""``ws.features``: apply definitions, build point-in-time training sets, materialize and
read online features.

The facade ties the pieces together: definitions come from the project's ``features.py``
(:mod:`conveyor.features._loader`), their versions from the feature records, each view's
offline table is computed once per (view version, dataset version) and kept as a Parquet
artifact, the point-in-time join runs in DuckDB (:mod:`conveyor.features._offline`) and the
online store is SQLite or Redis (:mod:`conveyor.features._online`). Building and caching
the offline tables and the training sets joined from them lives in
:mod:`conveyor.features._offline_tables`.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
import pyarrow as pa

from conveyor.core import Actor
from conveyor.features._changes import refuse_breaking_changes
from conveyor.features._definitions import (
    Definitions,
    FeatureService,
    FeatureView,
    definition_hash,
    feature_ref,
    lookup_view,
    split_ref,
)
from conveyor.features._errors import (
    FeatureNotFoundError,
)
from conveyor.features._loader import load_definitions
from conveyor.features._materialize import Materialized
from conveyor.features._offline_tables import training_set, view_table
from conveyor.features._records import (
    BaseFeatureRecords,
    DefinitionRecord,
    FeatureTableRecord,
)

if TYPE_CHECKING:
    from conveyor.artifacts import ArtifactStore
    from conveyor.config import FeaturesConfig
    from conveyor.features._online import OnlineStore

__all__ = [
    "AppliedDefinition",
    "FeatureSet",
    "PROFILE_ARTIFACT",
    "DatasetSource",
    "FeatureStore",
    "TrainingSetHook",
    "ServiceVersion",
]


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


#: What the store tells its owner about a training set it built (see ``on_training_set``).
TrainingSetHook = Callable[[Mapping[str, Any], pd.DataFrame, "builtins.list[Any]"], None]
#: The run artifact holding the profile of a training set's looked-up columns.
PROFILE_ARTIFACT = "features-profile.json"


class DatasetSource(Protocol):
    """What the store reads of the dataset records (``ws.datasets``)."""

    def get(self, ref: str, version: int | None = None) -> Any: ...

    def load(self, ref: str) -> pd.DataFrame: ...


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
        model_tags: Every registered model version's tags (with ``__model__``), for
            refusing definition changes that would alter a trained model's features.
        on_training_set: Called by :meth:`historical` with ``(lineage, result, looked-up
            columns)``; the workspace records them on the current run, if any.
    """

    def __init__(
        self,
        *,
        records: BaseFeatureRecords,
        datasets: DatasetSource,
        artifacts: ArtifactStore,
        actor: Actor,
        root: Path,
        config: FeaturesConfig,
        namespace: str,
        model_tags: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
        on_training_set: TrainingSetHook | None = None,
    ) -> None:
        self.records = records
        self.datasets = datasets
        self.artifacts = artifacts
        self.actor = actor
        self.root = root
        self.config = config
        self.namespace = namespace
        self.model_tags = model_tags
        self.on_training_set = on_training_set
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
            refuse_breaking_changes(self, defs)
        recorded = self.records.record_definitions(self.actor, items)
        if definitions is not None:
            with self._lock:
                self._definitions = definitions
        return [AppliedDefinition(r.kind, r.name, r.version, changed) for r, changed in recorded]

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
        return self.table_with_record(found, dataset_version=dataset_version)[0]

    def table_with_record(
        self, view: FeatureView, *, dataset_version: int | None = None
    ) -> tuple[pa.Table, FeatureTableRecord]:
        return view_table(self, view, dataset_version=dataset_version)

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
        return training_set(
            self, entity_df, features, timestamp_column=timestamp_column, full_names=full_names
        )

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
        from conveyor.features._materialize import materialize_views

        return materialize_views(
            self, start=start, end=end, views=views, full=full, progress=progress
        )

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
        from conveyor.features._lookup import online_values

        return online_values(self, entity_rows, features, on_missing=on_missing, now=now)
