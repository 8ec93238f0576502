"""The datasets pages of the web UI.

``/datasets`` lists every dataset with its newest version; ``/datasets/{name}`` its
versions (newest first, paginated) with their lineage and the runs that used each;
``/datasets/{name}/versions/{version}`` one version: the column profile recorded when it
was added (statistics, a histogram per numeric column and the top values of each
categorical one, all drawn from the stored profile, never by reading the data), schema,
content hash, source, author and the runs that used it; ``/datasets/{name}/diff`` what
changed between two versions, as ``conveyor data diff`` shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from conveyor.core import validate_name, validate_version
from conveyor.data import DatasetVersion
from conveyor.errors import ConveyorError
from conveyor.ui._core import UI, PageRequest

__all__ = ["add_pages", "column_figure", "profile_rows"]

#: Datasets per page of ``/datasets``; versions per page of ``/datasets/{name}``.
DATASETS_PAGE, VERSIONS_PAGE = 50, 20
#: Runs shown per version on a dataset's page, and on a version's page.
RUNS_PER_VERSION, RUNS_OF_VERSION = 10, 50
#: At most this many column charts on a version's page.
_MAX_CHARTS = 60


class InvalidDatasetQueryError(ConveyorError, ValueError):
    """A datasets page was given a query parameter it cannot take."""

    code = "invalid_dataset_query"


def add_pages(ui: UI) -> None:
    """Add the datasets pages to ``ui``."""

    @ui.page("/datasets", name="datasets.list")
    def datasets_page(page: PageRequest) -> Response:
        summaries = page.ws.datasets.list()
        offset = page.query_int("offset", 0, low=0, high=10**8)
        shown = summaries[offset : offset + DATASETS_PAGE]
        latest = {s.name: page.ws.datasets.get(s.name, s.latest_version) for s in shown}
        return ui.render(
            page,
            "datasets.html.j2",
            summaries=shown,
            latest=latest,
            results={"offset": offset, "limit": DATASETS_PAGE, "total": len(summaries)},
        )

    @ui.page("/datasets/{name}/diff", name="datasets.diff")
    def diff_page(page: PageRequest, name: str) -> Response:
        name = validate_name(name, kind="dataset name")
        a, b = _version_query(page, "a"), _version_query(page, "b")
        diff = page.ws.datasets.diff(f"{name}@{a}", f"{name}@{b}")
        return ui.render(page, "dataset_diff.html.j2", name=name, diff=diff)

    @ui.page("/datasets/{name}/versions/{version}", name="datasets.version")
    def version_page(page: PageRequest, name: str, version: str) -> Response:
        name = validate_name(name, kind="dataset name")
        found = page.ws.datasets.get(name, _selector(version))
        runs = page.ws.runs.records.dataset_runs(name, [found.version], limit=RUNS_OF_VERSION)
        columns = profile_rows(found)
        charts = [
            (column, figure)
            for column, figure in (
                (column, column_figure(column, stats))
                for column, stats in _profile_columns(found).items()
            )
            if figure is not None
        ][:_MAX_CHARTS]
        return ui.render(
            page,
            "dataset_version.html.j2",
            version=found,
            columns=columns,
            charts=charts,
            runs=runs[found.version],
        )

    @ui.page("/datasets/{name}", name="datasets.show")
    def dataset_page(page: PageRequest, name: str) -> Response:
        name = validate_name(name, kind="dataset name")
        versions = page.ws.datasets.log(name)
        offset = page.query_int("offset", 0, low=0, high=10**8)
        shown = versions[offset : offset + VERSIONS_PAGE]
        runs = page.ws.runs.records.dataset_runs(
            name, [v.version for v in shown], limit=RUNS_PER_VERSION
        )
        return ui.render(
            page,
            "dataset_show.html.j2",
            name=name,
            versions=shown,
            runs=runs,
            newest=versions[0] if versions else None,
            results={"offset": offset, "limit": VERSIONS_PAGE, "total": len(versions)},
        )

    @ui.page("/datasets/{rest:path}", name="datasets.unknown")
    def unknown_page(page: PageRequest, rest: str) -> Response:
        validate_name(rest, kind="dataset name")  # refuses '../etc' and other paths
        raise LookupError(f"No page at /datasets/{rest}: open a dataset from /datasets.")


def _selector(text: str) -> int | str:
    """A version from a path or query: a number (``3``, ``v3``) or ``latest``."""
    if text.lower() == "latest":
        return "latest"
    return validate_version(text, kind="dataset version")


def _version_query(page: PageRequest, name: str) -> int | str:
    text = page.query(name, max_length=40)
    if text is None:
        raise InvalidDatasetQueryError(
            f"Query parameter {name!r} is missing: the diff needs two versions.",
            hint="Pass a=OLD&b=NEW, e.g. ?a=1&b=2 (or b=latest).",
            parameter=name,
        )
    return _selector(text)


def _profile_columns(version: DatasetVersion) -> dict[str, dict[str, Any]]:
    profile = version.profile or {}
    columns = profile.get("columns")
    return dict(columns) if isinstance(columns, Mapping) else {}


def profile_rows(version: DatasetVersion) -> list[dict[str, Any]]:
    """One row per profiled column: type, missing share, distinct, min/max/mean, top."""
    rows = []
    for column, stats in _profile_columns(version).items():
        top = stats.get("top") if isinstance(stats.get("top"), list) else []
        rows.append(
            {
                "column": column,
                "type": stats.get("type") or (version.schema or {}).get(column, ""),
                "kind": stats.get("kind", ""),
                "null_share": stats.get("null_share"),
                "distinct": stats.get("distinct"),
                "distinct_exact": stats.get("distinct_exact", True),
                "min": stats.get("min"),
                "max": stats.get("max"),
                "mean": stats.get("mean"),
                "std": stats.get("std"),
                "sealed": bool(stats.get("sealed")),
                "top": [
                    (t.get("value"), t.get("count"))
                    for t in (top or [])[:3]
                    if isinstance(t, Mapping)
                ],
            }
        )
    return rows


def column_figure(column: str, stats: Mapping[str, Any]) -> dict[str, Any] | None:
    """A plotly bar chart of a column's stored histogram (numeric) or top values
    (categorical); ``None`` when the profile has neither."""
    layout = {
        "title": {"text": column},
        "margin": {"l": 50, "r": 20, "t": 40, "b": 60},
        "bargap": 0.05,
    }
    histogram = stats.get("histogram")
    if isinstance(histogram, Mapping):
        edges, counts = histogram.get("edges"), histogram.get("counts")
        if isinstance(edges, list) and isinstance(counts, list) and len(edges) == len(counts) + 1:
            centers = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
            widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
            bar = {"type": "bar", "x": centers, "y": counts, "width": widths, "name": column}
            return {"data": [bar], "layout": layout}
    top = stats.get("top")
    if isinstance(top, list) and top:
        values = [t for t in top if isinstance(t, Mapping)]
        bar = {
            "type": "bar",
            "x": [str(t.get("value")) for t in values],
            "y": [t.get("count") for t in values],
            "name": column,
        }
        return {"data": [bar], "layout": {**layout, "xaxis": {"type": "category"}}}
    return None
