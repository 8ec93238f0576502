"""Executors are looked up by name in a plug-in registry, like every other extension point."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from importlib.metadata import EntryPoint
from typing import ClassVar

import pytest

from conveyor.pipelines import UnknownExecutorError
from conveyor.pipelines.executors import (
    ENTRY_POINT_GROUP,
    Executor,
    LocalExecutor,
    RayExecutor,
    StepOutcome,
    StepTask,
    available_executors,
    get_executor,
    register_executor,
    resolve_executor,
    unregister_executor,
)
from conveyor.pipelines.executors._plugins import _REGISTRY


class InlineExecutor(Executor):
    """Runs each attempt at once, in the caller's thread."""

    name: ClassVar[str] = "inline"

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        future.set_result(StepOutcome(outputs=[], wall_s=0.0, cpu_s=0.0))
        return future


@pytest.fixture
def inline() -> Iterator[type[Executor]]:
    register_executor(InlineExecutor)
    yield InlineExecutor
    unregister_executor("inline")


def test_built_ins_are_found_by_name_and_built_with_their_options() -> None:
    assert {"local", "ray"} <= set(available_executors())
    assert get_executor("local") is LocalExecutor
    assert get_executor("ray") is RayExecutor
    local = resolve_executor("local", max_workers=3)
    assert isinstance(local, LocalExecutor)
    assert local.capacity == 3
    ray = resolve_executor("ray", ray_address="ray://127.0.0.1:10001")
    assert isinstance(ray, RayExecutor)


def test_an_instance_is_used_as_it_is() -> None:
    executor = LocalExecutor(max_workers=1)
    assert resolve_executor(executor) is executor


def test_a_registered_executor_is_resolved_by_name(inline: type[Executor]) -> None:
    assert "inline" in available_executors()
    assert isinstance(resolve_executor("inline", max_workers=8), InlineExecutor)


def test_an_unknown_name_lists_the_executors_there_are() -> None:
    with pytest.raises(UnknownExecutorError, match=r"'dask'.*Executors: local, ray") as info:
        resolve_executor("dask")
    assert info.value.fields["executor"] == "dask"
    assert info.value.code == "unknown_executor"
    assert info.value.hint


def test_a_class_that_is_not_an_executor_is_refused() -> None:
    with pytest.raises(UnknownExecutorError, match="not an Executor subclass"):
        register_executor(dict)  # type: ignore[arg-type]


def test_plug_ins_come_from_the_entry_point_group() -> None:
    point = EntryPoint(name="inline", value=f"{__name__}:InlineExecutor", group=ENTRY_POINT_GROUP)
    loaded = _REGISTRY.load_entry_points([point])
    assert loaded == {"inline": InlineExecutor}
