"""Signed checkpoints of the audit head detect removed newest events, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from conveyor.core import Actor, utcnow
from conveyor.store import (
    GENESIS_HASH,
    MetadataStore,
    open_store,
    read_checkpoint_file,
    write_checkpoint_file,
)
from conveyor.store._checkpoints import sign_checkpoint

ALICE = Actor("alice")


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def record(store: MetadataStore, n: int) -> None:
    for i in range(n):
        store.record_event(ALICE, "test.event", f"thing:{i}", {"i": i})


def head(store: MetadataStore) -> int:
    return store.audit_log(limit=1)[-1].seq


def execute(store: MetadataStore, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_an_untouched_log_with_checkpoints_is_intact(
    store: MetadataStore, key: Ed25519PrivateKey
) -> None:
    record(store, 3)
    first = store.checkpoint_audit(key)
    record(store, 2)
    second = store.checkpoint_audit(key)
    assert (first.seq, second.seq) == (head(store) - 2, head(store))
    assert store.audit_log()[-1].hash == second.hash
    result = store.verify_audit([key.public_key()])
    assert result.ok, result.reason
    assert result.checkpoints_checked == 2
    assert result.checkpoint_seq == second.seq
    assert result.signatures_checked
    assert store.audit_checkpoints() == [first, second]


def test_a_checkpoint_is_not_an_event_and_more_events_after_it_stay_intact(
    store: MetadataStore, key: Ed25519PrivateKey
) -> None:
    record(store, 2)
    before = head(store)
    made = store.checkpoint_audit(key)
    assert head(store) == before == made.seq  # the checkpoint did not move the head
    record(store, 4)
    result = store.verify_audit([key.public_key()], anchor=made)
    assert result.ok, result.reason
    assert result.count == before + 4
    assert result.checkpoint_seq == made.seq


def test_removing_the_newest_events_is_reported_with_the_removed_range(
    store: MetadataStore, key: Ed25519PrivateKey
) -> None:
    record(store, 4)
    made = store.checkpoint_audit(key)
    execute(store, "DELETE FROM audit_events WHERE seq > :keep", keep=made.seq - 2)
    assert store.audit_log()[-1].seq == made.seq - 2  # the chain alone is still valid

    result = store.verify_audit([key.public_key()])
    assert not result.ok
    assert result.first_broken_seq == made.seq - 1
    assert result.reason is not None
    assert result.reason.startswith(f"events after #{made.seq - 2} were removed (checkpoint of ")
    assert result.reason.endswith(f"vouches for #{made.seq})")
    assert not store.verify_audit().ok  # caught without keys too


def test_rewriting_the_chain_with_recomputed_hashes_is_caught(
    store: MetadataStore, key: Ed25519PrivateKey
) -> None:
    """Events removed and the same number appended again (a valid new chain) do not match."""
    record(store, 3)
    made = store.checkpoint_audit(key)
    execute(store, "DELETE FROM audit_events WHERE seq = :seq", seq=made.seq)
    record(store, 1)  # a new, validly chained event takes the removed one's seq
    result = store.verify_audit([key.public_key()])
    assert not result.ok
    assert result.first_broken_seq == made.seq
    assert f"vouches for event #{made.seq} with hash {made.hash[:16]}" in str(result.reason)


@pytest.mark.parametrize("forgery", ["hash", "seq", "signature", "wrong key"])
def test_a_forged_checkpoint_row_is_caught(
    store: MetadataStore, key: Ed25519PrivateKey, forgery: str
) -> None:
    record(store, 3)
    made = store.checkpoint_audit(key)
    if forgery == "hash":
        execute(store, "UPDATE audit_checkpoints SET hash = :h", h="f" * 64)
    elif forgery == "seq":
        execute(store, "UPDATE audit_checkpoints SET seq = seq - 1")
    elif forgery == "signature":
        raw = bytearray(base64.b64decode(made.signature))
        raw[0] ^= 1
        execute(
            store, "UPDATE audit_checkpoints SET signature = :s", s=base64.b64encode(raw).decode()
        )
    else:
        store.checkpoint_audit(Ed25519PrivateKey.generate())
    result = store.verify_audit([key.public_key()])
    assert not result.ok
    if forgery == "wrong key":
        assert "which is not among the given public keys" in str(result.reason)
    else:
        assert "the signature does not verify" in str(result.reason)


def test_a_forged_hash_is_caught_even_without_keys(
    store: MetadataStore, key: Ed25519PrivateKey
) -> None:
    record(store, 2)
    store.checkpoint_audit(key)
    execute(store, "UPDATE audit_checkpoints SET hash = :h", h="e" * 64)
    result = store.verify_audit()
    assert not result.ok
    assert "the stored event's hash is" in str(result.reason)


def test_an_empty_key_list_trusts_no_checkpoint(
    store: MetadataStore, key: Ed25519PrivateKey
) -> None:
    record(store, 1)
    store.checkpoint_audit(key)
    assert not store.verify_audit([]).ok


def test_deleting_checkpoint_rows_with_the_events_is_caught_by_the_anchor_file(
    store: MetadataStore, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    record(store, 5)
    anchor_path = tmp_path / "anchor.json"
    write_checkpoint_file(anchor_path, store.checkpoint_audit(key))
    execute(store, "DELETE FROM audit_checkpoints")
    execute(store, "DELETE FROM audit_events WHERE seq > :keep", keep=head(store) - 2)
    assert store.verify_audit([key.public_key()]).ok  # nothing in the database says so

    anchor = read_checkpoint_file(anchor_path)
    result = store.verify_audit([key.public_key()], anchor=anchor)
    assert not result.ok
    assert f"events after #{anchor.seq - 2} were removed (the anchor checkpoint of" in str(
        result.reason
    )


def test_a_tampered_anchor_fails_its_signature(
    store: MetadataStore, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    record(store, 3)
    made = store.checkpoint_audit(key)
    forged = replace(made, seq=made.seq - 1, hash=store.audit_log()[-2].hash)
    assert store.verify_audit(anchor=forged).ok  # it matches the chain...
    result = store.verify_audit([key.public_key()], anchor=forged)
    assert not result.ok  # ...but its signature does not
    assert "the anchor checkpoint" in str(result.reason)
    assert "the signature does not verify" in str(result.reason)


def test_a_checkpoint_of_an_empty_log_holds(store: MetadataStore, key: Ed25519PrivateKey) -> None:
    execute(store, "DELETE FROM audit_events")  # the migration's own event
    made = store.checkpoint_audit(key)
    assert (made.seq, made.hash) == (0, GENESIS_HASH)
    assert store.verify_audit([key.public_key()], anchor=made).ok


def test_a_malformed_checkpoint_row_is_reported_not_raised(
    store: MetadataStore, key: Ed25519PrivateKey
) -> None:
    if store.dialect != "sqlite":
        pytest.skip("only SQLite lets a column hold a value of another type")
    store.checkpoint_audit(key)
    execute(store, "UPDATE audit_checkpoints SET at = 'yesterday'")
    result = store.verify_audit()
    assert not result.ok
    assert "is malformed: 'at' is not a timestamp" in str(result.reason)


def test_the_checkpoint_file_round_trips(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    made = sign_checkpoint(key, 7, "a" * 64, utcnow())
    path = tmp_path / "cp.json"
    write_checkpoint_file(path, made)
    assert read_checkpoint_file(path) == made
    assert made.verifies_with(key.public_key())
    assert json.loads(path.read_text())["kind"] == "conveyor.audit.checkpoint"
