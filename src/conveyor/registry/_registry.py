"""The model registry: register, look up, alias, archive and load model versions."""

from __future__ import annotations

import builtins
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, utcnow, validate_name
from conveyor.registry._aliases import NoChange, drop_alias, point_aliases
from conveyor.registry._errors import ModelStateError
from conveyor.registry._history import model_history
from conveyor.registry._lineage import dataset_profiles, run_lineage
from conveyor.registry._loading import load_version, read_manifest
from conveyor.registry._models import (
    HistoryEntry,
    LoadedModel,
    ModelCard,
    ModelSummary,
    ModelVersion,
)
from conveyor.registry._prepare import ImportanceFn, PreparedModel, prepare_model
from conveyor.registry._records import (
    alias_map,
    find_model,
    owner_of,
    require_model,
    resolve_row,
    version_numbers,
)
from conveyor.registry._refs import ModelRef, parse_model_ref, validate_alias
from conveyor.store import (
    ArtifactRefRow,
    MetadataStore,
    ModelRow,
    ModelVersionRow,
    WriteTx,
)


class ModelRegistry:
    """Named models with contiguous versions, aliases, lineage and model cards.

    Every change is one audited transaction in the metadata store; model files live in the
    artifact store under one manifest object per version (``content_hash``) and are
    verified against their hashes whenever a version is loaded.

    Args:
        store: The metadata store.
        artifacts: The artifact store.
        actor: Who makes the changes (recorded and audited).
        root: The workspace root.
        importance_fn: Computes global feature importance at registration
            (``fn(predictor, frame) -> {feature: value}``); ``None`` skips it.
    """

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        *,
        actor: Actor,
        root: Path,
        importance_fn: ImportanceFn | None = None,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.actor = actor
        self.root = Path(root)
        self.importance_fn = importance_fn

    def __repr__(self) -> str:
        return f"ModelRegistry({self.store.url!r})"

    # -- registering ---------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: Any,
        *,
        input_example: Any = None,
        run: str | None = None,
        description: str | None = None,
        trusted: bool = False,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        flavor: str | None = None,
        signature: Any = None,
        lineage: Mapping[str, Any] | None = None,
        explain: bool = True,
        onnx: bool = True,
    ) -> ModelVersion:
        """Save ``model`` and record it as the next version of ``name``.

        Args:
            name: The model name (created on first registration).
            model: The model object; its flavor is picked by ``flavor_for`` unless given.
            input_example: A few input rows (frame, dict or list of dicts); used to infer the
                signature, check the ONNX twin and compute feature importance.
            run: The producing run's id: fills lineage (datasets, code version) and, when
                ``metrics`` is None, the run's latest metrics.
            description: Intended use, shown in the model card.
            trusted: Allow the pickle flavor (loading it runs code from the file).
            metrics: Metric values (default: the run's latest metrics, else none).
            params: Training parameters (default: the run's params, else none).
            tags: Free-form labels.
            flavor: A flavor name to force.
            signature: A signature (or its dict) instead of the inferred one.
            lineage: Lineage to record when there is no run (merged over the run's).
            explain: Compute feature importance when an ``importance_fn`` is configured.
            onnx: Store an ONNX twin when the flavor converts, with its parity check.

        Returns:
            The new version.

        Raises:
            InvalidNameError: bad model name.
            RegistrationError: unknown run, bad example or signature, pickle without trust.
            UnsupportedModelError, UntrustedModelError: no safe flavor for the model.
        """
        validate_name(name, kind="model name")
        prepared = prepare_model(
            self.artifacts,
            model,
            flavor=flavor,
            trusted=trusted,
            input_example=input_example,
            signature=signature,
            onnx=onnx,
            importance_fn=self.importance_fn if explain else None,
        )
        return self.record(
            name,
            prepared,
            run=run,
            description=description,
            trusted=trusted,
            metrics=metrics,
            params=params,
            tags=tags,
            lineage=lineage,
        )

    def record(
        self,
        name: str,
        prepared: PreparedModel,
        *,
        run: str | None = None,
        description: str | None = None,
        trusted: bool = False,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        lineage: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Record an already stored model (see :func:`prepare_model`) as the next version.

        The version number is ``max + 1`` inside one audited transaction
        (``model.register``), retried on a conflict, so numbers stay contiguous under
        concurrent registrations from any number of processes.
        """
        validate_name(name, kind="model name")

        def body(tx: WriteTx) -> ModelVersion:
            return self._insert(
                tx,
                name,
                prepared,
                run=run,
                description=description,
                trusted=trusted,
                metrics=metrics,
                params=params,
                tags=tags,
                lineage=lineage,
            )

        return self.store.transact(self.actor, "model.register", f"model:{name}", body)

    def _insert(
        self,
        tx: WriteTx,
        name: str,
        prepared: PreparedModel,
        *,
        run: str | None,
        description: str | None,
        trusted: bool,
        metrics: Mapping[str, float] | None,
        params: Mapping[str, Any] | None,
        tags: Mapping[str, Any] | None,
        lineage: Mapping[str, Any] | None,
    ) -> ModelVersion:
        session = tx.session
        now = utcnow()
        recorded: dict[str, Any] = {"run_id": None, "code_version": None, "datasets": []}
        run_metrics: dict[str, float] = {}
        run_params: dict[str, Any] = {}
        if run is not None:
            recorded, run_metrics = run_lineage(session, run)
            run_params = dict(_run_params(session, run))
        recorded.update(lineage or {})
        model = find_model(session, name)
        if model is None:
            model = ModelRow(
                name=name, description=description, created_at=now, created_by=self.actor.name
            )
            session.add(model)
            session.flush()
        latest = session.scalar(
            select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model.id)
        )
        number = (latest or 0) + 1
        row = ModelVersionRow(
            model_id=model.id,
            version=number,
            flavor=prepared.flavor,
            content_hash=prepared.content_hash,
            signature=prepared.signature,
            input_example=prepared.input_example,
            metrics=_finite(metrics if metrics is not None else run_metrics),
            params=dict(params if params is not None else run_params),
            tags=dict(tags or {}),
            description=description,
            run_id=run,
            lineage=recorded,
            onnx=prepared.onnx,
            importance=prepared.importance,
            trusted=trusted,
            status="ready",
            created_at=now,
            created_by=self.actor.name,
        )
        session.add(row)
        owner = owner_of(name, number)
        for digest in sorted(prepared.object_hashes):
            session.add(ArtifactRefRow(hash=digest, owner=owner))
        session.flush()
        tx.target = owner
        tx.details.update(
            version=number,
            content_hash=prepared.content_hash,
            flavor=prepared.flavor,
            run_id=run,
            trusted=trusted,
        )
        return ModelVersion.from_row(name, row)

    # -- reading -------------------------------------------------------------------------

    def get(self, ref: str | ModelRef) -> ModelVersion:
        """Resolve ``"churn@3"``, ``"churn@champion"`` or ``"churn"`` (latest ready version).

        Raises:
            InvalidNameError: the reference is malformed.
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: with what
                exists in the message.
        """
        parsed = parse_model_ref(ref)
        with self.store.read() as session:
            model = require_model(session, parsed.name)
            row = resolve_row(session, model, parsed)
            aliases = alias_map(session, model.id)
            return _version(parsed.name, row, aliases)

    def list(self) -> builtins.list[ModelSummary]:
        """Every model with its latest ready version, version count and aliases, by name."""
        out: builtins.list[ModelSummary] = []
        with self.store.read() as session:
            for model in session.scalars(select(ModelRow).order_by(ModelRow.name)):
                rows = builtins.list(
                    session.scalars(
                        select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
                    )
                )
                ready = [r.version for r in rows if r.status == "ready"]
                out.append(
                    ModelSummary(
                        name=model.name,
                        description=model.description,
                        latest_version=max(ready) if ready else None,
                        versions=len(rows),
                        aliases=alias_map(session, model.id),
                        updated_at=max((r.created_at for r in rows), default=model.created_at),
                    )
                )
        return out

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of ``name`` (archived included), newest first."""
        with self.store.read() as session:
            model = require_model(session, name)
            aliases = alias_map(session, model.id)
            rows = session.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_id == model.id)
                .order_by(ModelVersionRow.version.desc())
            )
            return [_version(name, row, aliases) for row in rows]

    # -- aliases, archive, history -------------------------------------------------------

    def set_alias(self, name: str, version: int, alias: str, *, reason: str | None = None) -> None:
        """Point ``alias`` at ``version`` (set or move it) in one audited transaction.

        Setting an alias to where it already points changes nothing and records nothing.

        Raises:
            ModelNotFoundError, ModelVersionNotFoundError: unknown model or version.
            ModelStateError: the version is archived.
            InvalidNameError: the alias is all digits, ``latest`` or not a valid name.
        """
        self.set_aliases(name, version, [alias], reason=reason)

    def set_aliases(
        self, name: str, version: int, aliases: Sequence[str], *, reason: str | None = None
    ) -> builtins.list[str]:
        """Point every alias of ``aliases`` at ``version`` in one audited transaction.

        Used where several aliases must move together, e.g. an environment's own alias
        (``production``) and ``champion``, which follows that environment: either all
        move or none does. Aliases already pointing at ``version`` are left alone.

        Returns:
            The aliases that moved (empty: nothing changed and nothing was recorded).

        Raises:
            ModelNotFoundError, ModelVersionNotFoundError: unknown model or version.
            ModelStateError: the version is archived.
            InvalidNameError: an alias is all digits, ``latest`` or not a valid name.
        """
        wanted = builtins.list(dict.fromkeys(validate_alias(alias) for alias in aliases))
        if not wanted:
            return []

        def body(tx: WriteTx) -> builtins.list[str]:
            return point_aliases(tx, self.actor.name, name, version, wanted, reason=reason)

        try:
            return self.store.transact(self.actor, "model.alias.set", f"model:{name}", body)
        except NoChange:
            return []

    def remove_alias(self, name: str, alias: str, *, reason: str | None = None) -> None:
        """Delete ``alias`` of ``name`` (audited, kept in history).

        Raises:
            ModelNotFoundError, AliasNotFoundError: unknown model or alias.
        """
        validate_alias(alias)

        def body(tx: WriteTx) -> None:
            drop_alias(tx, self.actor.name, name, alias, reason=reason)

        self.store.transact(self.actor, "model.alias.remove", f"model:{name}", body)

    def archive(self, name: str, version: int, *, reason: str | None = None) -> None:
        """Mark a version archived: it stays loadable by number but is never ``latest``.

        Raises:
            ModelStateError: an alias still points at the version (move it first).
        """

        def body(tx: WriteTx) -> None:
            session = tx.session
            model = require_model(session, name)
            row = resolve_row(session, model, ModelRef(name, version=version))
            pointing = sorted(a for a, v in alias_map(session, model.id).items() if v == version)
            if pointing:
                raise ModelStateError(
                    f"Cannot archive {name}@{version}: alias(es) {', '.join(pointing)} point "
                    "at it.",
                    hint=f"Move them first: `conveyor models alias {name}@<version> "
                    f"{pointing[0]}`.",
                    name=name,
                    version=version,
                    aliases=pointing,
                )
            row.status = "archived"
            tx.target = owner_of(name, version)
            tx.details.update(version=version, reason=reason)

        self.store.transact(self.actor, "model.archive", f"model:{name}@{version}", body)

    def history(self, name: str) -> builtins.list[HistoryEntry]:
        """Registrations, archives and alias changes of ``name``, oldest first."""
        return model_history(self.store, name)

    # -- loading and cards ---------------------------------------------------------------

    def manifest(self, ref: str | ModelRef | ModelVersion) -> dict[str, Any]:
        """The verified manifest of a version (flavor, files with hashes, ONNX twin)."""
        version = ref if isinstance(ref, ModelVersion) else self.get(ref)
        return read_manifest(self.artifacts, version)

    def load(self, ref: str | ModelRef, *, prefer_onnx: bool = False) -> LoadedModel:
        """Load a version for prediction after verifying every file against its hash.

        Args:
            ref: A model reference.
            prefer_onnx: Load the ONNX twin when one exists and passed its parity check.

        Raises:
            IntegrityError: a stored file does not match its recorded hash (named).
            ModelStateError: a pickle version that was not registered as trusted.
        """
        return load_version(self.artifacts, self.get(ref), prefer_onnx=prefer_onnx)

    def card(self, ref: str | ModelRef) -> ModelCard:
        """The model card of a version (Markdown and self-contained HTML)."""
        from conveyor.registry._card import render_card

        version = self.get(ref)
        with self.store.read() as session:
            datasets = dataset_profiles(session, list(version.lineage.get("datasets") or []))
            others = version_numbers(session, require_model(session, version.name).id)
        return render_card(version, datasets, others)


def _version(name: str, row: ModelVersionRow, aliases: Mapping[str, int]) -> ModelVersion:
    mine = tuple(a for a, v in aliases.items() if v == row.version)
    return ModelVersion.from_row(name, row, mine)


def _run_params(session: Session, run_id: str) -> Mapping[str, Any]:
    from conveyor.store import RunRow

    run = session.get(RunRow, run_id)
    return {} if run is None else (run.params or {})


def _finite(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    # JSON has no NaN: PostgreSQL would refuse it, so a non-finite value is stored as null.
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        number = float(value)
        out[str(key)] = number if math.isfinite(number) else None
    return out
