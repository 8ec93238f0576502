"""The run records contract's logging: params, metrics, datasets, outputs and artifacts.

:class:`RunLogTests` is one part of
:class:`~conveyor.testing.records.RunRecordsContract`, which mixes it in and provides
the fixtures its tests use (``records``, ``actor``, ``run``, ``audit_log``).
"""

from __future__ import annotations

import math
import threading
from datetime import timedelta

import pytest

from conveyor.core import Actor
from conveyor.testing.records._tracking_samples import (
    _T0,
    AuditLog,
    _id,
    sample_output,
    sample_run,
)
from conveyor.tracking import BaseRunRecords, MetricValue, Run, RunNotFoundError


class RunLogTests:
    """What runs log through :class:`~conveyor.tracking.BaseRunRecords`, and how it is kept."""

    def test_merge_params_keeps_other_keys(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        merged = records.merge_params(actor, run.id, {"lr": 0.2, "seed": 7})
        expected = {**run.params, "lr": 0.2, "seed": 7}
        assert merged.params == expected
        assert records.get_run(run.id).params == expected
        event = audit_log()[-1]
        assert (event.action, event.details) == ("run.params", {"keys": ["lr", "seed"]})
        with pytest.raises(RunNotFoundError):
            records.merge_params(actor, _id(99), {"lr": 1})

    def test_metric_batches_are_kept_in_logged_order_with_nan_and_infinities(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        first: list[MetricValue] = [
            ("loss", 0.5, 0, _T0),
            ("acc", 1 / 3, None, _T0),
            ("loss", math.nan, 1, _T0 + timedelta(seconds=1)),
        ]
        second: list[MetricValue] = [
            ("loss", math.inf, 2, _T0 + timedelta(seconds=2)),
            ("loss", -math.inf, -3, _T0 + timedelta(seconds=3)),
        ]
        records.log_metrics(actor, run.id, first)
        records.log_metrics(actor, run.id, second)
        points = records.metrics(run.id)
        assert [(p.key, p.step, p.at) for p in points] == [
            (k, s, a) for k, _, s, a in first + second
        ]
        values = [p.value for p in points]
        assert values[:2] == [0.5, 1 / 3]
        assert math.isnan(values[2])
        assert values[3:] == [math.inf, -math.inf]
        assert [p.step for p in records.metrics(run.id, "loss")] == [0, 1, 2, -3]
        assert records.metrics(run.id, "missing") == []
        events = [e for e in audit_log() if e.action == "run.metrics"]
        assert [(e.target, e.details) for e in events] == [
            (f"run:{run.id}", {"count": 3}),
            (f"run:{run.id}", {"count": 2}),
        ]

    def test_a_metric_batch_for_an_unknown_run_keeps_nothing(
        self, records: BaseRunRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        with pytest.raises(RunNotFoundError, match=_id(99)):
            records.log_metrics(actor, _id(99), [("loss", 0.5, 0, _T0)])
        assert records.metrics(_id(99)) == []
        assert len(audit_log()) == before

    def test_latest_metrics_are_the_last_logged_per_run_and_key(
        self, records: BaseRunRecords, actor: Actor, run: Run
    ) -> None:
        other = sample_run(_id(2))
        records.create_run(actor, other)
        records.log_metrics(
            actor,
            run.id,
            [("loss", 0.9, 0, _T0), ("loss", 0.4, 1, _T0), ("acc", math.nan, None, _T0)],
        )
        # Logged last, though with a smaller step: logged order decides.
        records.log_metrics(actor, run.id, [("loss", 0.7, 0, _T0 + timedelta(seconds=1))])
        records.log_metrics(actor, other.id, [("loss", 2.0, 5, _T0)])
        latest = records.latest_metrics([run.id, other.id, _id(99)])
        assert set(latest) == {run.id, other.id, _id(99)}
        assert {k: (p.value, p.step) for k, p in latest[run.id].items() if k == "loss"} == {
            "loss": (0.7, 0)
        }
        assert math.isnan(latest[run.id]["acc"].value)
        assert latest[other.id]["loss"].value == 2.0
        assert latest[_id(99)] == {}
        assert records.latest_metrics([]) == {}

    def test_datasets_are_kept_one_per_name_and_listed_by_name(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        records.add_dataset(actor, run.id, name="orders", version=3, content_hash="3" * 64)
        records.add_dataset(actor, run.id, name="customers", version=1, content_hash="1" * 64)
        records.add_dataset(actor, run.id, name="orders", version=4, content_hash="4" * 64)
        assert records.datasets(run.id) == [
            {"name": "customers", "version": 1, "content_hash": "1" * 64},
            {"name": "orders", "version": 4, "content_hash": "4" * 64},
        ]
        event = audit_log()[-1]
        assert (event.action, event.target, event.details) == (
            "run.dataset",
            f"run:{run.id}",
            {"dataset": "orders@4"},
        )
        assert records.datasets(_id(99)) == []
        with pytest.raises(RunNotFoundError):
            records.add_dataset(actor, _id(99), name="orders", version=1, content_hash="1" * 64)

    def test_outputs_are_kept_one_per_name_with_their_metadata(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        first = [sample_output("output_0"), sample_output("output_10", size=1)]
        records.add_outputs(actor, run.id, first)
        again = sample_output("output_0", hash="2" * 64, meta={"nested": {"x": [1, 2.5]}})
        records.add_outputs(actor, run.id, [again])
        kept = sorted(records.outputs(run.id), key=lambda o: o.name)
        assert kept == [again, first[1]]
        event = audit_log()[-1]
        assert (event.action, event.target, event.details) == (
            "run.outputs",
            f"run:{run.id}",
            {"outputs": {"output_0": "2" * 64}},
        )
        assert records.outputs(_id(99)) == []
        with pytest.raises(RunNotFoundError):
            records.add_outputs(actor, _id(99), first)

    def test_artifacts_are_kept_one_per_name_and_listed_by_name(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        records.add_artifact(
            actor, run.id, name="plot.png", hash="1" * 64, size=10, media_type="image/png"
        )
        records.add_artifact(
            actor, run.id, name="notes.txt", hash="2" * 64, size=3, media_type="text/plain"
        )
        records.add_artifact(
            actor, run.id, name="plot.png", hash="3" * 64, size=12, media_type="image/png"
        )
        assert records.artifacts(run.id) == [
            {"name": "notes.txt", "hash": "2" * 64, "size": 3, "media_type": "text/plain"},
            {"name": "plot.png", "hash": "3" * 64, "size": 12, "media_type": "image/png"},
        ]
        event = audit_log()[-1]
        assert (event.action, event.target, event.details) == (
            "run.artifact",
            f"run:{run.id}",
            {"name": "plot.png", "hash": "3" * 64},
        )
        assert records.artifacts(_id(99)) == []
        with pytest.raises(RunNotFoundError):
            records.add_artifact(
                actor, _id(99), name="x", hash="1" * 64, size=1, media_type="text/plain"
            )

    def test_metric_batches_from_several_threads_are_all_kept(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        runs = [sample_run(_id(i)) for i in range(1, 5)]
        for run in runs:
            records.create_run(actor, run)
        errors: list[BaseException] = []

        def log(run_id: str) -> None:
            try:
                for batch in range(5):
                    values: list[MetricValue] = [
                        ("loss", float(i), batch * 10 + i, _T0) for i in range(10)
                    ]
                    records.log_metrics(actor, run_id, values)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=log, args=(run.id,)) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for run in runs:
            assert [p.step for p in records.metrics(run.id)] == list(range(50))
