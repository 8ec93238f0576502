"""A small layered graph drawn as inline SVG (lineage: data -> run -> model -> serving).

Nodes sit in columns (layers) from left to right; a node's layer is given, or else it is
the length of the longest path from a source to it. Within a layer nodes keep their order,
refined by one barycentre pass (each node near the mean position of its predecessors),
and never overlap. Every text put in the SVG (labels, titles, links, ids) goes through
:func:`markupsafe.escape`; the result is :class:`markupsafe.Markup` for a template.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Edge", "GraphLayout", "Node", "Placed", "layout", "render_svg"]

_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Node:
    """One box of the graph.

    Attributes:
        id: Unique within the graph (becomes part of the element's ``id``).
        label: The first line (shortened with ``…`` when too long; the full text is the
            box's tooltip).
        sublabel: A second, muted line, or ``None``.
        href: Where the box links to, or ``None``.
        layer: Its column (0 = leftmost), or ``None`` to place it after its predecessors.
        kind: A CSS class for the box (``dataset``, ``run``, ``model`` ...).
    """

    id: str
    label: str
    sublabel: str | None = None
    href: str | None = None
    layer: int | None = None
    kind: str = ""


@dataclass(frozen=True)
class Edge:
    """An arrow from node ``source`` to node ``target`` (their ids)."""

    source: str
    target: str


@dataclass(frozen=True)
class Placed:
    """A node with its box: top-left corner, width and height in pixels."""

    node: Node
    layer: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class GraphLayout:
    """Where every node goes, the edges between them, and the canvas size."""

    placed: dict[str, Placed]
    edges: tuple[Edge, ...]
    width: float
    height: float

    def layers(self) -> list[list[Placed]]:
        """The placed nodes of each layer, top to bottom."""
        count = 1 + max((p.layer for p in self.placed.values()), default=-1)
        out: list[list[Placed]] = [[] for _ in range(count)]
        for p in self.placed.values():
            out[p.layer].append(p)
        return [sorted(layer, key=lambda p: p.y) for layer in out]


def _layers(nodes: Sequence[Node], edges: Sequence[Edge]) -> dict[str, int]:
    """Each node's layer: the given one, else one more than its deepest predecessor."""
    preds: dict[str, list[str]] = {n.id: [] for n in nodes}
    for e in edges:
        preds[e.target].append(e.source)
    given = {n.id: n.layer for n in nodes}
    found: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node_id: str) -> int:
        if node_id in found:
            return found[node_id]
        fixed = given[node_id]
        if fixed is not None:
            found[node_id] = fixed
            return fixed
        if node_id in visiting:
            raise ValueError(f"The graph has a cycle through node {node_id!r}; draw a DAG.")
        visiting.add(node_id)
        value = 1 + max((depth(p) for p in preds[node_id]), default=-1)
        visiting.discard(node_id)
        found[node_id] = value
        return value

    for n in nodes:
        depth(n.id)
    return found


def layout(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    *,
    node_width: float = 190,
    node_height: float = 44,
    gap_x: float = 56,
    gap_y: float = 14,
    margin: float = 8,
) -> GraphLayout:
    """Place ``nodes`` in layers from left to right, each layer centred vertically.

    Raises:
        ValueError: two nodes share an id, an edge names an unknown node, a layer is
            negative, or the edges make a cycle among nodes without a layer.
    """
    ids = [n.id for n in nodes]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"Graph node ids must be unique; repeated: {', '.join(twice)}.")
    known = set(ids)
    for e in edges:
        for end in (e.source, e.target):
            if end not in known:
                raise ValueError(f"Edge {e.source!r} -> {e.target!r} names no node {end!r}.")
    for n in nodes:
        if n.layer is not None and n.layer < 0:
            raise ValueError(f"Node {n.id!r} has layer {n.layer}; layers start at 0.")
    layer_of = _layers(nodes, edges)
    count = 1 + max(layer_of.values(), default=-1)
    columns: list[list[Node]] = [[] for _ in range(count)]
    for n in nodes:
        columns[layer_of[n.id]].append(n)
    # One barycentre pass: order each layer by the mean row of its predecessors.
    preds: dict[str, list[str]] = {n.id: [] for n in nodes}
    for e in edges:
        preds[e.target].append(e.source)
    row: dict[str, float] = {}
    for column in columns:
        keyed = []
        for index, n in enumerate(column):
            above = [row[p] for p in preds[n.id] if p in row]
            keyed.append((sum(above) / len(above) if above else float(index), index, n))
        column[:] = [n for _, _, n in sorted(keyed, key=lambda item: (item[0], item[1]))]
        for index, n in enumerate(column):
            row[n.id] = float(index)
    tallest = max((len(c) for c in columns), default=0)
    full = tallest * node_height + max(tallest - 1, 0) * gap_y
    placed: dict[str, Placed] = {}
    for layer, column in enumerate(columns):
        used = len(column) * node_height + max(len(column) - 1, 0) * gap_y
        top = margin + (full - used) / 2
        for index, n in enumerate(column):
            placed[n.id] = Placed(
                node=n,
                layer=layer,
                x=margin + layer * (node_width + gap_x),
                y=top + index * (node_height + gap_y),
                width=node_width,
                height=node_height,
            )
    width = 2 * margin + count * node_width + max(count - 1, 0) * gap_x
    return GraphLayout(placed, tuple(edges), width, 2 * margin + full)


