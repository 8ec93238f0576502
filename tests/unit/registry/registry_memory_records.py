"""An in-memory :class:`BaseModelRecords`: the fake the registry's unit tests run on."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from conveyor.core import Actor, utcnow
from conveyor.registry import (
    BaseModelRecords,
    HistoryEntry,
    ModelRef,
    ModelSummary,
    ModelVersion,
    NewSignature,
    NewVersion,
    Signature,
)
from conveyor.registry._errors import (
    archived_target,
    no_alias,
    no_model,
    no_ready_version,
    no_version,
    still_aliased,
)
from conveyor.registry._evaluation import KEY_FIELD, finite, with_decision
from conveyor.registry._models import EVALUATION_KEY
from conveyor.store import AuditEvent


@dataclass
class _Model:
    description: str | None
    created_at: datetime
    versions: list[ModelVersion] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    signatures: dict[int, list[Signature]] = field(default_factory=dict)


class MemoryModelRecords(BaseModelRecords):
    """Models in a dict, references in a set, audit events in a list; one lock for all."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._models: dict[str, _Model] = {}
        self.references: set[tuple[str, str]] = set()
        self.events: list[AuditEvent] = []

    # -- helpers -------------------------------------------------------------------------

    def _audit(self, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
        seq = len(self.events) + 1
        self.events.append(
            AuditEvent(seq, utcnow(), actor.name, action, target, details, "0" * 64, "0" * 64)
        )

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise no_model(name, sorted(self._models)[:11])
        return model

    def _with_aliases(self, model: _Model, version: ModelVersion) -> ModelVersion:
        mine = tuple(sorted(a for a, v in model.aliases.items() if v == version.version))
        return replace(version, aliases=mine)

    def _index(self, name: str, model: _Model, ref: ModelRef) -> int:
        numbers = [v.version for v in model.versions]
        if ref.alias is not None:
            if ref.alias not in model.aliases:
                raise no_alias(name, ref.alias, dict(sorted(model.aliases.items())))
            number = model.aliases[ref.alias]
        elif ref.version is not None:
            number = ref.version
        else:
            ready = [v.version for v in model.versions if v.status == "ready"]
            if not ready:
                raise no_ready_version(name, numbers)
            number = ready[-1]
        if number not in numbers:
            raise no_version(name, number, numbers)
        return numbers.index(number)

    # -- writes --------------------------------------------------------------------------

    def insert_version(
        self, actor: Actor, name: str, new: NewVersion, *, model_description: str | None
    ) -> ModelVersion:
        with self._lock:
            if new.idempotency_key is not None:
                found = self.find_keyed(name, new.idempotency_key)
                if found is not None:
                    return found
            now = utcnow()
            model = self._models.setdefault(name, _Model(model_description, now))
            lineage = dict(new.lineage)
            if new.idempotency_key is not None:
                lineage[KEY_FIELD] = new.idempotency_key
            number = len(model.versions) + 1
            version = ModelVersion(
                name=name,
                version=number,
                flavor=new.flavor,
                content_hash=new.content_hash,
                signature=new.signature,
                input_example=new.input_example,
                metrics=dict(new.metrics),
                params=dict(new.params),
                tags=dict(new.tags),
                description=new.description,
                run_id=new.run_id,
                lineage=lineage,
                onnx=new.onnx,
                importance=new.importance,
                trusted=new.trusted,
                status="ready",
                created_at=now,
                created_by=actor.name,
                evaluation=dict(new.evaluation),
            )
            model.versions.append(version)
            model.history.append(HistoryEntry("registered", now, actor.name, number))
            owner = f"model:{name}@{number}"
            self.references.update((digest, owner) for digest in new.object_hashes)
            details = {
                "version": number,
                "content_hash": new.content_hash,
                "flavor": new.flavor,
                "run_id": new.run_id,
                "trusted": new.trusted,
            }
            self._audit(actor, "model.register", owner, details)
            return version

    def set_aliases(
        self,
        actor: Actor,
        name: str,
        version: int,
        aliases: Sequence[str],
        *,
        reason: str | None,
    ) -> list[str]:
        with self._lock:
            if not aliases:
                return []
            model = self._model(name)
            target = model.versions[self._index(name, model, ModelRef(name, version=version))]
            if target.status != "ready":
                raise archived_target(name, version, aliases[0])
            before = {a: model.aliases.get(a) for a in aliases if model.aliases.get(a) != version}
            if not before:
                return []
            now = utcnow()
            for alias, previous in before.items():
                model.aliases[alias] = version
                kind = "alias.set" if previous is None else "alias.moved"
                entry = HistoryEntry(kind, now, actor.name, version, alias, previous, reason)
                model.history.append(entry)
            alias_names = list(before)
            details: dict[str, Any] = {
                "alias": alias_names if len(before) > 1 else alias_names[0],
                "from_version": before if len(before) > 1 else before[alias_names[0]],
                "to_version": version,
                "reason": reason,
            }
            self._audit(actor, "model.alias.set", f"model:{name}", details)
            return alias_names

    def remove_alias(self, actor: Actor, name: str, alias: str, *, reason: str | None) -> None:
        with self._lock:
            model = self._model(name)
            self._index(name, model, ModelRef(name, alias=alias))
            previous = model.aliases.pop(alias)
            model.history.append(
                HistoryEntry("alias.removed", utcnow(), actor.name, None, alias, previous, reason)
            )
            details = {"alias": alias, "from_version": previous, "to_version": None}
            self._audit(actor, "model.alias.remove", f"model:{name}", {**details, "reason": reason})

    def archive(self, actor: Actor, name: str, version: int, *, reason: str | None) -> None:
        with self._lock:
            model = self._model(name)
            index = self._index(name, model, ModelRef(name, version=version))
            pointing = sorted(a for a, v in model.aliases.items() if v == version)
            if pointing:
                raise still_aliased(name, version, pointing)
            model.versions[index] = replace(model.versions[index], status="archived")
            now = utcnow()
            model.history.append(HistoryEntry("archived", now, actor.name, version, reason=reason))
            target = f"model:{name}@{version}"
            self._audit(actor, "model.archive", target, {"version": version, "reason": reason})

    def record_decision(
        self,
        actor: Actor,
        ref: ModelRef,
        *,
        verdict: str,
        reasons: Sequence[str],
        champion: str | None,
        details: Mapping[str, Any],
        metrics: Mapping[str, float],
    ) -> ModelVersion:
        with self._lock:
            model = self._model(ref.name)
            index = self._index(ref.name, model, ref)
            current = model.versions[index]
            added = {str(k): float(v) for k, v in metrics.items() if str(k) not in current.metrics}
            lineage = with_decision(
                {EVALUATION_KEY: current.evaluation},
                verdict=verdict,
                reasons=reasons,
                champion=champion,
                extra=dict(details),
                measured=sorted(added),
            )
            updated = replace(
                current,
                metrics={**current.metrics, **finite(added)},
                evaluation=lineage[EVALUATION_KEY],
            )
            model.versions[index] = updated
            audit = {"version": updated.version, "verdict": verdict, "champion": champion}
            self._audit(actor, "model.evaluate", f"model:{ref.name}@{updated.version}", audit)
            return self._with_aliases(model, updated)

    def add_signature(self, actor: Actor, ref: ModelRef, signature: NewSignature) -> Signature:
        with self._lock:
            model = self._model(ref.name)
            number = model.versions[self._index(ref.name, model, ref)].version
            made = Signature(
                ref.name,
                number,
                signature.key_name,
                signature.public_key,
                signature.signature,
                signature.statement_hash,
                utcnow(),
                actor.name,
            )
            model.signatures.setdefault(number, []).append(made)
            details = {
                "version": number,
                "key_name": signature.key_name,
                "public_key": signature.public_key,
                "statement_hash": signature.statement_hash,
            }
            self._audit(actor, "model.sign", f"model:{ref.name}@{number}", details)
            return made

    # -- reads ---------------------------------------------------------------------------

    def signatures(self, ref: ModelRef) -> list[Signature]:
        with self._lock:
            model = self._model(ref.name)
            number = model.versions[self._index(ref.name, model, ref)].version
            return list(model.signatures.get(number, []))

    def get_version(self, ref: ModelRef) -> ModelVersion:
        with self._lock:
            model = self._model(ref.name)
            return self._with_aliases(model, model.versions[self._index(ref.name, model, ref)])

    def find_keyed(self, name: str, key: str) -> ModelVersion | None:
        with self._lock:
            model = self._models.get(name)
            for version in model.versions if model is not None else []:
                if version.lineage.get(KEY_FIELD) == key:
                    return self._with_aliases(model, version)  # type: ignore[arg-type]
            return None

    def list_models(self, *, offset: int = 0, limit: int | None = None) -> list[ModelSummary]:
        with self._lock:
            out = []
            for name, model in sorted(self._models.items()):
                ready = [v.version for v in model.versions if v.status == "ready"]
                out.append(
                    ModelSummary(
                        name=name,
                        description=model.description,
                        latest_version=max(ready) if ready else None,
                        versions=len(model.versions),
                        aliases=dict(sorted(model.aliases.items())),
                        updated_at=max(
                            (v.created_at for v in model.versions), default=model.created_at
                        ),
                    )
                )
            out = out[max(offset, 0) :]
            return out if limit is None else out[: max(limit, 0)]

    def list_versions(self, name: str) -> list[ModelVersion]:
        with self._lock:
            model = self._model(name)
            return [self._with_aliases(model, v) for v in reversed(model.versions)]

    def history(self, name: str, *, limit: int | None = None) -> list[HistoryEntry]:
        with self._lock:
            entries = sorted(self._model(name).history, key=lambda e: e.at)
        return entries if limit is None else entries[max(len(entries) - max(limit, 0), 0) :]
