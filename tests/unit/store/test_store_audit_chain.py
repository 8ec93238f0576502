"""Pure audit-chain logic: hashing, normalising details, verifying a chain."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import StoreError
from conveyor.store import GENESIS_HASH, AuditEvent
from conveyor.store._audit import event_hash, normalise_details, verify_chain

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_details = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def build_chain(specs: list[tuple[str, str, str, dict[str, Any]]]) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for index, (actor, action, target, details) in enumerate(specs):
        seq, at = index + 1, T0 + timedelta(microseconds=index)
        clean = normalise_details(details)
        digest = event_hash(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            target=target,
            details=clean,
            prev_hash=prev,
        )
        events.append(AuditEvent(seq, at, actor, action, target, clean, prev, digest))
        prev = digest
    return events


event_specs = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=8), st.text(max_size=8), st.text(max_size=8), json_details
    ),
    min_size=1,
    max_size=8,
)


@given(json_details)
def test_hash_is_stable_across_a_json_round_trip(details: dict[str, Any]) -> None:
    clean = normalise_details(details)
    stored = json.loads(json.dumps(clean))
    fields: dict[str, Any] = {
        "seq": 7,
        "at": T0,
        "actor": "a",
        "action": "x",
        "target": "t",
        "prev_hash": "0",
    }
    assert event_hash(details=clean, **fields) == event_hash(details=stored, **fields)
    assert len(event_hash(details=clean, **fields)) == 64


@given(json_details)
def test_hash_does_not_depend_on_key_order(details: dict[str, Any]) -> None:
    reordered = dict(reversed(list(details.items())))
    fields: dict[str, Any] = {
        "seq": 1,
        "at": T0,
        "actor": "a",
        "action": "x",
        "target": "t",
        "prev_hash": "0",
    }
    assert event_hash(details=details, **fields) == event_hash(details=reordered, **fields)


def test_hash_covers_every_field() -> None:
    base: dict[str, Any] = {
        "seq": 1,
        "at": T0,
        "actor": "a",
        "action": "x",
        "target": "t",
        "details": {"k": 1},
        "prev_hash": GENESIS_HASH,
    }
    changes: dict[str, Any] = {
        "seq": 2,
        "at": T0 + timedelta(microseconds=1),
        "actor": "b",
        "action": "y",
        "target": "u",
        "details": {"k": 2},
        "prev_hash": "1" * 64,
    }
    original = event_hash(**base)
    for key, value in changes.items():
        assert event_hash(**{**base, key: value}) != original, key


@given(event_specs)
def test_any_honest_chain_verifies(specs: list[tuple[str, str, str, dict[str, Any]]]) -> None:
    events = build_chain(specs)
    result = verify_chain(events)
    assert result.ok
    assert result.count == len(events)
    assert result.first_broken_seq is None


@given(event_specs, st.data())
def test_changed_details_are_caught_at_that_event(
    specs: list[tuple[str, str, str, dict[str, Any]]], data: st.DataObject
) -> None:
    events = build_chain(specs)
    index = data.draw(st.integers(0, len(events) - 1))
    tampered = dataclasses.replace(
        events[index], details={**events[index].details, "tampered": True}
    )
    result = verify_chain([*events[:index], tampered, *events[index + 1 :]])
    assert not result.ok
    assert result.first_broken_seq == index + 1
    assert result.reason is not None
    assert result.reason.startswith("content changed")


def test_removed_event_is_reported_as_a_seq_gap() -> None:
    events = build_chain([("a", "x", f"t{i}", {}) for i in range(5)])
    result = verify_chain([*events[:2], *events[3:]])
    assert (result.ok, result.first_broken_seq) == (False, 3)
    assert result.reason is not None
    assert "seq gap" in result.reason


def test_rehashed_event_breaks_the_next_link() -> None:
    events = build_chain([("a", "x", f"t{i}", {}) for i in range(3)])
    forged = dataclasses.replace(events[1], target="forged")
    forged = dataclasses.replace(
        forged,
        hash=event_hash(
            seq=forged.seq,
            at=forged.at,
            actor=forged.actor,
            action=forged.action,
            target=forged.target,
            details=forged.details,
            prev_hash=forged.prev_hash,
        ),
    )
    result = verify_chain([events[0], forged, events[2]])
    assert (result.ok, result.first_broken_seq) == (False, 3)
    assert result.reason is not None
    assert result.reason.startswith("link broken")


def test_empty_chain_verifies() -> None:
    assert verify_chain([]).ok


def test_normalised_details_are_plain_json() -> None:
    assert normalise_details({"t": (1, 2), "n": None}) == {"t": [1, 2], "n": None}


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": object()}, {"x": float("inf")}])
def test_details_that_json_cannot_hold_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        normalise_details(bad)
