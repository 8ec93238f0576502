"""The model registry: register, look up, alias, archive and load model versions."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conveyor.artifacts import ArtifactStore, unseal_profile
from conveyor.core import Actor, validate_name
from conveyor.registry._aliases import NoChange, drop_alias, point_aliases
from conveyor.registry._errors import ModelStateError
from conveyor.registry._evaluation import (
    KEY_FIELD,
    ExistingVersion,
    check_key,
    keyed_version,
    with_decision,
)
from conveyor.registry._history import model_history
from conveyor.registry._insert import finite, insert_version
from conveyor.registry._lineage import (
    dataset_profiles,
    dataset_refs,
)
from conveyor.registry._loading import load_version, read_manifest
from conveyor.registry._models import (
    EVALUATION_KEY,
    HistoryEntry,
    LoadedModel,
    ModelCard,
    ModelSummary,
    ModelVersion,
)
from conveyor.registry._prepare import ImportanceFn, PreparedModel, prepare_model
from conveyor.registry._records import (
    alias_map,
    owner_of,
    require_model,
    resolve_row,
    version_numbers,
)
from conveyor.registry._refs import ModelRef, parse_model_ref, validate_alias
from conveyor.store import (
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
        training_data: str | Sequence[str] | None = None,
        evaluation: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
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
            training_data: The dataset version(s) the model was trained on (``"orders@3"``,
                ``"orders@latest"``), recorded as lineage so that a model registered
                outside a pipeline can be monitored against its training profile.
            evaluation: How the model was evaluated (see :attr:`ModelVersion.evaluation`).
            idempotency_key: Makes a retried registration safe: when a version of ``name``
                was already registered with this key, that version is returned and nothing
                is saved or recorded.

        Returns:
            The new version (or, with ``idempotency_key``, the one registered before).

        Raises:
            InvalidNameError: bad model name.
            RegistrationError: unknown run or dataset version, bad example or signature,
                pickle without trust.
            UnsupportedModelError, UntrustedModelError: no safe flavor for the model.

        Example:
            >>> v = ws.models.register("churn", model, input_example=X.head(5),  # doctest: +SKIP
            ...                        training_data="orders@3", idempotency_key="build-81")
        """
        validate_name(name, kind="model name")
        dataset_refs(training_data)  # a malformed ref is refused before anything is saved
        key = check_key(idempotency_key)
        if key is not None:
            with self.store.read() as session:
                existing = keyed_version(session, name, key)
            if existing is not None:
                return existing
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
            training_data=training_data,
            evaluation=evaluation,
            idempotency_key=idempotency_key,
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
        training_data: str | Sequence[str] | None = None,
        evaluation: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ModelVersion:
        """Record an already stored model (see :func:`prepare_model`) as the next version.

        The version number is ``max + 1`` inside one audited transaction
        (``model.register``), retried on a conflict, so numbers stay contiguous under
        concurrent registrations from any number of processes. The keyword arguments are
        those of :meth:`register`.
        """
        validate_name(name, kind="model name")
        refs = dataset_refs(training_data)
        key = check_key(idempotency_key)

        def body(tx: WriteTx) -> ModelVersion:
            if key is not None:
                existing = keyed_version(tx.session, name, key)
                if existing is not None:
                    raise ExistingVersion(existing)
            return insert_version(
                tx,
                self.actor.name,
                name,
                prepared,
                run=run,
                description=description,
                trusted=trusted,
                metrics=metrics,
                params=params,
                tags=tags,
                lineage={
                    **dict(lineage or {}),
                    **({KEY_FIELD: key} if key is not None else {}),
                    **({EVALUATION_KEY: dict(evaluation)} if evaluation else {}),
                },
                training_data=refs,
            )

        try:
            return self.store.transact(self.actor, "model.register", f"model:{name}", body)
        except ExistingVersion as found:
            return found.version

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

    def record_decision(
        self,
        ref: str | ModelRef,
        *,
        verdict: str,
        reasons: Sequence[str] = (),
        champion: str | None = None,
        details: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> ModelVersion:
        """Record the gate decision taken on a version, with the version (audited).

        ``conveyor ci`` calls this after gating, so the card and ``models show`` say what
        was decided and why. A later decision replaces the recorded one; the audit log
        keeps every one (``model.evaluate``).

        Args:
            ref: The version (``churn@4``).
            verdict: ``PROMOTE``, ``HOLD`` or ``REJECT``.
            reasons: Why, one line each.
            champion: The version it was compared with (``None``: absolute checks only).
            details: More evaluation facts to keep (merged into ``evaluation``).
            metrics: Metrics the gate measured on the holdout; each is added to the
                version's metrics (its source: ``holdout``) only where the pipeline logged
                no value of that name, so a logged metric is never replaced.

        Returns:
            The version with its updated ``evaluation``.

        Raises:
            RegistrationError: unknown verdict.
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.
        """
        parsed = parse_model_ref(ref)

        def body(tx: WriteTx) -> ModelVersion:
            session = tx.session
            model = require_model(session, parsed.name)
            row = resolve_row(session, model, parsed)
            added = {
                str(k): float(v) for k, v in (metrics or {}).items() if str(k) not in row.metrics
            }
            if added:
                row.metrics = {**row.metrics, **finite(added)}
            row.lineage = with_decision(
                row.lineage,
                verdict=verdict,
                reasons=reasons,
                champion=champion,
                extra=dict(details or {}),
                measured=sorted(added),
            )
            tx.target = owner_of(parsed.name, row.version)
            tx.details.update(version=row.version, verdict=verdict, champion=champion)
            return _version(parsed.name, row, alias_map(session, model.id))

        return self.store.transact(self.actor, "model.evaluate", f"model:{parsed.name}", body)

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
        for entry in datasets:  # profile values are sealed in an encrypted workspace
            owner = f"dataset:{entry.get('name')}@{entry.get('version')}"
            entry["profile"] = unseal_profile(entry["profile"], self.artifacts.field_cipher, owner)
        return render_card(version, datasets, others)


def _version(name: str, row: ModelVersionRow, aliases: Mapping[str, int]) -> ModelVersion:
    mine = tuple(a for a, v in aliases.items() if v == row.version)
    return ModelVersion.from_row(name, row, mine)
