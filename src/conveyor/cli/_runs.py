"""``conveyor runs ...``: list, show and compare tracked runs."""

from __future__ import annotations

import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from conveyor.cli._output import console, fmt_time, open_workspace, print_json

if TYPE_CHECKING:
    from conveyor.tracking import RunComparison

app = typer.Typer(help="List, show and compare runs.", no_args_is_help=True)

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _workspace() -> Any:
    return open_workspace()


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _e(text: str) -> str:
    """Names, keys, params and errors from runs are shown as text, never as markup or
    terminal control sequences (a control character is shown as its ``\\xNN`` escape)."""
    return escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


#: Metrics shown per run in `runs list` (all of them with --json).
_LIST_METRICS = 3


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


_WHERE_HELP = (
    "Only runs whose metric passes KEY OP NUMBER, e.g. 'rmse<0.5' (OP: < <= > >= == !=; "
    "the value last logged by the run or one of its steps). Repeat to combine (all must pass)."
)
_SORT_HELP = (
    "Order by started_at (default), name, status, duration, metric:KEY or param:KEY; "
    "runs without the value come last."
)


@app.command("list")
def list_(  # noqa: PLR0917 - Typer options are parameters
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="Only runs of MODULE:PIPELINE.")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs with STATUS.")] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="pipeline, step, tune or trial.")
    ] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", metavar="KEY OP NUMBER", help=_WHERE_HELP)
    ] = None,
    sort: Annotated[str | None, typer.Option("--sort", help=_SORT_HELP)] = None,
    ascending: Annotated[
        bool, typer.Option("--asc", help="Smallest (oldest) first instead of largest first.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most N runs.")] = 50,
    offset: Annotated[
        int, typer.Option("--offset", help="Skip the N first matching runs (next page).")
    ] = 0,
    json_out: _JSON = False,
) -> None:
    """List runs, newest first (top-level runs unless --kind is given).

    --where keeps the runs whose metric passes a comparison, --sort orders them (e.g.
    `conveyor runs list --where 'rmse<0.5' --sort metric:rmse --asc`); filtering, ordering
    and paging happen in the metadata store.
    """
    from conveyor.tracking import parse_metric_filter

    filters = [parse_metric_filter(text) for text in where or ()]
    order = _sort(sort)
    with _workspace() as ws:
        page = ws.runs.search(
            where=filters,
            sort=order,
            descending=not ascending,
            kinds=None if kind is None else [kind],
            status=status,
            pipeline_ref=pipeline,
            top_level=kind is None,
            offset=max(offset, 0),
            limit=max(limit, 0),
        )
        runs = page.runs
        trees = ws.runs.run_tree_metrics_many(runs)
    first = [f.key for f in filters] + ([order[7:]] if order.startswith("metric:") else [])
    metrics = [_first_keys(_values(trees[r.id]), first) for r in runs]
    if json_out:
        print_json([r.to_dict() | {"metrics": m} for r, m in zip(runs, metrics, strict=True)])
        return
    shown_of = f" ({len(runs)} of {page.total})" if page.total > len(runs) else ""
    table = Table(title=f"Runs{shown_of}")
    columns = ("id", "name", "kind", "status", "started (UTC)", "wall s", "pipeline", "metrics")
    for column in columns:
        table.add_column(column)
    for r, m in zip(runs, metrics, strict=True):
        shown = ", ".join(f"{_e(k)}={_num(v)}" for k, v in list(m.items())[:_LIST_METRICS])
        more = f" (+{len(m) - _LIST_METRICS})" if len(m) > _LIST_METRICS else ""
        table.add_row(
            r.short_id,
            _e(r.name),
            r.kind,
            r.status,
            fmt_time(r.started_at),
            _secs(r.wall_s),
            _e(r.pipeline_ref or "-"),
            (shown + more) or "-",
        )
    if runs:
        console().print(table)
    elif filters or page.total:
        console().print(f"No runs match (of {page.total} matching, offset {max(offset, 0)}).")
    else:
        console().print("No runs yet: run a pipeline with `conveyor run`.")


