"""The large-table data of the streaming tests (unit and integration).

palmerpenguins repeated, with a boolean, a datetime, a nullable integer and a float
column added, and the settings that turn the streaming thresholds down so a few thousand
rows take the streamed path quickly.
"""

from __future__ import annotations

import numpy as np
import palmerpenguins
import pandas as pd
import pytest

from conveyor.data import _profile_stream, _tables

KIB = 1024


def penguins(copies: int = 40) -> pd.DataFrame:
    """palmerpenguins repeated ``copies`` times, with a bool, datetime and nullable int."""
    base = palmerpenguins.load_penguins()
    frame = pd.concat([base] * copies, ignore_index=True)
    frame["row"] = np.arange(len(frame))
    frame["tagged"] = frame.index % 3 == 0
    frame["measured"] = pd.to_datetime(frame["year"].astype(str) + "-06-01") + pd.to_timedelta(
        frame.index % 97, unit="h"
    )
    frame["ring"] = pd.array(
        [None if i % 7 == 0 else i % 1000 for i in range(len(frame))], dtype="Int64"
    )
    frame["mass_kg"] = frame["body_mass_g"] / 1000 + frame.index * 1e-6
    return frame


def shrink_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stream tables beyond 256 KiB, in 2,048-row batches, sampling 4,096 values (for
    the test only: ``monkeypatch`` restores them)."""
    monkeypatch.setattr(_tables, "STREAM_BYTES", 256 * KIB)
    monkeypatch.setattr(_tables, "CSV_BLOCK_BYTES", 64 * KIB)
    monkeypatch.setattr(_profile_stream, "BATCH_ROWS", 2048)
    monkeypatch.setattr(_profile_stream, "SAMPLE_SIZE", 4096)
