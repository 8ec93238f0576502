"""The :class:`Workspace` class."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from conveyor.artifacts import ArtifactStore, GcResult, MasterKey, open_artifact_store
from conveyor.config import (
    Settings,
    find_project,
    find_root,
    load_settings,
    parse_duration,
    process_env,
)
from conveyor.core import Actor, utcnow
from conveyor.data import DatasetRegistry
from conveyor.deployments import DeploymentStore
from conveyor.errors import EncryptionKeyError
from conveyor.explain import ExplainError, global_importance
from conveyor.notify import BaseNotifier, resolve_notifier
from conveyor.predictions import PredictionLog
from conveyor.registry import ModelRegistry
from conveyor.store import AuditEvent, AuditVerification, MetadataStore, open_store
from conveyor.tracking import RunTracker
from conveyor.workspace._lineage import WorkspaceLineage


class Workspace:
    """A conveyor project and its stores.

    Open one with :meth:`open`; it resolves the metadata and artifact stores from
    ``conveyor.yaml`` and ``CONVEYOR_*`` variables (embedded defaults: SQLite at
    ``.conveyor/conveyor.db`` and a folder at ``.conveyor/artifacts``), applies pending
    migrations, and exposes the record services. A workspace is a context manager; close
    it to deliver pending notifications and release database connections.

    Example:
        >>> import conveyor, pandas as pd
        >>> with conveyor.Workspace.open(tmp_dir) as ws:  # doctest: +SKIP
        ...     v = ws.datasets.add("orders", pd.DataFrame({"x": [1, 2]}))
        ...     v.version
        1
    """

    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        artifacts: ArtifactStore,
        actor: Actor,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.actor = actor
        self.datasets = DatasetRegistry(store, artifacts, actor=actor, root=settings.root)
        self.runs = RunTracker(
            store,
            artifacts,
            actor=actor,
            root=settings.root,
            heartbeat_timeout_s=settings.config.runs.heartbeat_timeout_s,
        )
        self.predictions = PredictionLog(store, artifacts, actor=actor, root=settings.root)
        self.deployments = DeploymentStore(store, actor=actor)
        self.models = ModelRegistry(
            store,
            artifacts,
            actor=actor,
            root=settings.root,
            importance_fn=_importance,
            lineage=WorkspaceLineage(self.runs, self.datasets),
        )
        self._notifier: BaseNotifier | None = None
        self._notifier_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        actor: Actor | str | None = None,
        env: Mapping[str, str] | None = None,
        search_parents: bool = True,
        require_project: bool = False,
    ) -> Workspace:
        """Open the project at ``path`` (or the nearest parent holding ``conveyor.yaml``).

        Args:
            path: A folder inside the project. Without a ``conveyor.yaml`` anywhere above it,
                the folder itself is used with the default configuration (unless
                ``require_project``).
            actor: Who the changes made through this workspace are attributed to; default
                ``CONVEYOR_ACTOR`` or the operating-system user.
            env: Environment for ``CONVEYOR_*`` overrides (default: the process's,
                :func:`conveyor.config.process_env`).
            search_parents: Look for ``conveyor.yaml`` in parent folders too.
            require_project: Refuse to open a folder that is not inside a project instead
                of running on defaults (and creating ``.conveyor/`` there). The CLI sets it.

        Raises:
            ProjectNotFoundError: ``require_project`` and no ``conveyor.yaml`` was found.
            ConfigError: The configuration is invalid.
            StoreError: The metadata store cannot be opened or migrated.
            EncryptionKeyError: Encryption is enabled but no master key is available.
        """
        env = process_env() if env is None else env
        if require_project:
            root = find_project(path, search_parents=search_parents)
        else:
            root = find_root(path) if search_parents else Path(path).resolve()
        settings = load_settings(root, env=env)
        resolved_actor = Actor(actor) if isinstance(actor, str) else actor or Actor.resolve(env)
        store_cfg = settings.config.store
        key = MasterKey.resolve(settings.master_key, _key_file(settings))
        if store_cfg.encryption.enabled and key is None:
            raise EncryptionKeyError(
                "Encryption at rest is enabled in the configuration, but no master key is set.",
                hint="Set CONVEYOR_MASTER_KEY (64 hex digits) or store.encryption.key_file.",
            )
        store = open_store(settings.metadata_url, busy_timeout_s=store_cfg.busy_timeout_s)
        try:
            artifacts = open_artifact_store(
                settings.artifact_url,
                storage_options=dict(store_cfg.storage_options),
                master_key=key,
                encrypt=store_cfg.encryption.enabled,
            )
        except BaseException:
            store.close()
            raise
        return cls(settings, store, artifacts, resolved_actor)

    @property
    def root(self) -> Path:
        """The project folder."""
        return self.settings.root

    def open_remote(self, url: str | None = None) -> ArtifactStore:
        """Open a data remote: ``url``, else ``store.remote_url`` from the configuration.

        Raises:
            ConfigError: Neither is set.
        """
        from conveyor.errors import ConfigError

        target = url or self.settings.remote_url
        if not target:
            raise ConfigError(
                "No data remote given and store.remote_url is not configured.",
                hint="Pass --remote URL, or set store.remote_url in conveyor.yaml.",
            )
        if "://" not in target:
            target = str((self.root / target).resolve())
        return open_artifact_store(
            target,
            storage_options=dict(self.settings.config.store.storage_options),
            master_key=self.artifacts.master_key,
            encrypt=self.settings.config.store.encryption.enabled,
        )

    def audit_log(
        self, *, limit: int | None = None, action: str | None = None, target: str | None = None
    ) -> list[AuditEvent]:
        """The audit trail, oldest first, optionally filtered."""
        return self.store.audit_log(limit=limit, action=action, target_prefix=target)

    def verify_audit(self) -> AuditVerification:
        """Recompute the audit hash chain and report the first broken event, if any."""
        return self.store.verify_audit()

    def gc(self, *, grace: timedelta = timedelta(hours=1), dry_run: bool = False) -> GcResult:
        """Remove artifacts no record references (never one written within ``grace``).

        The set of live objects is read from the metadata store after the scan has been
        planned and again before removal, and objects written or protected within ``grace``
        are always kept, so an object a concurrent ``data add`` stores or reuses (not yet
        referenced) survives. Leftovers of interrupted adds in ``.conveyor/tmp`` older than
        ``grace`` are removed too.

        First, with ``predictions.retention`` set (e.g. ``30d``), logged predictions older
        than that are removed from the prediction log (:meth:`PredictionLog.expire`,
        audited ``predictions.retention``), so the objects that held them can be collected
        in the same run. ``dry_run`` removes no predictions.
        """
        retention = self.settings.config.predictions.retention
        if retention is not None and not dry_run:
            self.predictions.expire(utcnow() - parse_duration(retention))
        # A function, not a set: the sweep reads the references again just before it
        # removes anything, so a version recorded during the sweep keeps its objects.
        result = self.artifacts.gc(self.store.referenced_hashes, grace=grace, dry_run=dry_run)
        if not dry_run:
            self.datasets.reap_temp(grace)
        if not dry_run and result.removed:
            with self.store.write(
                self.actor,
                "artifacts.gc",
                f"artifacts:{self.artifacts.url}",
                details={"removed": len(result.removed), "bytes_freed": result.bytes_freed},
            ):
                pass
        return result

    def notifier(self) -> BaseNotifier:
        """This workspace's notifier, built once by :func:`conveyor.notify.resolve_notifier`.

        With endpoints under ``webhooks:``, a ``WebhookNotifier`` posting to them, built
        from the full settings, including the environment they were loaded with, so
        ``webhooks.endpoints[].secret_env`` secrets are found; failed deliveries are
        recorded as ``notify.failed`` by this workspace's actor. Without endpoints, a
        ``LogNotifier`` writing to the ``conveyor.notify`` logger. :meth:`close` delivers
        what is still queued (within a bound) before the stores close.

        Raises:
            NotifyConfigError: An endpoint's host is not allowed, or its ``secret_env``
                variable is not set.

        Example:
            >>> with Workspace.open(".") as ws:  # doctest: +SKIP
            ...     ws.notifier().send("deploy.promote", {"environment": "production"})
        """
        with self._notifier_lock:
            if self._notifier is None:
                self._notifier = resolve_notifier(self.settings, store=self.store, actor=self.actor)
            return self._notifier

    def close(self, *, notify_timeout_s: float = 10.0) -> None:
        """Deliver pending notifications, then release the stores' connections.

        Args:
            notify_timeout_s: How long to wait for queued webhook deliveries; those not
                made by then are recorded as ``notify.failed`` audit events.
        """
        with self._notifier_lock:
            notifier, self._notifier = self._notifier, None
        try:
            if notifier is not None:
                notifier.close(timeout=notify_timeout_s)
        finally:
            self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.root)!r}, metadata={self.store.url!r})"


def _key_file(settings: Settings) -> str | None:
    key_file = settings.config.store.encryption.key_file
    if key_file is None:
        return None
    path = Path(key_file).expanduser()
    return str(path if path.is_absolute() else settings.root / path)


def _importance(predictor: Any, frame: pd.DataFrame) -> Mapping[str, float]:
    """Global SHAP importance for a model being registered.

    Importance is optional metadata: a model SHAP cannot explain (string labels without
    ``predict_proba``, a pipeline whose encoder rejects what the permutation explainer
    feeds it) is registered without importance rather than refused; the registry records
    the reason this raises.

    Raises:
        ExplainError: why importance could not be computed for this model.
    """
    try:
        return global_importance(predictor, frame, budget_s=10.0)
    except (TypeError, ValueError) as exc:
        raise ExplainError(
            f"SHAP could not explain this model: {type(exc).__name__}: {exc}",
            hint="Importance is optional; /v1/explain reports the same reason.",
        ) from exc