def _sort(text: str | None) -> str:
    """The order asked for, checked (an unknown order names what is accepted)."""
    from conveyor.errors import ConveyorError
    from conveyor.tracking import parse_run_sort

    if text is None:
        return "started_at"
    try:
        if _CONTROL.search(text) or not text.isprintable():
            raise ValueError(text)
        parse_run_sort(text)
    except ValueError:
        raise ConveyorError(
            f"Run order {text[:80]!r} is not one of started_at, name, status, duration, "
            "metric:KEY or param:KEY.",
            hint="e.g. --sort metric:rmse --asc for the lowest rmse first.",
            sort=text[:80],
        ) from None
    return text


def _values(tree: dict[str, Any]) -> dict[str, float | None]:
    return {k: _finite(m.value) for k, m in tree.items()}


def _first_keys(values: dict[str, float | None], first: list[str]) -> dict[str, float | None]:
    """The metrics with those filtered or sorted by first (shown in the table's columns)."""
    ahead = [k for k in dict.fromkeys(first) if k in values]
    return {k: values[k] for k in ahead} | {k: v for k, v in values.items() if k not in ahead}


def _tree_metrics(ws: Any, run_id: str) -> dict[str, float | None]:
    """Latest metrics of a run and its steps (pipeline runs carry their steps' metrics)."""
    return {k: _finite(m.value) for k, m in ws.runs.run_tree_metrics(run_id).items()}


def _details(ws: Any, run_id: str) -> dict[str, Any]:
    run = ws.runs.get(run_id)
    steps = ws.runs.children(run.id)
    tree = ws.runs.run_tree_metrics(run.id)
    return {
        "run": run.to_dict(),
        "datasets": ws.runs.datasets(run.id),
        "metrics": {k: _finite(m.value) for k, m in tree.items()},
        "metric_sources": {k: m.source for k, m in tree.items()},
        "outputs": [asdict(o) for o in ws.runs.outputs(run.id)],
        "artifacts": ws.runs.artifacts(run.id),
        "steps": [
            s.to_dict()
            | {
                # A cached step shows the values of the run whose work it reused.
                "metrics": _tree_metrics(ws, s.id),
                "outputs": [asdict(o) for o in ws.runs.outputs(s.id)],
            }
            for s in steps
        ],
    }


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id or a unique prefix.")],
    json_out: _JSON = False,
) -> None:
    """Show a run: params, code version, environment, datasets, steps, metrics, outputs."""
    with _workspace() as ws:
        info = _details(ws, run_id)
    if json_out:
        print_json(info)
        return
    run = info["run"]
    out = console()
    out.print(
        f"[bold]{run['kind']} {_e(run['name'])}[/] {run['id']} — [bold]{run['status']}[/] "
        f"(wall {_secs(run['wall_s'])} s, cpu {_secs(run['cpu_s'])} s)"
    )
    code = run["code_version"]
    code_text = "not in git"
    if code:
        dirty = f" (dirty, diff {str(code['diff_hash'])[:12]})" if code["dirty"] else ""
        code_text = f"{code['commit'][:12]}{dirty}"
    env = run["environment"] or {}
    out.print(f"pipeline: {_e(run['pipeline_ref'] or '-')}   executor: {run['executor'] or '-'}")
    out.print(
        f"code: {code_text}   python {env.get('python', '-')}, "
        f"packages {str(env.get('packages_hash', '-'))[:12]}"
    )
    out.print(f"params: {_e(str(run['params']))}")
    if info["datasets"]:
        out.print(
            "datasets: "
            + ", ".join(
                f"{_e(d['name'])}@{d['version']} ({d['content_hash'][:12]})"
                for d in info["datasets"]
            )
        )
    if run["error"]:
        out.print(f"[red]error:[/]\n{_e(run['error'])}", markup=True, highlight=False)
    if info["steps"]:
        table = Table(title="Steps")
        for column in ("id", "step", "status", "cached from", "wall s", "cpu s", "metrics"):
            table.add_column(column)
        for s in info["steps"]:
            metrics = ", ".join(f"{_e(k)}={_num(v)}" for k, v in s["metrics"].items())
            table.add_row(
                s["short_id"],
                _e(s["name"]),
                s["status"],
                (s["cached_from"] or "-")[:8],
                _secs(s["wall_s"]),
                _secs(s["cpu_s"]),
                metrics or "-",
            )
        out.print(table)
    if info["metrics"]:
        table = Table(title="Latest metrics")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("logged by")
        for key, value in info["metrics"].items():
            source = info["metric_sources"][key]
            table.add_row(_e(key), _num(value), f"step {_e(source)}" if source else run["kind"])
        out.print(table)
    outputs = info["outputs"] + [
        o | {"step": s["name"]} for s in info["steps"] for o in s["outputs"]
    ]
    if outputs:
        table = Table(title="Outputs")
        for column in ("step", "name", "type", "materializer", "hash", "size"):
            table.add_column(column)
        for o in outputs:
            table.add_row(
                _e(o.get("step", run["name"])),
                _e(o["name"]),
                _e(o["type_name"]),
                f"{o['materializer']} v{o['materializer_version']}",
                o["hash"][:12],
                str(o["size"]),
            )
        out.print(table)


