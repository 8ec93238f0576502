"""Caching: full hits, precise invalidation by source, helpers, deleted artifacts, opt-outs."""

from __future__ import annotations

from pipeline_project import Project

from conveyor.workspace import Workspace


def test_second_run_is_fully_cached_and_executes_no_step(project: Project, ws: Workspace) -> None:
    project.write_flow()
    first = project.load().run(ws)
    assert project.calls() == ["join", "left", "right", "source"]
    assert first.output("join") == {"a": 6, "b": 8}

    second = project.load().run(ws)

    assert project.calls() == []
    assert {s.status for s in second.steps.values()} == {"cached"}
    for name, result in second.steps.items():
        assert result.cached_from == first.steps[name].run_id
        assert ws.runs.get(result.run_id).cached_from == first.steps[name].run_id
    assert second.output("join") == {"a": 6, "b": 8}


def test_editing_one_step_reruns_exactly_it_and_its_dependents(
    project: Project, ws: Workspace
) -> None:
    project.write_flow(left_offset=0)
    project.load().run(ws)
    project.calls()

    project.write_flow(left_offset=1)  # only `left` changes
    result = project.load().run(ws)

    assert project.calls() == ["join", "left"]
    assert result.steps["source"].status == "cached"
    assert result.steps["right"].status == "cached"
    assert result.steps["left"].status == "completed"
    assert result.output("join") == {"a": 7, "b": 8}


def test_changing_a_helper_the_step_calls_invalidates_that_step(
    project: Project, ws: Workspace
) -> None:
    project.write_flow(scale=2)
    project.load().run(ws)
    project.calls()

    project.write_flow(scale=3)  # `scale_of`, called by `right`, changes
    result = project.load().run(ws)

    assert project.calls() == ["join", "right"]
    assert result.output("join") == {"a": 6, "b": 12}


def test_a_different_parameter_misses_the_cache(project: Project, ws: Workspace) -> None:
    project.write_flow()
    project.load().run(ws, params={"n": 4})
    project.calls()
    project.load().run(ws, params={"n": "5"})
    assert project.calls() == ["join", "left", "right", "source"]


def test_deleted_cached_artifact_makes_the_step_run_again(project: Project, ws: Workspace) -> None:
    project.write_flow()
    first = project.load().run(ws)
    project.calls()
    ws.artifacts.delete(first.steps["right"].outputs[0].hash)

    second = project.load().run(ws)

    assert project.calls() == ["right"]
    assert second.steps["right"].status == "completed"
    assert second.steps["join"].status == "cached"  # same input hash as before
    assert second.output("join") == {"a": 6, "b": 8}


def test_run_level_no_cache_executes_every_step(project: Project, ws: Workspace) -> None:
    project.write_flow()
    project.load().run(ws)
    project.calls()
    result = project.load().run(ws, cache=False)
    assert project.calls() == ["join", "left", "right", "source"]
    assert {s.status for s in result.steps.values()} == {"completed"}


def test_step_with_cache_false_always_runs(project: Project, ws: Workspace) -> None:
    project.write(
        "fresh.py",
        """
        from __future__ import annotations
        from pathlib import Path
        from conveyor.pipelines import pipeline, step

        CALLS = Path(__file__).parent / "calls.txt"

        @step
        def stable() -> int:
            with CALLS.open("a") as f:
                f.write("stable\\n")
            return 1

        @step(cache=False)
        def volatile(x: int) -> int:
            with CALLS.open("a") as f:
                f.write("volatile\\n")
            return x + 1

        @pipeline
        def fresh() -> None:
            volatile(stable())
        """,
    )
    project.load("fresh.py:fresh").run(ws)
    project.calls()
    result = project.load("fresh.py:fresh").run(ws)
    assert project.calls() == ["volatile"]
    assert result.steps["stable"].status == "cached"
    assert result.steps["volatile"].status == "completed"
