"""Columns of date or datetime objects are datetime inputs, not a type error."""

from __future__ import annotations

import datetime

import pandas as pd

from conveyor.registry.flavors import infer_signature


def test_date_and_timestamp_objects_are_datetime_columns() -> None:
    frame = pd.DataFrame(
        {
            "visit": [datetime.date(2025, 1, 2), None, datetime.date(2025, 3, 4)],
            "seen": pd.Series(
                [pd.Timestamp("2025-01-02 10:00"), pd.Timestamp("2025-01-03"), None],
                dtype=object,
            ),
        }
    )
    inputs = {c.name: (c.type, c.nullable) for c in infer_signature(frame).inputs}
    assert inputs == {"visit": ("datetime", True), "seen": ("datetime", True)}
