"""Personal-data columns: hashed under a key or left out, before anything is queued."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.config import load_settings
from conveyor.predictions import (
    PiiKeyMissingError,
    PiiPolicy,
    PredictionLogger,
    PredictionRecord,
    pii_policy,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = b"a-long-random-secret"
EMAIL = "ana@example.com"


def _record(**inputs: object) -> PredictionRecord:
    return PredictionRecord("r1", T0, "churn", 1, dict(inputs), 0, 1.0)


def _settings(tmp_path: Path, pii: str, env: dict[str, str] | None = None) -> object:
    (tmp_path / "conveyor.yaml").write_text(f"project: {{name: p}}\npredictions:\n  pii: {pii}\n")
    return load_settings(tmp_path, env=env or {})


def test_hash_stores_the_hex_hmac_sha256_of_the_value_under_the_key() -> None:
    policy = PiiPolicy(frozenset({"email"}), "hash", KEY)
    masked = policy.mask({"email": EMAIL, "age": 41, "phone": None})
    expected = hmac.new(KEY, EMAIL.encode(), hashlib.sha256).hexdigest()
    assert masked == {"email": expected, "age": 41, "phone": None}


def test_drop_leaves_the_column_out() -> None:
    policy = PiiPolicy(frozenset({"email", "phone"}), "drop")
    assert policy.mask({"email": EMAIL, "phone": "+1 555", "age": 41}) == {"age": 41}


def test_a_record_without_personal_data_is_returned_unchanged() -> None:
    record = _record(age=41)
    assert PiiPolicy(frozenset({"email"}), "drop").apply(record) is record


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans()))
def test_hashing_is_stable_and_idempotent(value: object) -> None:
    """Masking twice (on the request path, then on write) stores the value hashed once."""
    policy = PiiPolicy(frozenset({"x"}), "hash", KEY)
    once = policy.mask({"x": value})
    assert policy.mask(once) == once == policy.mask({"x": value})
    assert once["x"] != value


def test_different_keys_give_different_hashes_and_the_key_is_never_shown() -> None:
    one = PiiPolicy(frozenset({"email"}), "hash", KEY)
    two = PiiPolicy(frozenset({"email"}), "hash", b"another")
    assert one.digest(EMAIL) != two.digest(EMAIL)
    assert KEY.decode() not in repr(one)


def test_invalid_utf8_text_is_hashed_not_crashed_on() -> None:
    policy = PiiPolicy(frozenset({"email"}), "hash", KEY)
    assert len(policy.digest("bad \udcff surrogate")) == 64


def test_the_policy_comes_from_the_configuration_and_the_environment(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "{columns: [email]}", {"CONVEYOR_PII_KEY": KEY.decode()})
    policy = pii_policy(settings, signature_columns=["phone"])
    assert policy is not None
    assert (policy.columns, policy.policy, policy.key) == (
        frozenset({"email", "phone"}),
        "hash",
        KEY,
    )


def test_no_personal_data_columns_means_no_policy(tmp_path: Path) -> None:
    assert pii_policy(_settings(tmp_path, "{}")) is None


def test_hash_without_a_key_is_refused_naming_the_variable_not_a_value(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "{columns: [email], key_env: MY_PII_KEY}", {"MY_PII_KEY": ""})
    with pytest.raises(PiiKeyMissingError, match=r"'MY_PII_KEY'") as caught:
        pii_policy(settings)
    assert caught.value.hint is not None
    assert caught.value.code == "pii_key_missing"
    with pytest.raises(PiiKeyMissingError, match=r"no key"):
        PiiPolicy(frozenset({"email"}), "hash")


def test_drop_needs_no_key(tmp_path: Path) -> None:
    policy = pii_policy(_settings(tmp_path, "{columns: [email], policy: drop}"))
    assert policy is not None
    assert policy.key is None


class _GatedLog:
    """Holds every write until ``gate`` is set, so submitted records queue up or spill."""

    def __init__(self, privacy: PiiPolicy) -> None:
        self.privacy = privacy
        self.gate = threading.Event()
        self.batches: list[list[PredictionRecord]] = []

    def write(self, records: Sequence[PredictionRecord], *, idempotent: bool = False) -> object:
        self.gate.wait(10)
        self.batches.append(list(records))
        return None


def test_the_logger_masks_on_submit_so_spill_files_never_hold_clear_values(
    tmp_path: Path,
) -> None:
    """Under overload records go to disk: already hashed."""
    log = _GatedLog(PiiPolicy(frozenset({"email"}), "hash", KEY))
    logger = PredictionLogger(log, max_queue=10, max_batch=5, spill_dir=tmp_path / "spill")
    try:
        for i in range(100):
            logger.submit(PredictionRecord(f"r{i}", T0, "churn", 1, {"email": EMAIL}, 0, 1.0))
        deadline = time.monotonic() + 10
        while logger.stats().spilled < 85 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert logger.stats().spilled >= 85
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert EMAIL.encode() not in path.read_bytes()
        assert any(path.suffix == ".jsonl" for path in tmp_path.rglob("*"))
    finally:
        log.gate.set()
        logger.close()
    assert all(r.inputs["email"] != EMAIL for batch in log.batches for r in batch)