@app.command("compare")
def compare(
    first: Annotated[str, typer.Argument(metavar="RUN", help="First run.")],
    second: Annotated[str, typer.Argument(metavar="RUN", help="Second run.")],
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write an HTML chart of shared metrics.")
    ] = None,
    json_out: _JSON = False,
) -> None:
    """Compare two runs: params and latest metrics side by side, metric histories.

    A pipeline run's metrics are those of its steps (see `conveyor runs show`).
    """
    with _workspace() as ws:
        diff: RunComparison = ws.runs.compare(first, second)
    runs = diff.runs
    shared = diff.shared_metrics
    if plot is not None:
        _write_plot(plot, diff, shared)
    if json_out:
        print_json(diff.to_dict() | {"plot": str(plot) if plot else None})
        return
    out = console()
    table = Table(title="Parameters")
    table.add_column("param")
    for r in runs:
        table.add_column(f"{r.short_id} {_e(r.name)}")
    for key, (a, b) in diff.params.items():
        style = "" if a == b else "bold"
        table.add_row(_e(key), _e(str(a)), _e(str(b)), style=style)
    out.print(table)
    table = Table(title="Latest metrics")
    table.add_column("metric")
    for r in runs:
        table.add_column(r.short_id, justify="right")
    table.add_column("delta", justify="right")
    for key, m in diff.metrics.items():
        table.add_row(_e(key), _num(m.first), _num(m.second), _num(m.delta))
    out.print(table)
    for key in shared:
        table = Table(title=f"History of {_e(key)}")
        table.add_column("step", justify="right")
        for r in runs:
            table.add_column(r.short_id, justify="right")
        for step, a, b in diff.by_step(key):
            table.add_row(str(step), _num(a), _num(b))
        out.print(table)
    if plot is not None:
        out.print(f"Chart written to {plot}.")


def _write_plot(path: Path, diff: RunComparison, shared: list[str]) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from conveyor.errors import ConveyorError

    if path.suffix.lower() not in (".html", ".htm"):
        raise ConveyorError(
            f"Plot file {str(path)!r} must end in .html.",
            hint="Charts are written as interactive HTML, e.g. --plot compare.html.",
            path=str(path),
        )
    rows = max(len(shared), 1)
    fig = make_subplots(rows=rows, cols=1, subplot_titles=shared or ["no shared metrics"])
    for index, key in enumerate(shared, start=1):
        for run, points in zip(diff.runs, diff.series(key), strict=True):
            fig.add_trace(
                go.Scatter(
                    x=[x for x, _ in points],
                    y=[y for _, y in points],
                    mode="lines+markers",
                    name=f"{run.short_id} {key}",
                ),
                row=index,
                col=1,
            )
    first, second = diff.runs
    fig.update_layout(title=f"{first.short_id} vs {second.short_id}", height=320 * rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
