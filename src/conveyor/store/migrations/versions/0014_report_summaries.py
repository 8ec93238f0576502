"""Monitoring reports keep a small summary (per-feature verdicts, the metric) beside their JSON.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_BATCH = 200


def upgrade() -> None:
    """Add ``monitoring_reports.summary`` and fill it for the stored reports."""
    op.add_column("monitoring_reports", sa.Column("summary", sa.JSON(), nullable=True))
    reports = sa.table(
        "monitoring_reports",
        sa.column("id", sa.Integer()),
        sa.column("drift", sa.JSON()),
        sa.column("performance", sa.JSON()),
        sa.column("summary", sa.JSON()),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(reports.c.id, reports.c.drift, reports.c.performance)
            .where(reports.c.id > last)
            .order_by(reports.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            bind.execute(
                reports.update()
                .where(reports.c.id == row.id)
                .values(summary=_summary(row.drift or {}, row.performance or {}))
            )
        last = rows[-1].id


def downgrade() -> None:
    """Drop the column ``upgrade`` added."""
    with op.batch_alter_table("monitoring_reports") as batch:
        batch.drop_column("summary")


# A copy of conveyor.monitoring.drift_summary as it was when this migration was written:
# a migration must keep doing what it did when the code it would import changes.
def _summary(drift: dict[str, Any], performance: dict[str, Any]) -> dict[str, Any]:
    features = drift.get("features")
    ci = performance.get("ci")
    interval = None
    if isinstance(ci, list | tuple) and len(ci) == 2:
        low, high = _number(ci[0]), _number(ci[1])
        interval = None if low is None or high is None else [low, high]
    labels = performance.get("labels")
    dataset_drift = drift.get("dataset_drift")
    drifted = drift.get("drifted")
    return {
        "features": [
            [
                str(name),
                _text(item.get("test")),
                _text(item.get("statistic")),
                _number(item.get("score")),
                _number(item.get("threshold")),
                bool(item.get("drifted")),
            ]
            for name, item in (features.items() if isinstance(features, dict) else ())
            if isinstance(item, dict)
        ],
        "drifted": [str(name) for name in drifted] if isinstance(drifted, list | tuple) else [],
        "share": _number(drift.get("share")),
        "dataset_drift": dataset_drift if isinstance(dataset_drift, bool) else None,
        "performance": {
            "metric": _text(performance.get("metric")),
            "value": _number(performance.get("value")),
            "ci": interval,
            "labels": labels if isinstance(labels, int) and not isinstance(labels, bool) else None,
            "reference": _number(performance.get("reference")),
        },
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