def _shorten(text: str, width: float) -> str:
    room = max(int((width - 16) / 7), 4)
    return text if len(text) <= room else text[: room - 1] + "…"


def render_svg(
    nodes: Sequence[Node], edges: Sequence[Edge], *, id: str, title: str, **options: float
) -> Markup:
    """The graph as an ``<svg class="graph">`` element with the element id ``id``.

    Each node is a ``<g class="node KIND">`` (inside an ``<a>`` when it has a link) with
    the element id ``ID-NODEID``; each edge a ``<path class="edge">`` ending in an arrow.
    ``options`` are passed to :func:`layout`.
    """
    drawn = layout(nodes, edges, **options)
    svg_id = _SAFE_ID.sub("-", id)
    parts = [
        f'<svg class="graph" id="{escape(svg_id)}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{drawn.width:.0f}" '
        f'height="{drawn.height:.0f}" viewBox="0 0 {drawn.width:.0f} {drawn.height:.0f}">',
        f"<title>{escape(title)}</title>",
        f'<defs><marker id="{escape(svg_id)}-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#9fb0c5"/></marker></defs>',
    ]
    for e in drawn.edges:
        a, b = drawn.placed[e.source], drawn.placed[e.target]
        x1, y1 = a.x + a.width, a.y + a.height / 2
        x2, y2 = b.x, b.y + b.height / 2
        mid = (x1 + x2) / 2
        parts.append(
            f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} '
            f'{x2:.1f},{y2:.1f}" marker-end="url(#{escape(svg_id)}-arrow)"/>'
        )
    for p in drawn.placed.values():
        n = p.node
        node_id = f"{svg_id}-{_SAFE_ID.sub('-', n.id)}"
        tooltip = n.label + (f"\n{n.sublabel}" if n.sublabel else "")
        body = [
            f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.width:.0f}" height="{p.height:.0f}" '
            'rx="5"/>',
            f"<title>{escape(tooltip)}</title>",
        ]
        first = p.y + (16 if n.sublabel else p.height / 2 + 4)
        body.append(
            f'<text x="{p.x + 8:.1f}" y="{first:.1f}">{escape(_shorten(n.label, p.width))}</text>'
        )
        if n.sublabel:
            body.append(
                f'<text class="sub" x="{p.x + 8:.1f}" y="{p.y + 34:.1f}">'
                f"{escape(_shorten(n.sublabel, p.width))}</text>"
            )
        group = f'<g class="node {escape(n.kind)}" id="{escape(node_id)}">' + "".join(body) + "</g>"
        if n.href:
            group = f'<a href="{escape(n.href)}">{group}</a>'
        parts.append(group)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
