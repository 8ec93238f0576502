"""The layered SVG graph drawer: layers, ordering, no overlaps, escaped text."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from conveyor.ui._graph import Edge, Node, layout, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def _diamond() -> tuple[list[Node], list[Edge]]:
    nodes = [Node("a", "A"), Node("b", "B"), Node("c", "C"), Node("d", "D"), Node("e", "E")]
    edges = [Edge("a", "b"), Edge("a", "c"), Edge("b", "d"), Edge("c", "d"), Edge("a", "e")]
    return nodes, edges


def test_layers_are_longest_paths_from_the_sources() -> None:
    nodes, edges = _diamond()
    drawn = layout(nodes, edges)
    layer = {key: p.layer for key, p in drawn.placed.items()}
    assert layer == {"a": 0, "b": 1, "c": 1, "e": 1, "d": 2}
    # Columns go left to right, and every edge points rightwards.
    for e in edges:
        assert drawn.placed[e.source].x < drawn.placed[e.target].x
    assert [len(column) for column in drawn.layers()] == [1, 3, 1]


def test_given_layers_are_kept() -> None:
    nodes = [Node("x", "X", layer=0), Node("y", "Y", layer=3)]
    drawn = layout(nodes, [Edge("x", "y")])
    assert drawn.placed["y"].layer == 3
    assert drawn.width > drawn.placed["y"].x + drawn.placed["y"].width - 1


def test_nodes_of_a_layer_do_not_overlap_and_fit_the_canvas() -> None:
    nodes = [Node("root", "root")] + [Node(f"n{i}", f"node {i}") for i in range(7)]
    edges = [Edge("root", f"n{i}") for i in range(7)]
    drawn = layout(nodes, edges, node_height=40, gap_y=10)
    column = drawn.layers()[1]
    assert len(column) == 7
    for upper, lower in itertools.pairwise(column):
        assert upper.y + upper.height <= lower.y
    for p in drawn.placed.values():
        assert p.x >= 0
        assert p.x + p.width <= drawn.width
        assert p.y >= 0
        assert p.y + p.height <= drawn.height


@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=30),
)
def test_no_two_nodes_overlap_in_any_dag(pairs: list[tuple[int, int]]) -> None:
    """Any DAG (edges from a lower to a higher number) lays out without overlaps."""
    nodes = [Node(str(i), f"n{i}") for i in range(10)]
    edges = [Edge(str(a), str(b)) for a, b in {(min(p), max(p)) for p in pairs if p[0] != p[1]}]
    drawn = layout(nodes, edges)
    boxes = list(drawn.placed.values())
    for i, one in enumerate(boxes):
        for other in boxes[i + 1 :]:
            apart_x = one.x + one.width <= other.x or other.x + other.width <= one.x
            apart_y = one.y + one.height <= other.y or other.y + other.height <= one.y
            assert apart_x or apart_y, (one, other)
    for e in edges:
        assert drawn.placed[e.source].layer < drawn.placed[e.target].layer


def test_a_layer_is_ordered_by_its_predecessors() -> None:
    nodes = [Node("p1", "p1"), Node("p2", "p2"), Node("c2", "c2"), Node("c1", "c1")]
    edges = [Edge("p1", "c1"), Edge("p2", "c2")]
    drawn = layout(nodes, edges)
    assert [p.node.id for p in drawn.layers()[1]] == ["c1", "c2"]


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    nodes = [
        Node("a", hostile, sublabel="<b>sub</b>", href='/runs/x" onclick="evil()'),
        Node("b<", "plain", kind='k" onmouseover="x'),
    ]
    svg = render_svg(nodes, [Edge("a", "b<")], id="lineage", title="<i>title</i>")
    assert isinstance(svg, Markup)
    text = str(svg)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "<b>" not in text
    assert "<i>" not in text
    assert 'onclick="evil()"' not in text
    assert 'onmouseover="x"' not in text
    # Still well-formed XML, and the hostile text reads back as text.
    root = ET.fromstring(text)
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert any(t is not None and hostile in t for t in titles)


def test_the_svg_has_stable_ids_links_and_one_path_per_edge() -> None:
    nodes, edges = _diamond()
    nodes[0] = Node("a", "A", href="/datasets/orders/versions/3")
    root = ET.fromstring(str(render_svg(nodes, edges, id="lineage", title="t")))
    assert root.get("id") == "lineage"
    assert root.get("class") == "graph"
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert ids == {"lineage-a", "lineage-b", "lineage-c", "lineage-d", "lineage-e"}
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert links == ["/datasets/orders/versions/3"]
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]) == len(edges)


def test_long_labels_are_shortened_with_the_full_text_as_tooltip() -> None:
    label = "a-very-long-dataset-name-that-does-not-fit@12345"
    root = ET.fromstring(str(render_svg([Node("a", label)], [], id="g", title="t")))
    shown = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert shown[0].endswith("…")
    assert len(shown[0]) < len(label)
    assert any(label in (t.text or "") for t in root.iter(f"{SVG}title"))


def test_an_empty_graph_draws_an_empty_canvas() -> None:
    drawn = layout([], [])
    assert drawn.placed == {}
    assert ET.fromstring(str(render_svg([], [], id="g", title="t"))).get("id") == "g"


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ([Node("a", "A"), Node("a", "B")], [], "unique; repeated: a"),
        ([Node("a", "A")], [Edge("a", "zz")], "names no node 'zz'"),
        ([Node("a", "A"), Node("b", "B")], [Edge("a", "b"), Edge("b", "a")], "cycle"),
        ([Node("a", "A", layer=-1)], [], "layers start at 0"),
    ],
)
def test_a_bad_graph_is_refused_with_what_is_wrong(
    nodes: list[Node], edges: list[Edge], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        layout(nodes, edges)
