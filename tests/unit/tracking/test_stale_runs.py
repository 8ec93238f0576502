"""Which live runs are stale: ``stale_runs`` (the rule every run records backend applies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from conveyor.testing.records._tracking import sample_run
from conveyor.tracking import stale_runs

_T0 = datetime(2026, 3, 1, tzinfo=UTC)
_CUTOFF = _T0 + timedelta(minutes=1)


def _id(n: int) -> str:
    return f"{n:032x}"


def test_a_run_is_seen_at_its_heartbeat_or_else_its_start() -> None:
    beat_old = sample_run(_id(1), heartbeat_at=_T0)
    beat_new = sample_run(_id(2), heartbeat_at=_CUTOFF + timedelta(seconds=1))
    never_beat = sample_run(_id(3), heartbeat_at=None, started_at=_T0, status="pending")
    stale = stale_runs([beat_old, beat_new, never_beat], _CUTOFF)
    assert sorted(stale) == [_id(1), _id(3)]
    assert stale[_id(1)] == (
        "process died: no heartbeat since 2026-03-01T00:00:00.000000Z (host worker-1, pid 4242)"
    )


def test_a_step_is_alive_while_a_live_ancestor_beats() -> None:
    pipeline = sample_run(_id(1), heartbeat_at=_CUTOFF)
    step = sample_run(_id(2), kind="step", parent_id=pipeline.id, heartbeat_at=_T0)
    trial = sample_run(_id(3), kind="trial", parent_id=step.id, heartbeat_at=_T0)
    assert stale_runs([pipeline, step, trial], _CUTOFF) == {}
    # The pipeline is not live (finished or unknown): its steps count on their own.
    assert sorted(stale_runs([step, trial], _CUTOFF)) == [_id(2), _id(3)]


def test_a_parent_loop_does_not_hang() -> None:
    a = sample_run(_id(1), parent_id=_id(2), heartbeat_at=_T0)
    b = sample_run(_id(2), parent_id=_id(1), heartbeat_at=_T0)
    assert sorted(stale_runs([a, b], _CUTOFF)) == [_id(1), _id(2)]


@given(st.lists(st.integers(min_value=-120, max_value=120), min_size=1, max_size=8))
def test_a_run_is_stale_exactly_when_its_whole_live_chain_is_older_than_the_cutoff(
    offsets: list[int],
) -> None:
    """A chain of runs (each the parent of the next) is stale together or alive together."""
    chain = [
        sample_run(
            _id(i + 1),
            parent_id=_id(i) if i else None,
            heartbeat_at=_CUTOFF + timedelta(seconds=offset),
        )
        for i, offset in enumerate(offsets)
    ]
    stale = stale_runs(chain, _CUTOFF)
    for i, run in enumerate(chain):
        newest = max(offsets[: i + 1])
        assert (run.id in stale) == (newest < 0)
