"""The model registry: register, look up, alias, archive and load model versions.

Registering (saving a model and recording a version with its lineage) is in
:mod:`conveyor.registry._model_registration`, whose :class:`ModelRegistration`
:class:`ModelRegistry` inherits; this module holds the rest of the facade.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, validate_name
from conveyor.errors import ConveyorError
from conveyor.registry._base import BaseModelRecords, LineageSource
from conveyor.registry._lineage import dataset_profiles
from conveyor.registry._loading import load_version, read_manifest
from conveyor.registry._model_registration import ModelRegistration
from conveyor.registry._models import (
    HistoryEntry,
    LoadedModel,
    ModelCard,
    ModelSummary,
    ModelVersion,
)
from conveyor.registry._prepare import ImportanceFn
from conveyor.registry._refs import ModelRef, parse_model_ref, validate_alias
from conveyor.registry._sealing import Sealer
from conveyor.registry._signing import (
    NewSignature,
    Signature,
    SignatureCheck,
    check,
    manifest_objects,
    public_key_text,
    sign,
    statement,
    statement_hash,
)
from conveyor.registry._sql import SqlModelRecords
from conveyor.store import MetadataStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class ModelRegistry(ModelRegistration):
    """Named models with contiguous versions, aliases, lineage and model cards.

    Every change is one audited write of its records backend (by default the metadata
    store); model files live in the artifact store under one manifest object per version
    (``content_hash``) and are verified against their hashes whenever a version is loaded.
    With encryption at rest, a version's input example and description are sealed in the
    records and opened on every read.

    Args:
        store: The metadata store (``None`` when ``records`` are given).
        artifacts: The artifact store.
        actor: Who makes the changes (recorded and audited).
        root: The workspace root.
        importance_fn: Computes global feature importance at registration
            (``fn(predictor, frame) -> {feature: value}``); ``None`` skips it.
        records: Where models, versions and aliases are kept (default
            :class:`SqlModelRecords` over ``store``).
        lineage: Where runs and dataset versions are looked up for ``run=`` and
            ``training_data=`` (the workspace wires one in); without it, registering with
            either is refused and cards show no dataset profiles.

    Raises:
        TypeError: Neither ``store`` nor ``records`` is given.
    """

    def __init__(
        self,
        store: MetadataStore | None,
        artifacts: ArtifactStore,
        *,
        actor: Actor,
        root: Path,
        importance_fn: ImportanceFn | None = None,
        records: BaseModelRecords | None = None,
        lineage: LineageSource | None = None,
    ) -> None:
        if records is None:
            if store is None:
                raise TypeError("ModelRegistry needs a metadata store or records=; got neither.")
            records = SqlModelRecords(store)
        self.store = store
        self.artifacts = artifacts
        self.actor = actor
        self.root = Path(root)
        self.importance_fn = importance_fn
        self.records: BaseModelRecords = records
        self.lineage = lineage
        self._sealer = Sealer(artifacts)

    def __repr__(self) -> str:
        where = self.records if self.store is None else self.store.url
        return f"ModelRegistry({where!r})"

    # -- reading -------------------------------------------------------------------------

    def get(self, ref: str | ModelRef) -> ModelVersion:
        """Resolve ``"churn@3"``, ``"churn@champion"`` or ``"churn"`` (latest ready version).

        Raises:
            InvalidNameError: the reference is malformed.
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: with what
                exists in the message.
        """
        return self._sealer.open_version(self.records.get_version(parse_model_ref(ref)))

    def list(self, *, offset: int = 0, limit: int | None = None) -> builtins.list[ModelSummary]:
        """Every model with its latest ready version, version count and aliases, by name.

        Args:
            offset: Models to skip, by name: the next page starts at ``offset + limit``.
            limit: At most this many models (``None``: all of them).

        Returns:
            The models' summaries, sorted by name.
        """
        summaries = self.records.list_models(offset=max(offset, 0), limit=limit)
        return [self._sealer.open_summary(s) for s in summaries]

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of ``name`` (archived included), newest first."""
        return [self._sealer.open_version(v) for v in self.records.list_versions(name)]

    def versions_page(
        self, name: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[int, builtins.list[ModelVersion]]:
        """How many versions ``name`` has, and ``limit`` of them from ``offset``, newest
        first (one page of :meth:`versions`, read without loading the others)."""
        total, page = self.records.versions_page(name, offset=offset, limit=limit)
        return total, [self._sealer.open_version(v) for v in page]

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
        return self.records.set_aliases(self.actor, name, version, wanted, reason=reason)

    def remove_alias(self, name: str, alias: str, *, reason: str | None = None) -> None:
        """Delete ``alias`` of ``name`` (audited, kept in history).

        Raises:
            ModelNotFoundError, AliasNotFoundError: unknown model or alias.
        """
        validate_alias(alias)
        self.records.remove_alias(self.actor, name, alias, reason=reason)

    def archive(self, name: str, version: int, *, reason: str | None = None) -> None:
        """Mark a version archived: it stays loadable by number but is never ``latest``.

        Raises:
            ModelStateError: an alias still points at the version (move it first).
        """
        self.records.archive(self.actor, name, version, reason=reason)

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
        version = self.records.record_decision(
            self.actor,
            parse_model_ref(ref),
            verdict=verdict,
            reasons=reasons,
            champion=champion,
            details=dict(details or {}),
            metrics=dict(metrics or {}),
        )
        return self._sealer.open_version(version)

    def history(self, name: str, *, limit: int | None = None) -> builtins.list[HistoryEntry]:
        """Registrations, archives and alias changes of ``name``, oldest first.

        Args:
            name: The model.
            limit: Only the newest ``limit`` entries, still oldest first (``None``: all).

        Returns:
            The entries, oldest first.

        Raises:
            ModelNotFoundError: no model named ``name``.
        """
        return self.records.history(name, limit=limit)

    def alias_history(self, name: str) -> builtins.list[HistoryEntry]:
        """The alias changes of ``name`` (set, moved, removed), oldest first."""
        return self.records.alias_history(name)

    # -- signatures ----------------------------------------------------------------------

    def sign(self, ref: str | ModelRef, key: Ed25519PrivateKey, *, key_name: str) -> Signature:
        """Sign a version with an ed25519 key and record the signature (audited ``model.sign``).

        The signature covers the version's statement: model name, version, manifest
        content hash, the sorted content hashes of every object the manifest references,
        and ``key_name``. The manifest is verified against its hash first, so a damaged
        version is never signed. A version may be signed several times, by several keys.

        Args:
            ref: The version (``churn@4``, ``churn@champion``).
            key: The private key (see :func:`conveyor.registry.load_private_key`).
            key_name: The name the public key is configured under in
                ``signing.public_keys``.

        Returns:
            The recorded signature.

        Raises:
            InvalidNameError: ``key_name`` is not a valid name.
            IntegrityError: the version's manifest is missing or does not match its hash.
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.

        Example:
            >>> key = load_private_key(Path("release.key"))  # doctest: +SKIP
            >>> ws.models.sign("churn@4", key, key_name="release").key_name  # doctest: +SKIP
            'release'
        """
        validate_name(key_name, kind="signing key name")
        version = self.get(ref)
        objects = manifest_objects(version.content_hash, self.manifest(version))
        data = statement(version.name, version.version, version.content_hash, objects, key_name)
        new = NewSignature(
            key_name=key_name,
            public_key=public_key_text(key),
            signature=sign(key, data),
            statement_hash=statement_hash(data),
        )
        exact = ModelRef(version.name, version=version.version)
        return self.records.add_signature(self.actor, exact, new)

    def signatures(self, ref: str | ModelRef) -> builtins.list[Signature]:
        """The recorded signatures of a version, oldest first (not checked)."""
        return self.records.signatures(parse_model_ref(ref))

    def verify_signatures(
        self, ref: str | ModelRef, public_keys: Mapping[str, str]
    ) -> SignatureCheck:
        """Check every signature of a version against its current statement.

        A signature is valid when it verifies, with the public key recorded beside it,
        over the statement the version has now: one whose version changed since (a content
        hash altered in the records, a manifest that no longer reads) is invalid and says
        so. It is *trusted* when, in addition, ``public_keys`` holds its key name with that
        same public key.

        Args:
            ref: The version.
            public_keys: Configured keys, name -> base64 ed25519 public key
                (``settings.config.signing.public_keys``).

        Returns:
            One result per signature; ``trusted_keys`` names the configured keys that
            signed it validly.

        Raises:
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.

        Example:
            >>> keys = ws.settings.config.signing.public_keys  # doctest: +SKIP
            >>> ws.models.verify_signatures("churn@4", keys).trusted_keys  # doctest: +SKIP
            ['release']
        """
        version = self.get(ref)
        exact = ModelRef(version.name, version=version.version)
        recorded = self.records.signatures(exact)
        if not recorded:
            return SignatureCheck(version.ref, ())
        try:
            objects = manifest_objects(version.content_hash, self.manifest(version))
        except ConveyorError:
            objects = []  # the statement cannot match: every signature reads as invalid
        current = {
            sig.key_name: statement(
                version.name, version.version, version.content_hash, objects, sig.key_name
            )
            for sig in recorded
        }
        return check(recorded, current, public_keys, version.ref)

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

    def card(
        self, ref: str | ModelRef, *, public_keys: Mapping[str, str] | None = None
    ) -> ModelCard:
        """The model card of a version (Markdown and self-contained HTML).

        Args:
            ref: The version.
            public_keys: Configured signing keys; the card lists each signature with its
                key and whether it is valid (and configured).
        """
        from conveyor.registry._card import render_card

        version = self.get(ref)
        # The lineage source opens profile values sealed in an encrypted workspace.
        datasets = dataset_profiles(self.lineage, list(version.lineage.get("datasets") or []))
        others = sorted(v.version for v in self.records.list_versions(version.name))
        signed = self.verify_signatures(version.ref, public_keys or {})
        return render_card(version, datasets, others, signed)
