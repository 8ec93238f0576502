"""Redaction hides every planted secret, keeps the shape, and leaves ordinary text alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.core import REDACTED, is_secret_field, redact, redact_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://bob:hunter2@hooks.example.com/x?token=abc123&team=ml",
            "https://bob:***@hooks.example.com/x?token=***&team=ml",
        ),
        ("postgresql://u:p@ss@db:5432/meta", "postgresql://u:***@db:5432/meta"),
        (
            "postgresql+psycopg://u@db/x?sslpassword=topsecret",
            "postgresql+psycopg://u@db/x?sslpassword=***",
        ),
        ("https://ghp_abcdef@github.com/org/repo", "https://***@github.com/org/repo"),
        ("s3://b/k?X-Amz-Signature=deadbeef&x=1", "s3://b/k?X-Amz-Signature=***&x=1"),
        ("POST https://h/x?sig=AAA;key=BBB failed", "POST https://h/x?sig=***;key=*** failed"),
        ("host=db user=me password=s3cr3t dbname=x", "host=db user=me password=*** dbname=x"),
    ],
)
def test_redact_hides_credentials_and_keeps_the_endpoint(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Model 'churn' has no version 7. Versions: 1-5.",
        "sqlite:////home/me/proj/.conveyor/conveyor.db",
        "https://hooks.example.com/x?team=ml&page=2",
        "dataset:orders@3",
        "the key column is user_id",
    ],
)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert redact(text) == text


@given(st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=30),
    st.sampled_from(["token", "sig", "key", "secret", "password", "access_token", "api_key"]),
)
def test_a_planted_query_secret_never_survives(secret: str, param: str) -> None:
    url = f"https://user:{secret}@hooks.example.com/p?{param}={secret}&x=1"
    assert secret not in redact(url)


def test_secret_fields_are_known_by_name_not_by_where_they_live() -> None:
    for name in ("password", "api_key", "aws_secret_access_key", "token", "client_secret"):
        assert is_secret_field(name), name
    for name in ("secret_env", "key_file", "sticky_key", "signature", "key", "tokens_used"):
        assert not is_secret_field(name), name


def test_redact_value_walks_nested_documents() -> None:
    doc = {
        "store": {
            "metadata_url": "postgresql://u:pw1@db/x",
            "storage_options": {"secret": "pw2", "key": "AKIA", "endpoint_url": "http://s3"},
        },
        "webhooks": [{"url": "https://h/x?token=pw3", "secret_env": "HOOK_SECRET"}],
        "n": 3,
        "optional": {"password": None},
    }
    shown = redact_value(doc)
    text = repr(shown)
    for secret in ("pw1", "pw2", "pw3"):
        assert secret not in text
    assert shown["store"]["storage_options"]["secret"] == REDACTED
    assert shown["webhooks"][0]["secret_env"] == "HOOK_SECRET"
    assert shown["n"] == 3
    assert shown["optional"] == {"password": None}
    assert doc["store"]["storage_options"]["secret"] == "pw2"  # the input is not modified


@pytest.mark.parametrize(
    "text",
    ["x" * 300_000, "a://" + "b" * 300_000, "a://" * 60_000, "u:p@" * 60_000, "?token=" * 40_000],
)
def test_long_hostile_text_is_redacted_in_linear_time(text: str) -> None:
    """A quadratic pattern would take hours here (the suite's timeout fails it)."""
    assert len(redact(text)) <= len(text) + 3 * text.count("token=")


def test_the_logging_filter_redacts_what_a_handler_writes() -> None:
    import io
    import logging

    from conveyor.core import RedactingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("conveyor.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("posting to %s failed", "https://u:pw-1@h/x?token=tk-2")
        logger.warning("nothing secret here: %d rows", 3)
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "pw-1" not in written
    assert "tk-2" not in written
    assert "https://u:***@h/x?token=***" in written
    assert "nothing secret here: 3 rows" in written
