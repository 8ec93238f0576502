"""Audit details of any JSON shape survive storage with their hash intact."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.core import Actor
from conveyor.store import open_store

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_details = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        json_leaves,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=6), children, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=4,
)


def test_any_json_details_round_trip_and_the_chain_verifies(metadata_url: str) -> None:
    with open_store(metadata_url) as store:
        # One store for all examples: the chain grows across them, as it does in real use.
        @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(details=json_details)
        def write_and_read_back(details: dict[str, Any]) -> None:
            with store.write(Actor("alice"), "thing.touch", "thing:x", details=details) as tx:
                pass
            assert tx.event is not None
            stored = store.audit_log(limit=1)[0]
            assert stored == tx.event
            assert store.verify_audit().ok

        write_and_read_back()
