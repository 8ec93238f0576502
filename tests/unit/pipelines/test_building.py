"""Building DAGs: handles, multi-output steps, literals, parameters and definition errors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.pipelines import (
    ParameterError,
    PipelineDefinitionError,
    PipelineNotFoundError,
    StepOutput,
    load_pipeline,
    pipeline,
    step,
)
from conveyor.pipelines._graph import Graph, Node


@step
def load(n: int) -> list[int]:
    return list(range(n))


@step
def split(xs: list[int]) -> tuple[list[int], list[int]]:
    return xs[:1], xs[1:]


@step(outputs=3)
def three(x: int) -> tuple[int, ...]:
    return x, x, x


@step
def combine(a: list[int], b: list[int], weight: float = 1.0) -> float:
    return (sum(a) + sum(b)) * weight


@pipeline
def demo(n: int = 3, weight: float = 1.0, mode: Literal["fast", "slow"] = "fast") -> None:
    a, b = split(load(n))
    combine(a, b, weight=weight)


def test_steps_called_outside_a_pipeline_are_plain_functions() -> None:
    assert load(3) == [0, 1, 2]
    assert split([1, 2, 3]) == ([1], [2, 3])
    assert demo(n=2) is None  # a pipeline called directly runs eagerly


def test_build_records_nodes_edges_and_multi_output_handles() -> None:
    graph = demo.build({"n": "4"})
    assert list(graph.nodes) == ["load", "split", "combine"]
    combine_node = graph.nodes["combine"]
    assert combine_node.deps == ("split",)
    a, b = combine_node.arguments["a"], combine_node.arguments["b"]
    assert isinstance(a, StepOutput)
    assert (a.node, a.index) == ("split", 0)
    assert (b.node, b.index) == ("split", 1)
    assert combine_node.arguments["weight"] == 1.0  # literal, default applied
    assert graph.nodes["load"].arguments == {"n": 4}


def test_outputs_argument_declares_several_outputs() -> None:
    @pipeline
    def p() -> None:
        _x, _y, _z = three(1)
        combine([1], [2], weight=1.0)

    assert three.outputs == 3
    assert len(p.build().nodes) == 2


def test_calling_a_step_twice_gets_numbered_node_names() -> None:
    @pipeline
    def twice() -> None:
        load(1)
        load(2)

    assert list(twice.build().nodes) == ["load", "load_2"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7), (7, 7)],
)
def test_int_parameters_are_coerced(value: object, expected: int) -> None:
    assert demo.bind({"n": value})["n"] == expected


def test_bool_float_and_literal_parameters_are_coerced() -> None:
    @pipeline
    def p(flag: bool = False, lr: float = 0.1, mode: Literal["a", "b"] = "a") -> None:
        load(1)

    assert p.bind({"flag": "yes", "lr": "1e-3", "mode": "b"}) == {
        "flag": True,
        "lr": 0.001,
        "mode": "b",
    }


def test_wrong_type_parameter_message_names_pipeline_type_and_value() -> None:
    with pytest.raises(
        ParameterError, match=r"Parameter 'weight' of pipeline 'demo' expects float, got 'abc'"
    ):
        demo.bind({"weight": "abc"})
    with pytest.raises(ParameterError, match=r"expects one of 'fast', 'slow', got 'medium'"):
        demo.bind({"mode": "medium"})


def test_unknown_parameter_lists_valid_ones() -> None:
    with pytest.raises(ParameterError, match=r"no parameter 'lr'. Parameters: n, weight, mode"):
        demo.bind({"lr": 1})


def test_missing_required_parameter() -> None:
    @pipeline
    def needs(size: int) -> None:
        load(size)

    with pytest.raises(ParameterError, match="needs parameter 'size'"):
        needs.build()


def test_handle_from_another_pipeline_build_is_rejected() -> None:
    leaked: list[StepOutput] = []

    @pipeline
    def first() -> None:
        leaked.append(load(1))

    @pipeline
    def second() -> None:
        combine(leaked[0], [1])

    first.build()
    with pytest.raises(PipelineDefinitionError, match="from another pipeline build"):
        second.build()


def test_using_a_handle_as_a_value_is_rejected() -> None:
    @pipeline
    def misuse() -> None:
        xs = load(3)
        if xs:
            pass

    with pytest.raises(PipelineDefinitionError, match="tested for truth"):
        misuse.build()

    @pipeline
    def attribute() -> None:
        load(3).append(1)

    with pytest.raises(PipelineDefinitionError, match="attribute 'append'"):
        attribute.build()


def test_unpacking_a_single_output_is_rejected() -> None:
    @pipeline
    def unpack() -> None:
        _a, _b = load(3)

    with pytest.raises(PipelineDefinitionError, match="unpacked or iterated"):
        unpack.build()


def test_bad_call_signature_and_unhashable_literal_are_rejected() -> None:
    @pipeline
    def bad_call() -> None:
        combine([1])

    with pytest.raises(PipelineDefinitionError, match="do not fit its signature"):
        bad_call.build()

    @pipeline
    def bad_literal() -> None:
        combine(object(), [1])  # type: ignore[arg-type]

    with pytest.raises(PipelineDefinitionError, match="cannot be part of a cache key"):
        bad_literal.build()


def test_empty_pipeline_is_rejected() -> None:
    @pipeline
    def empty() -> None:
        return None

    with pytest.raises(PipelineDefinitionError, match="calls no steps"):
        empty.build()


def test_cycle_and_output_used_before_it_exists_are_rejected() -> None:
    graph = Graph("loop")
    graph.nodes["a"] = Node("a", load, {}, ("b",))
    graph.nodes["b"] = Node("b", load, {}, ("a",))
    with pytest.raises(PipelineDefinitionError, match="has a cycle among steps a, b"):
        graph.order()

    missing = Graph("early")
    missing.nodes["a"] = Node("a", load, {}, ("later",))
    with pytest.raises(PipelineDefinitionError, match="used before it was produced"):
        missing.order()


@given(st.lists(st.lists(st.integers(min_value=0, max_value=30), max_size=3), max_size=25))
def test_execution_order_puts_every_node_after_its_inputs(spec: list[list[int]]) -> None:
    @step
    def node(*inputs: int) -> int:
        return 0

    @pipeline
    def random_dag() -> None:
        made: list[StepOutput] = []
        for deps in spec:
            made.append(node(*[made[d % len(made)] for d in deps if made]))
        node()

    graph = random_dag.build()
    position = {n.name: i for i, n in enumerate(graph.order())}
    assert len(position) == len(spec) + 1
    for n in graph.nodes.values():
        assert all(position[d] < position[n.name] for d in n.deps)


def test_load_pipeline_errors_name_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "mod_one.py").write_text(
        "from conveyor.pipelines import pipeline, step\n"
        "@step\ndef s() -> int:\n    return 1\n"
        "@pipeline\ndef alpha() -> None:\n    s()\n"
        "@pipeline\ndef beta() -> None:\n    s()\n"
        "helper = 3\n"
    )
    with pytest.raises(PipelineNotFoundError, match="No module named 'no_such_mod'"):
        load_pipeline("no_such_mod:x", tmp_path)
    with pytest.raises(PipelineNotFoundError, match=r"'gamma' in 'mod_one' does not exist\. "):
        load_pipeline("mod_one:gamma", tmp_path)
    with pytest.raises(PipelineNotFoundError, match=r"is not a @pipeline\. Pipelines there: alpha"):
        load_pipeline("mod_one:helper", tmp_path)
    with pytest.raises(PipelineNotFoundError, match="defines 2 pipelines"):
        load_pipeline("mod_one", tmp_path)
    with pytest.raises(PipelineNotFoundError, match="does not exist"):
        load_pipeline("missing/file.py:alpha", tmp_path)
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "notes.txt").write_text("x = 1\n")
    with pytest.raises(PipelineNotFoundError, match=r"must be Python \(\.py\) files") as info:
        load_pipeline("steps/notes.txt:alpha", tmp_path)
    assert "pipelines/train.py:training" in (info.value.hint or "")
    loaded = load_pipeline("mod_one.py:beta", tmp_path)
    assert loaded.ref == "mod_one.py:beta"
    assert list(loaded.build().nodes) == ["s"]


def test_load_pipeline_wraps_import_errors(tmp_path: Path) -> None:
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(PipelineDefinitionError, match="RuntimeError: boom at import"):
        load_pipeline("broken_mod:p", tmp_path)
