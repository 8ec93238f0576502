"""Registering model versions: saving a model and recording it with its lineage.

:class:`ModelRegistration` holds :meth:`~ModelRegistration.register` and
:meth:`~ModelRegistration.record` of :class:`conveyor.registry.ModelRegistry`, which
inherits them: preparing the model's files (flavor, signature, ONNX twin, importance),
assembling the lineage a version records (run, code version, datasets, environment,
evaluation) and writing the version in one audited transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, validate_name
from conveyor.registry._base import BaseModelRecords, LineageSource, NewVersion
from conveyor.registry._environment import ENVIRONMENT_KEY
from conveyor.registry._evaluation import check_key, finite
from conveyor.registry._lineage import dataset_refs, require_source, run_lineage, training_datasets
from conveyor.registry._models import EVALUATION_KEY, ModelVersion
from conveyor.registry._personal import mark_pii, redact_example
from conveyor.registry._prepare import ImportanceFn, PreparedModel, prepare_model
from conveyor.registry._sealing import Sealer


class ModelRegistration:
    """The registering part of :class:`~conveyor.registry.ModelRegistry`.

    A mixin: the registry's constructor sets the attributes below (see its arguments).
    """

    artifacts: ArtifactStore
    actor: Actor
    importance_fn: ImportanceFn | None
    records: BaseModelRecords
    lineage: LineageSource | None
    _sealer: Sealer

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
        pii: Sequence[str] = (),
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
            pii: Input columns holding personal data, flagged ``"pii": true`` in the
                signature: their values are blanked in the stored input example, and the
                prediction server hashes or drops them in the prediction log (see
                ``predictions.pii``) and monitoring leaves them out.

        Returns:
            The new version (or, with ``idempotency_key``, the one registered before).

        Raises:
            InvalidNameError: bad model name.
            RegistrationError: unknown run or dataset version, ``run``/``training_data``
                without a lineage source, bad example or signature, pickle without trust,
                a ``pii`` column that is not an input of the signature.
            UnsupportedModelError, UntrustedModelError: no safe flavor for the model.

        Example:
            >>> v = ws.models.register("churn", model, input_example=X.head(5),  # doctest: +SKIP
            ...                        training_data="orders@3", idempotency_key="build-81")
        """
        validate_name(name, kind="model name")
        # A malformed ref, or lineage nobody can look up, is refused before anything is saved.
        require_source(self.lineage, run=run, training_data=dataset_refs(training_data))
        key = check_key(idempotency_key)
        if key is not None:
            existing = self.records.find_keyed(name, key)
            if existing is not None:
                return self._sealer.open_version(existing)
        if pii:
            signature = mark_pii(model, input_example, signature, pii)
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

        The version number is ``max + 1`` inside one audited write (``model.register``),
        so numbers stay contiguous under concurrent registrations from any number of
        processes. The keyword arguments are those of :meth:`register`. Values of the
        signature's personal-data columns never reach the records: the input example is
        stored with them blanked.
        """
        validate_name(name, kind="model name")
        refs = dataset_refs(training_data)
        key = check_key(idempotency_key)
        if key is not None:
            existing = self.records.find_keyed(name, key)
            if existing is not None:
                return self._sealer.open_version(existing)
        source = require_source(self.lineage, run=run, training_data=refs)
        recorded: dict[str, Any] = {"run_id": None, "code_version": None, "datasets": []}
        run_metrics: dict[str, float] = {}
        run_params: dict[str, Any] = {}
        if run is not None:
            assert source is not None  # require_source refused a run without a source
            found = run_lineage(source, run)
            recorded = {
                "run_id": found.run_id,
                "code_version": found.code_version,
                "datasets": [dict(d) for d in found.datasets],
            }
            run_metrics, run_params = found.metrics, found.params
        if prepared.environment is not None:
            recorded[ENVIRONMENT_KEY] = prepared.environment
        recorded.update(lineage or {})
        evaluated = dict(recorded.pop(EVALUATION_KEY, None) or {})
        if evaluation:
            evaluated = dict(evaluation)
        if prepared.importance_reason:
            evaluated["importance_reason"] = prepared.importance_reason
        if refs:
            assert source is not None
            named = {d["name"]: d for d in recorded.get("datasets") or []}
            named.update({d["name"]: d for d in training_datasets(source, refs)})
            recorded["datasets"] = [named[k] for k in sorted(named)]
        example, stored_description, model_description = self._sealer.seal_fields(
            name,
            prepared.content_hash,
            redact_example(prepared.input_example, prepared.signature),
            description,
        )
        new = NewVersion(
            flavor=prepared.flavor,
            content_hash=prepared.content_hash,
            object_hashes=prepared.object_hashes,
            signature=prepared.signature,
            input_example=example,
            metrics=finite(metrics if metrics is not None else run_metrics),
            params=dict(params if params is not None else run_params),
            tags=dict(tags or {}),
            description=stored_description,
            run_id=run,
            lineage=recorded,
            evaluation=evaluated,
            onnx=prepared.onnx,
            importance=prepared.importance,
            trusted=trusted,
            idempotency_key=key,
        )
        version = self.records.insert_version(
            self.actor, name, new, model_description=model_description
        )
        return self._sealer.open_version(version)


__all__ = ["ModelRegistration"]
