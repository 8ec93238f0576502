"""Metric filters of ``search_runs``: strict parsing, and the SQL answers equal the reference's."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.store import open_store
from conveyor.tracking import (
    InvalidMetricFilterError,
    MetricFilter,
    RunTracker,
    parse_metric_filter,
    search_run_list,
)


@pytest.mark.parametrize(
    "text",
    [
        "rmse<<1",
        ";drop table runs",
        "rmse<1; drop table runs",
        "rmsé<1",
        "rmse<\u0661",  # an Arabic-Indic digit one
        "rmse<nan",
        "rmse<NaN",
        "rmse>inf",
        "rmse<-Infinity",
        "rmse<1e999",
        "rmse<-1e999",
        "my rmse<1",
        "rm\x00se<1",
        "rmse\x1b[31m<1",
        "rmse=1",
        "rmse<",
        "<1",
        "rmse",
        "",
        "rmse<0x10",
        "rmse<1_000",
        "rmse<" + "9" * 300,
    ],
)
def test_a_malformed_or_hostile_filter_names_itself_and_what_is_accepted(text: str) -> None:
    with pytest.raises(InvalidMetricFilterError) as caught:
        parse_metric_filter(text)
    assert repr(text[:200]) in str(caught.value)
    assert caught.value.hint is not None
    assert "KEY OP NUMBER" in caught.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rmse<0.5", MetricFilter("rmse", "<", 0.5)),
        (" accuracy >= 0.9 ", MetricFilter("accuracy", ">=", 0.9)),
        ("train.loss!=-1e-3", MetricFilter("train.loss", "!=", -0.001)),
        ("val/auc==1", MetricFilter("val/auc", "==", 1.0)),
        ("f1-macro>.25", MetricFilter("f1-macro", ">", 0.25)),
        ("r2<=+3.", MetricFilter("r2", "<=", 3.0)),
    ],
)
def test_a_filter_is_key_comparison_and_finite_number(text: str, expected: MetricFilter) -> None:
    assert parse_metric_filter(text) == expected


@pytest.mark.parametrize(
    ("key", "op", "value"),
    [("", "<", 1.0), ("rmse", "=", 1.0), ("rmse", "<", math.nan), ("rmse", "<", math.inf)],
)
def test_the_dataclass_refuses_what_the_parser_refuses(key: str, op: str, value: float) -> None:
    with pytest.raises(InvalidMetricFilterError):
        MetricFilter(key, op, value)  # type: ignore[arg-type]


def _tracker(tmp_path: Path) -> RunTracker:
    store = open_store(f"sqlite:///{tmp_path / 'meta.db'}")
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    return RunTracker(store, artifacts, actor=Actor("tester"), root=tmp_path)


def _fill(tracker: RunTracker) -> None:
    """Pipelines fitting a ridge model on the diabetes data, each alpha one run: the step
    logs rmse per epoch; a cached pipeline reuses one step; one run logs NaN, one nothing."""
    data = load_diabetes(as_frame=True)
    x, y = data.data, data.target
    first_step = None
    for index, alpha in enumerate((0.01, 0.1, 1.0, 3.0, 10.0, 100.0)):
        run = tracker.start_run(f"ridge-{alpha}", kind="pipeline")
        step = tracker.start_run("train", kind="step", parent_id=run.id)
        model = Ridge(alpha=alpha).fit(x, y)
        rmse = math.sqrt(mean_squared_error(y, model.predict(x)))
        tracker.log_metrics(step.id, {"rmse": rmse * 1.5}, 0)
        tracker.log_metrics(step.id, {"rmse": rmse, "r2": model.score(x, y)}, 1)
        tracker.log_metrics(run.id, {"n_features": float(x.shape[1] - index % 2)})
        tracker.finish_run(step.id, "completed")
        tracker.finish_run(run.id, "completed")
        first_step = first_step or step
    assert first_step is not None
    cached = tracker.start_run("ridge-cached", kind="pipeline")
    reused = tracker.start_run("train", kind="step", parent_id=cached.id)
    tracker.finish_run(reused.id, "cached", cached_from=first_step.id)
    tracker.finish_run(cached.id, "completed")
    broken = tracker.start_run("ridge-nan", kind="pipeline")
    tracker.log_metrics(broken.id, {"rmse": math.nan})
    tracker.finish_run(broken.id, "failed")
    tracker.start_run("ridge-empty", kind="pipeline")
    tracker.flush()


FILTERS = [
    [],
    [MetricFilter("rmse", "<", 55.0)],
    [MetricFilter("rmse", ">=", 55.0)],
    [MetricFilter("rmse", "!=", 0.0)],
    [MetricFilter("rmse", "<", 60.0), MetricFilter("r2", ">", 0.45)],
    [MetricFilter("n_features", "==", 10.0)],
    [MetricFilter("missing", ">", 0.0)],
]


@pytest.mark.parametrize("where", FILTERS, ids=str)
@pytest.mark.parametrize("sort", ["started_at", "metric:rmse", "name"])
def test_sql_filters_answer_as_the_reference(
    tmp_path: Path, where: list[MetricFilter], sort: str
) -> None:
    tracker = _tracker(tmp_path)
    _fill(tracker)
    records = tracker.records
    every = records.list_runs()
    points = {run.id: records.metrics(run.id) for run in every}
    for descending in (True, False):
        for offset, limit in ((0, 50), (1, 2)):
            asked = {
                "where": where,
                "sort": sort,
                "descending": descending,
                "offset": offset,
                "limit": limit,
                "top_level": True,
            }
            found = records.search_runs(**asked)  # type: ignore[arg-type]
            expected = search_run_list(every, points, **asked)  # type: ignore[arg-type]
            assert found.total == expected.total
            assert [r.id for r in found.runs] == [r.id for r in expected.runs]


def test_a_filter_compares_the_value_last_logged_in_the_tree(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    _fill(tracker)
    by_name = {
        run.name: tracker.run_tree_metrics(run.id)
        for run in tracker.list(top_level=True, limit=None)
    }
    page = tracker.search(where=[parse_metric_filter("rmse<55")], top_level=True)
    expected = {
        name
        for name, tree in by_name.items()
        if "rmse" in tree and not math.isnan(tree["rmse"].value) and tree["rmse"].value < 55
    }
    assert {run.name for run in page.runs} == expected
    assert "ridge-cached" in expected  # its step reused the first run's work
    assert page.total == len(expected)
    everything = tracker.search(where=[parse_metric_filter("rmse>-1")], top_level=True)
    assert "ridge-nan" not in {run.name for run in everything.runs}
    assert "ridge-empty" not in {run.name for run in everything.runs}


def test_many_trees_at_once_equal_each_tree_alone(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    _fill(tracker)
    runs = tracker.list(top_level=True, limit=None) + tracker.list(kind="step", limit=None)
    many = tracker.run_tree_metrics_many(runs)
    assert list(many) == [run.id for run in runs]
    for run in runs:
        alone = tracker.run_tree_metrics(run.id)
        assert list(many[run.id]) == list(alone)
        for key, metric in alone.items():
            both = many[run.id][key]
            assert (both.run_id, both.source, both.step) == (
                metric.run_id,
                metric.source,
                metric.step,
            )
            assert both.value == metric.value or (
                math.isnan(both.value) and math.isnan(metric.value)
            )
    assert tracker.run_tree_metrics_many([runs[0].id]) == {runs[0].id: many[runs[0].id]}
    assert tracker.run_tree_metrics_many([]) == {}
