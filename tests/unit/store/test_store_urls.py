"""Parsing, normalising and masking metadata store URLs; the package's export list."""

from __future__ import annotations

import pytest

from conveyor.errors import StoreError
from conveyor.store._engine import mask_url, normalise_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@h:5432/db",
        "postgres://u:pw@h:5432/db",
        "postgresql+psycopg://u:pw@h:5432/db",
    ],
)
def test_every_postgres_spelling_uses_psycopg3(url: str) -> None:
    parsed = normalise_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database, parsed.password) == ("h", 5432, "db", "pw")


def test_sqlite_file_url_is_kept() -> None:
    assert normalise_url("sqlite:////tmp/x/conveyor.db").database == "/tmp/x/conveyor.db"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:s3cret@db:5432/meta", "postgresql://bob:***@db:5432/meta"),
        ("mysql://root:hunter2@h/x", "mysql://root:***@h/x"),
        ("postgresql://bob@db/meta", "postgresql://bob@db/meta"),
        ("sqlite:////a/b.db", "sqlite:////a/b.db"),
    ],
)
def test_passwords_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_unsupported_database_is_refused_with_the_masked_url() -> None:
    with pytest.raises(StoreError, match=r"Unsupported .*'mysql://root:\*\*\*@h/x'") as info:
        normalise_url("mysql://root:hunter2@h/x")
    assert "hunter2" not in str(info.value)
    assert info.value.hint is not None
    assert "postgresql://" in info.value.hint
    assert info.value.fields["url"] == "mysql://root:***@h/x"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(StoreError, match="in-memory SQLite"):
        normalise_url(url)


def test_unparsable_url_is_refused() -> None:
    with pytest.raises(StoreError, match="Cannot parse the metadata store URL 'not a url'"):
        normalise_url("not a url")
