"""Spill files round-trip records, are claimed once, and survive torn writes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from conveyor.predictions import PredictionRecord
from conveyor.predictions._spill import claim_spill_files, read_spill, write_spill

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rec(i: int) -> PredictionRecord:
    return PredictionRecord(
        f"r{i}", T0, "churn", 2, {"x": np.float64(i)}, [0.1, i], 3.0, "prod", "canary", 7
    )


def test_spilled_records_read_back_equal(tmp_path: Path) -> None:
    assert write_spill(tmp_path, [rec(1), rec(2)]) == (2, 0)
    [(claimed, _done)] = claim_spill_files(tmp_path)
    records, bad = read_spill(claimed)
    assert bad == 0
    assert records == [
        PredictionRecord("r1", T0, "churn", 2, {"x": 1.0}, [0.1, 1], 3.0, "prod", "canary", 7),
        PredictionRecord("r2", T0, "churn", 2, {"x": 2.0}, [0.1, 2], 3.0, "prod", "canary", 7),
    ]


def test_a_record_that_is_not_json_is_counted_not_written(tmp_path: Path) -> None:
    odd = PredictionRecord("odd", T0, "churn", 1, {"x": object()}, 1, 1.0)
    assert write_spill(tmp_path, [rec(1), odd]) == (1, 1)


def test_each_file_is_claimed_once(tmp_path: Path) -> None:
    write_spill(tmp_path, [rec(1)])
    assert len(claim_spill_files(tmp_path)) == 1
    assert claim_spill_files(tmp_path) == []


def test_a_file_still_being_written_by_a_live_process_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / f"spill-{os.getpid()}-1-abc.jsonl.open").write_text("")
    assert claim_spill_files(tmp_path) == []


def test_a_file_left_half_written_by_a_dead_process_is_claimed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    good = write_spill(tmp_path, [rec(1)])
    assert good == (1, 0)
    [path] = list(tmp_path.iterdir())
    torn = tmp_path / f"spill-{pid}-1-abc.jsonl.open"
    torn.write_text(path.read_text() + '{"request_id": "r2", "at"')
    path.unlink()
    [(claimed, done)] = claim_spill_files(tmp_path)
    assert done.name == f"spill-{pid}-1-abc.jsonl"
    records, bad = read_spill(claimed)
    assert [r.request_id for r in records] == ["r1"]
    assert bad == 1


def test_a_missing_folder_has_nothing_to_claim(tmp_path: Path) -> None:
    assert claim_spill_files(tmp_path / "absent") == []
