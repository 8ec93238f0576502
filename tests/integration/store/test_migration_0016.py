"""Migration 0016 (cost): ``runs.peak_rss_mb`` and ``serving_usage`` come and go with upgrade
and downgrade on SQLite and PostgreSQL, and runs recorded before it keep their rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from conveyor.store._migrate import alembic_config, current_revision

_T = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def engine(metadata_url: str) -> Iterator[Engine]:
    if metadata_url.startswith("sqlite:///"):
        Path(metadata_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    created = create_engine(metadata_url)
    yield created
    created.dispose()


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def _add_run(engine: Engine, run_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, name, kind, status, params, tags, started_at, host, pid, "
                "wall_s, cpu_s, created_by) VALUES (:id, 'train', 'step', 'completed', '{}', "
                "'{}', :at, 'h', 1, 2.5, 1.25, 'tester')"
            ),
            {"id": run_id, "at": _T},
        )


def test_0016_adds_peak_memory_to_runs_and_the_serving_usage_table_and_removes_them(
    engine: Engine,
) -> None:
    _migrate(engine, "0015")
    _add_run(engine, "a" * 32)
    assert "peak_rss_mb" not in _columns(engine, "runs")
    assert "serving_usage" not in inspect(engine).get_table_names()

    _migrate(engine, "0016")
    with engine.connect() as conn:
        assert current_revision(conn) == "0016"
        old = conn.execute(text("SELECT wall_s, cpu_s, peak_rss_mb FROM runs")).one()
    assert tuple(old) == (2.5, 1.25, None)
    assert {"process_id", "model", "version", "environment", "wall_s", "busy_s", "cpu_s"} <= (
        _columns(engine, "serving_usage")
    )
    indexes = {i["name"] for i in inspect(engine).get_indexes("serving_usage")}
    assert {"ix_serving_usage_model_version", "ix_serving_usage_updated_at"} <= indexes
    with engine.begin() as conn:
        conn.execute(text("UPDATE runs SET peak_rss_mb = 321.5"))
        conn.execute(
            text(
                "INSERT INTO serving_usage (process_id, model, version, environment, host, pid, "
                "started_at, updated_at, wall_s, busy_s, cpu_s, peak_rss_mb, predictions, "
                "requests) VALUES ('p', 'churn', 1, NULL, 'h', 1, :at, :at, 10, 1, 2, 150, 7, 7)"
            ),
            {"at": _T},
        )
        assert conn.execute(text("SELECT peak_rss_mb FROM runs")).scalar_one() == 321.5

    _migrate(engine, "0015", down=True)
    with engine.connect() as conn:
        assert current_revision(conn) == "0015"
        kept = conn.execute(text("SELECT id, wall_s, cpu_s FROM runs")).one()
    assert tuple(kept) == ("a" * 32, 2.5, 1.25)
    assert "peak_rss_mb" not in _columns(engine, "runs")
    assert "serving_usage" not in inspect(engine).get_table_names()


def test_one_usage_row_per_process_and_version(engine: Engine) -> None:
    _migrate(engine, "head")
    insert = text(
        "INSERT INTO serving_usage (process_id, model, version, environment, host, pid, "
        "started_at, updated_at, wall_s, busy_s, cpu_s, peak_rss_mb, predictions, requests) "
        "VALUES ('p', 'churn', 1, NULL, 'h', 1, :at, :at, 10, 1, 2, 150, 7, 7)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"at": _T})
    with pytest.raises(SQLIntegrityError, match=r"(?i)unique"), engine.begin() as conn:
        conn.execute(insert, {"at": _T})
