"""The record facades of a :class:`~conveyor.workspace.Workspace`, built on first use.

Each facade (runs, models, predictions, deployments, features) and what it pulls in
(pandas, the model flavors, the HTTP client) is imported when first used, so that a command
touching only datasets (``conveyor data add``) starts fast: this module imports none of
them at load time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from conveyor.artifacts import ArtifactStore
    from conveyor.config import Settings
    from conveyor.core import Actor
    from conveyor.data import DatasetRegistry
    from conveyor.deployments import DeploymentStore
    from conveyor.features import FeatureStore
    from conveyor.predictions import PredictionLog
    from conveyor.registry import ModelRegistry
    from conveyor.store import MetadataStore
    from conveyor.tracking import RunTracker

T = TypeVar("T")


class _WorkspaceFacades:
    """The lazily-built facades of :class:`~conveyor.workspace.Workspace` (its base).

    The attributes and members declared here are set and defined by ``Workspace``.
    """

    settings: Settings
    artifacts: ArtifactStore
    actor: Actor
    datasets: DatasetRegistry
    _store: MetadataStore | None
    _remote: Callable[[type[Any]], Any] | None
    _records_lock: threading.Lock
    _facades: dict[str, Any]
    _facades_lock: threading.RLock
    _features: FeatureStore | None

    if TYPE_CHECKING:

        @property
        def root(self) -> Path: ...

        @property
        def store(self) -> MetadataStore: ...

        @property
        def server_url(self) -> str | None: ...

        def records(self, base: Callable[..., T], sql: Callable[[MetadataStore], T]) -> T: ...

    def _facade(self, name: str, build: Callable[[], T]) -> T:
        """The facade ``name``, built once on first use (thread-safe)."""
        with self._facades_lock:
            if name not in self._facades:
                self._facades[name] = build()
            return cast(T, self._facades[name])

    @property
    def runs(self) -> RunTracker:
        """The run tracker: runs, their parameters, metrics and artifacts."""

        def build() -> RunTracker:
            from conveyor.tracking import BaseRunRecords, RunTracker, SqlRunRecords

            return RunTracker(
                self._local_store,
                self.artifacts,
                actor=self.actor,
                root=self.root,
                heartbeat_timeout_s=self.settings.config.runs.heartbeat_timeout_s,
                records=self.records(BaseRunRecords, SqlRunRecords),
            )

        return self._facade("runs", build)

    @property
    def predictions(self) -> PredictionLog:
        """The prediction log of the models this project serves."""

        def build() -> PredictionLog:
            from conveyor.predictions import (
                BasePredictionRecords,
                PredictionLog,
                SqlPredictionRecords,
            )

            return PredictionLog(
                self._local_store,
                self.artifacts,
                actor=self.actor,
                root=self.root,
                records=self.records(BasePredictionRecords, SqlPredictionRecords),
            )

        return self._facade("predictions", build)

    @property
    def deployments(self) -> DeploymentStore:
        """Deployment state and history per environment."""

        def build() -> DeploymentStore:
            from conveyor.deployments import (
                BaseDeploymentRecords,
                DeploymentStore,
                SqlDeploymentRecords,
            )

            return DeploymentStore(
                self._local_store,
                actor=self.actor,
                records=self.records(BaseDeploymentRecords, SqlDeploymentRecords),
            )

        return self._facade("deployments", build)

    @property
    def models(self) -> ModelRegistry:
        """The model registry, with lineage to this workspace's runs and datasets."""

        def build() -> ModelRegistry:
            from conveyor.registry import BaseModelRecords, ModelRegistry, SqlModelRecords
            from conveyor.workspace._lineage import WorkspaceLineage

            return ModelRegistry(
                self._local_store,
                self.artifacts,
                actor=self.actor,
                root=self.root,
                importance_fn=_importance,
                records=self.records(BaseModelRecords, SqlModelRecords),
                lineage=WorkspaceLineage(self.runs, self.datasets),
            )

        return self._facade("models", build)

    @property
    def _local_store(self) -> MetadataStore | None:
        # The facades keep the store only to show it; a remote workspace has none to show.
        return self._store if self._remote is None else None

    @property
    def features(self) -> FeatureStore:
        """The feature store: definitions, point-in-time training sets, online features.

        Raises:
            ConveyorError: The workspace is remote (the feature store needs the project's
                folder and its metadata store).

        Example:
            >>> training = ws.features.historical(sessions, "recommender")  # doctest: +SKIP
        """
        with self._records_lock:
            if self._features is None:
                if self._remote is not None:
                    from conveyor.errors import ConveyorError

                    raise ConveyorError(
                        "The feature store works on a local workspace; this one is remote "
                        f"({self.server_url}).",
                        hint="Run feature commands in the project folder, next to its "
                        "metadata store.",
                    )
                from conveyor.features import FeatureStore, SqlFeatureRecords
                from conveyor.workspace._features import log_training_set

                self._features = FeatureStore(
                    records=SqlFeatureRecords(self.store),
                    datasets=self.datasets,
                    artifacts=self.artifacts,
                    actor=self.actor,
                    root=self.root,
                    config=self.settings.config.features,
                    namespace=self.settings.config.project.name,
                    model_tags=self._model_tags,
                    on_training_set=partial(log_training_set, self.datasets),
                )
            return self._features

    def _model_tags(self) -> list[dict[str, Any]]:
        """Each model version's tags, with ``__model__`` set to its reference."""
        out: list[dict[str, Any]] = []
        for summary in self.models.list():
            for version in self.models.versions(summary.name):
                out.append({**version.tags, "__model__": f"{version.name}@{version.version}"})
        return out


def _importance(predictor: Any, frame: pd.DataFrame) -> Mapping[str, float]:
    """Global SHAP importance for a model being registered.

    Importance is optional metadata: a model SHAP cannot explain (string labels without
    ``predict_proba``, a pipeline whose encoder rejects what the permutation explainer
    feeds it) is registered without importance rather than refused; the registry records
    the reason this raises.

    Raises:
        ExplainError: why importance could not be computed for this model.
    """
    from conveyor.explain import ExplainError, global_importance

    try:
        return global_importance(predictor, frame, budget_s=10.0)
    except (TypeError, ValueError) as exc:
        raise ExplainError(
            f"SHAP could not explain this model: {type(exc).__name__}: {exc}",
            hint="Importance is optional; /v1/explain reports the same reason.",
        ) from exc
