"""``ColumnSpec.pii``: a personal-data flag that leaves signatures stored before it unchanged."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from conveyor.core import hash_bytes
from conveyor.registry._personal import REDACTED, redact_example, signature_pii
from conveyor.registry._prepare import canonical_json
from conveyor.registry.flavors import ColumnSpec, Signature, SignatureError, infer_signature

OLD = {
    "inputs": [
        {"name": "bill_length_mm", "type": "double", "nullable": True},
        {"name": "email", "type": "string", "nullable": False},
    ],
    "outputs": [{"name": "prediction", "type": "string", "nullable": False}],
}


def test_a_signature_stored_before_the_flag_loads_unflagged_and_keeps_its_bytes() -> None:
    loaded = Signature.from_dict(OLD)
    assert [c.pii for c in loaded.inputs] == [False, False]
    assert loaded.to_dict() == OLD
    assert hash_bytes(canonical_json(loaded.to_dict())) == hash_bytes(canonical_json(OLD))


def test_a_flagged_column_round_trips_and_only_it_carries_the_key() -> None:
    marked = Signature.from_dict(OLD).with_pii(["email"])
    data = marked.to_dict()
    assert data["inputs"][1] == {"name": "email", "type": "string", "nullable": False, "pii": True}
    assert "pii" not in data["inputs"][0]
    assert Signature.from_dict(data) == marked
    assert marked.pii_columns == ["email"] == signature_pii(data)
    assert hash_bytes(canonical_json(data)) != hash_bytes(canonical_json(OLD))


def test_only_a_literal_true_flags_a_column() -> None:
    """A stored ``"pii": "false"`` (a string) must not be read as truthy, nor lost silently."""
    spec = ColumnSpec.from_dict({"name": "x", "type": "double", "pii": "false"})
    assert spec.pii is False
    assert signature_pii({"inputs": [{"name": "x", "type": "double", "pii": "yes"}]}) == []


def test_marking_an_unknown_column_names_it_and_the_signature_columns() -> None:
    sig = infer_signature({"age": [41], "email": ["a@b.c"]})
    with pytest.raises(SignatureError, match=r"'phone'.*its columns: age, email") as caught:
        sig.with_pii(["email", "phone"])
    assert caught.value.fields["unknown"] == ["phone"]


def test_redacting_an_example_blanks_only_flagged_values_and_keeps_the_shape() -> None:
    sig = infer_signature({"age": [41, 30], "email": ["a@b.c", None], "n": [1, 2]})
    sig = sig.with_pii(["email", "n"])
    example = {"columns": ["age", "email", "n"], "data": [[41, "a@b.c", 1], [30, None, 2]]}
    redacted = redact_example(example, sig.to_dict())
    assert redacted == {
        "columns": ["age", "email", "n"],
        "data": [[41, REDACTED, None], [30, None, None]],
    }
    assert example["data"][0][1] == "a@b.c"  # the caller's example is not changed
    assert redact_example(example, OLD) == example  # nothing flagged: kept as it is


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=6))
def test_flags_round_trip_for_any_columns(flags: list[tuple[bool, bool]]) -> None:
    sig = Signature(
        [ColumnSpec(f"c{i}", "string", nullable, pii) for i, (nullable, pii) in enumerate(flags)]
    )
    again = Signature.from_dict(sig.to_dict())
    assert again == sig
    assert again.pii_columns == [f"c{i}" for i, (_, pii) in enumerate(flags) if pii]
