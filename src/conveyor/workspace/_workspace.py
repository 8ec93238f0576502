"""The :class:`Workspace` class."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
from conveyor.data import BaseDatasetRecords, DatasetRegistry, SqlDatasetRecords
from conveyor.errors import EncryptionKeyError
from conveyor.store import (
    AuditEvent,
    AuditVerification,
    BaseAuditRecords,
    MetadataStore,
    SqlAuditRecords,
    open_store,
)
from conveyor.workspace._errors import NoMetadataStoreError
from conveyor.workspace._facades import _WorkspaceFacades

# The other facades (runs, models, predictions, deployments, features, in _facades) and
# what they pull in (pandas, the model flavors, the HTTP client) are imported when first
# used, so that a command touching only datasets (``conveyor data add``) starts fast.
if TYPE_CHECKING:
    from conveyor.features import FeatureStore
    from conveyor.notify import BaseNotifier
    from conveyor.remote import RemoteClient

T = TypeVar("T")

#: Builds the records of a remote workspace: called with a records interface
#: (``BaseCheckRecords``...), returns its implementation (an instance of it).
RemoteRecords = Callable[[type[Any]], Any]


class Workspace(_WorkspaceFacades):
    """A conveyor project and its stores.

    Open one with :meth:`open`; it resolves the metadata and artifact stores from
    ``conveyor.yaml`` and ``CONVEYOR_*`` variables (embedded defaults: SQLite at
    ``.conveyor/conveyor.db`` and a folder at ``.conveyor/artifacts``), applies pending
    migrations, and exposes the record services. A workspace is a context manager; close
    it to deliver pending notifications and release database connections.

    Every records access goes through :meth:`records` (the facades ``datasets``,
    ``runs``, ``models``, ``predictions`` and ``deployments`` are built on it, and
    ``audit`` is one of them), so a workspace built with a ``remote`` hook keeps its
    records elsewhere (a team server) and has no metadata store: only what needs the
    database itself (``store``, :meth:`gc`) raises :class:`NoMetadataStoreError` then.

    Args:
        settings: The project's settings.
        store: The metadata store; ``None`` only with ``remote``.
        artifacts: The artifact store.
        actor: Who the changes made through this workspace are attributed to.
        remote: Builds the records of a remote workspace, ``remote(BaseXRecords)``; when
            given, every records access goes through it, and ``store`` (if any) is used for
            nothing but the :attr:`store` property (nor closed by :meth:`close`).

    Raises:
        TypeError: Neither ``store`` nor ``remote`` is given.

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
        store: MetadataStore | None,
        artifacts: ArtifactStore,
        actor: Actor,
        *,
        remote: RemoteRecords | None = None,
    ) -> None:
        if store is None and remote is None:
            raise TypeError("Workspace needs a metadata store or a remote= hook; got neither.")
        self.settings = settings
        self._store = store
        self._remote = remote
        self._records: dict[Any, Any] = {}
        self._records_lock = threading.Lock()
        self.artifacts = artifacts
        self.actor = actor
        self.datasets = DatasetRegistry(
            store if remote is None else None,
            artifacts,
            actor=actor,
            root=settings.root,
            records=self.records(BaseDatasetRecords, SqlDatasetRecords),
            link=settings.config.data.link,
        )
        self._facades: dict[str, Any] = {}
        self._facades_lock = threading.RLock()
        self._notifier: BaseNotifier | None = None
        self._notifier_lock = threading.Lock()
        self._client: RemoteClient | None = None
        self._features: FeatureStore | None = None

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
        store_cfg = settings.config.store
        if store_cfg.server_url:
            return cls._open_remote(settings, store_cfg.server_url, env)
        resolved_actor = Actor(actor) if isinstance(actor, str) else actor or Actor.resolve(env)
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

    @classmethod
    def _open_remote(cls, settings: Settings, url: str, env: Mapping[str, str]) -> Workspace:
        """A workspace whose records and artifacts are on the team server at ``url``.

        The token (``CONVEYOR_TOKEN``) is checked at once (``/whoami``), so a missing or
        bad token fails here with the server's answer, and the workspace's actor is the
        token's identity: the server records every change under it, whatever a client
        would call itself.
        """
        from conveyor.remote import RemoteArtifactStore, RemoteClient, rest_records

        client = RemoteClient(url, env.get("CONVEYOR_TOKEN", ""))
        try:
            identity = client.get("/whoami")
        except BaseException:
            client.close()
            raise
        actor = Actor(name=f"token:{identity['name']}", kind="service")
        ws = cls(
            settings,
            None,
            RemoteArtifactStore(client),
            actor,
            remote=lambda base: rest_records(base, client),
        )
        ws._client = client
        return ws

    @property
    def server_url(self) -> str | None:
        """The team server this workspace works through (``None`` for a local one)."""
        return None if self._client is None else self._client.url

    @property
    def root(self) -> Path:
        """The project folder."""
        return self.settings.root

    @property
    def is_remote(self) -> bool:
        """Whether the records live elsewhere (built by the ``remote`` hook)."""
        return self._remote is not None

    @property
    def store(self) -> MetadataStore:
        """The metadata store, for what needs the database itself (not for records).

        Records go through :meth:`records`; only local operations (:meth:`gc`, key
        rotation, Optuna's study storage) use the store directly.

        Raises:
            NoMetadataStoreError: The workspace is remote and has no metadata store.
        """
        if self._store is None:
            raise NoMetadataStoreError(
                f"The workspace at {str(self.root)!r} keeps its records on a server and has "
                "no metadata store of its own.",
                hint="Run this where the metadata store is (on the server, or in a local "
                "workspace).",
                root=str(self.root),
            )
        return self._store

    def records(self, base: Callable[..., T], sql: Callable[[MetadataStore], T]) -> T:
        """The workspace's implementation of the records interface ``base``, built once.

        A local workspace builds ``sql(self.store)``; a remote one asks its ``remote``
        hook for ``remote(base)`` and never touches a store. Either way the instance is
        cached per interface, so every caller of one workspace shares it (the facades
        included). Safe to call from several threads: one instance is ever built per
        interface.

        Args:
            base: The abstract interface, e.g. ``BaseCheckRecords`` (the cache key). It is
                typed as a callable only so that mypy accepts an abstract class.
            sql: Builds the SQL implementation from the metadata store, e.g.
                ``SqlCheckRecords``.

        Returns:
            The records, an instance of ``base``.

        Raises:
            TypeError: The ``remote`` hook returned something that is not a ``base``.

        Example:
            >>> from conveyor.checks import BaseCheckRecords, SqlCheckRecords
            >>> with Workspace.open(tmp_dir) as ws:  # doctest: +SKIP
            ...     checks = ws.records(BaseCheckRecords, SqlCheckRecords)
            ...     checks is ws.records(BaseCheckRecords, SqlCheckRecords)
            True
        """
        with self._records_lock:
            found = self._records.get(base)
            if found is None:
                found = self._build_records(base, sql)
                self._records[base] = found
            result: T = found
            return result

    def _build_records(self, base: Callable[..., T], sql: Callable[[MetadataStore], T]) -> T:
        if self._remote is None:
            return sql(self.store)
        if not isinstance(base, type):
            raise TypeError(f"records() needs the interface class, not {base!r}.")
        built: Any = self._remote(base)
        if not isinstance(built, base):
            raise TypeError(
                f"The workspace's remote hook returned {type(built).__name__} for "
                f"{base.__name__}; it must return an instance of {base.__name__}."
            )
        return cast(T, built)

    @property
    def audit(self) -> BaseAuditRecords:
        """The audit trail: append events that change no record, read and verify it.

        Example:
            >>> ws.audit.record_event(ws.actor, "keys.rotate", "artifacts:.")  # doctest: +SKIP
        """
        return self.records(BaseAuditRecords, SqlAuditRecords)

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
        return self.audit.audit_log(limit=limit, action=action, target_prefix=target)

    def verify_audit(self) -> AuditVerification:
        """Recompute the audit hash chain and report the first broken event, if any."""
        return self.audit.verify_audit()

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

        Raises:
            NoMetadataStoreError: The workspace is remote (collection runs where the
                metadata store is).
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
                from conveyor.notify import resolve_notifier

                self._notifier = resolve_notifier(
                    self.settings,
                    store=self._store if self._remote is None else self.audit,
                    actor=self.actor,
                )
            return self._notifier

    def close(self, *, notify_timeout_s: float = 10.0) -> None:
        """Write what the run tracker buffers, deliver pending notifications, then release
        the stores' connections.

        Args:
            notify_timeout_s: How long to wait for queued webhook deliveries; those not
                made by then are recorded as ``notify.failed`` audit events.
        """
        with self._notifier_lock:
            notifier, self._notifier = self._notifier, None
        if self._features is not None:
            self._features.close()
        with self._facades_lock:
            tracker = self._facades.get("runs")
        try:
            if tracker is not None:
                # Buffered metrics and finished lazy runs reach the store while it is open.
                tracker.flush()
            if notifier is not None:
                notifier.close(timeout=notify_timeout_s)
        finally:
            if self._store is not None and self._remote is None:
                self._store.close()
            if self._client is not None:
                self._client.close()

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
        metadata = "remote" if self._remote is not None or self._store is None else self._store.url
        return f"Workspace(root={str(self.root)!r}, metadata={metadata!r})"


def _key_file(settings: Settings) -> str | None:
    key_file = settings.config.store.encryption.key_file
    if key_file is None:
        return None
    path = Path(key_file).expanduser()
    return str(path if path.is_absolute() else settings.root / path)
