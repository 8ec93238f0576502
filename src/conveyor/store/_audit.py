"""The hash-chained audit log: event values, hashing, appending and verification.

Each event's hash covers its own fields and the previous event's hash, so changing,
removing or reordering any stored event breaks the chain at that point. Appending happens
inside the caller's write transaction, after the writer lock is held, so ``seq`` is simply
``max(seq) + 1`` and the primary key turns any race into a retryable conflict, never a fork.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.core import hash_json, isoformat, redact, redact_value, utcnow
from conveyor.errors import StoreError
from conveyor.store._models import AuditEventRow

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    """One recorded mutation: who did what to which target, when.

    Attributes:
        seq: Position in the log, contiguous from 1.
        at: When it was committed (aware UTC, microsecond precision).
        actor: ``Actor.name`` of whoever made the change.
        action: What was done, e.g. ``"dataset.add"``.
        target: What it was done to, e.g. ``"dataset:orders@3"``.
        details: JSON details of the change.
        prev_hash: ``hash`` of the event before (64 zeros for the first).
        hash: BLAKE3 over the canonical JSON of every field above.
    """

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: AuditEventRow) -> AuditEvent:
        """Build the value object from a stored row."""
        return cls(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=dict(row.details),
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


@dataclass(frozen=True)
class AuditVerification:
    """Outcome of :meth:`MetadataStore.verify_audit`.

    Attributes:
        ok: True when every hash and link checks out.
        count: Number of events examined.
        first_broken_seq: The first event that fails (or is missing), else None.
        reason: Why it fails ("content changed", "link broken", "seq gap", or a checkpoint
            that does not hold, e.g. "events after #N were removed"), else None.
        checkpoints_checked: Signed checkpoints of the head (stored ones and the anchor)
            that were checked and hold; 0 when the chain itself is broken.
        checkpoint_seq: The newest ``seq`` a checked checkpoint vouches for, else None.
        signatures_checked: True when public keys were given and every checked
            checkpoint's signature verified with one of them.
    """

    ok: bool
    count: int
    first_broken_seq: int | None = None
    reason: str | None = None
    checkpoints_checked: int = 0
    checkpoint_seq: int | None = None
    signatures_checked: bool = False


def normalise_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``details`` as plain JSON values, exactly as they will read back from storage.

    Hashing the normalised form (tuples become lists, keys become strings) keeps the hash
    valid after a round trip through the database. Secrets are redacted first
    (:func:`conveyor.core.redact_value`): the chain cannot be edited later, so a password
    or token must never enter it.

    Raises:
        StoreError: ``details`` holds something JSON cannot represent (objects, NaN, inf).
    """
    try:
        text = json.dumps(redact_value(dict(details)), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"Audit details are not JSON-serialisable: {exc}",
            hint="Keep audit details to strings, numbers, booleans, None, lists and dicts.",
        ) from exc
    value: dict[str, Any] = json.loads(text)
    return value


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """Return the BLAKE3 hash of one event's content and its link to the previous event."""
    return hash_json(
        {
            "seq": seq,
            "at": isoformat(at),
            "actor": actor,
            "action": action,
            "target": target,
            "details": dict(details),
            "prev_hash": prev_hash,
        }
    )


def append_event(
    session: Session, *, actor: str, action: str, target: str, details: Mapping[str, Any]
) -> AuditEvent:
    """Append one event to the chain inside ``session``'s (already locked) transaction."""
    clean = normalise_details(details)
    target = redact(target)
    last = session.execute(
        select(AuditEventRow.seq, AuditEventRow.hash).order_by(AuditEventRow.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
    at = utcnow()
    digest = event_hash(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        details=clean,
        prev_hash=prev_hash,
    )
    row = AuditEventRow(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        details=clean,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(row)
    session.flush()
    return AuditEvent.from_row(row)


@dataclass(frozen=True)
class MalformedEvent:
    """A stored audit row that cannot even be read as an event (a field of the wrong type).

    Attributes:
        seq: The row's position in the log.
        reason: Which field is malformed and how.
    """

    seq: int
    reason: str


def event_from_raw(row: Sequence[Any]) -> AuditEvent | MalformedEvent:
    """Build an event from a row's raw column values, or say which field is malformed.

    Raw values are decoded here rather than by the ORM so that one tampered row (a
    timestamp that is not one, details that are not JSON) is reported as that event
    instead of aborting the whole verification.

    Args:
        row: ``seq, at, actor, action, target, details, prev_hash, hash`` as stored.
    """
    seq, at, actor, action, target, details, prev_hash, digest = row
    try:
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    except ValueError:
        return MalformedEvent(seq, f"malformed row: 'at' is not a timestamp ({_short(at)})")
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if isinstance(details, str | bytes):
        try:
            details = json.loads(details)
        except ValueError:
            return MalformedEvent(seq, f"malformed row: 'details' is not JSON ({_short(details)})")
    if not isinstance(details, dict):
        return MalformedEvent(seq, f"malformed row: 'details' is not an object ({_short(details)})")
    texts = {"actor": actor, "action": action, "target": target, "prev_hash": prev_hash}
    texts["hash"] = digest
    for name, value in texts.items():
        if not isinstance(value, str):
            return MalformedEvent(seq, f"malformed row: {name!r} is not text ({_short(value)})")
    return AuditEvent(seq, when, actor, action, target, details, prev_hash, digest)


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def verify_chain(events: Iterable[AuditEvent | MalformedEvent]) -> AuditVerification:
    """Check hashes, links and numbering of ``events`` (in ``seq`` order).

    A :class:`MalformedEvent` (a row that could not be decoded) breaks the chain at its
    ``seq``. Deleting the newest events cannot be detected from the chain alone: signed
    checkpoints of the head (:mod:`conveyor.store._checkpoints`) detect that.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for event in events:
        count += 1
        if isinstance(event, MalformedEvent):
            return AuditVerification(False, count, event.seq, event.reason)
        if event.seq != expected_seq:
            return AuditVerification(
                False,
                count,
                expected_seq,
                f"seq gap: event {expected_seq} is missing (next stored event is {event.seq})",
            )
        if event.prev_hash != prev_hash:
            return AuditVerification(
                False,
                count,
                event.seq,
                f"link broken: prev_hash does not match the hash of event {event.seq - 1}",
            )
        recomputed = event_hash(
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            target=event.target,
            details=event.details,
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            return AuditVerification(
                False,
                count,
                event.seq,
                "content changed: the stored fields no longer match the event's hash",
            )
        expected_seq, prev_hash = event.seq + 1, event.hash
    return AuditVerification(True, count)
