"""``conveyor monitor run`` and ``conveyor monitor report``.

Exit codes of ``monitor run``: 0 verdict ok, 3 drift, 4 degraded, 5 insufficient data,
1 error (one line and a hint on stderr). ``monitor report`` exits 0, or 1 when no report
exists yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from conveyor.cli._output import console, fmt_time, open_workspace, print_json

if TYPE_CHECKING:
    from conveyor.monitoring import MonitoringReport

app = typer.Typer(help="Drift, data quality and performance of live traffic.", no_args_is_help=True)

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
EXIT_CODES = {"ok": 0, "drift": 3, "degraded": 4, "insufficient": 5}
_EXIT_HELP = "Exit codes: 0 ok, 3 drift, 4 degraded, 5 insufficient data, 1 error."


@app.command("run", epilog=_EXIT_HELP)
def run(
    env: Annotated[str, typer.Option("--env", help="The deployment environment.")],
    window: Annotated[
        str | None,
        typer.Option("--window", help="1h, 1d, 30m or N rows (default: monitoring.window)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="NAME@REF, for an environment without a deployment."),
    ] = None,
    json_out: _JSON = False,
) -> None:
    """Compute, store and announce a monitoring report over a window of ENV's traffic."""
    from conveyor.monitoring import monitor_run

    with open_workspace() as ws:
        report = monitor_run(ws, env, window=window, model=model)
    _show(report, json_out)
    raise typer.Exit(EXIT_CODES.get(report.verdict, 1))


@app.command("report")
def report(
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    json_out: _JSON = False,
) -> None:
    """Show the latest stored monitoring report."""
    from conveyor.errors import ConveyorError
    from conveyor.monitoring import latest_report

    with open_workspace() as ws:
        found = latest_report(ws, env)
    if found is None:
        where = f" for environment {env!r}" if env else ""
        raise ConveyorError(
            f"No monitoring report exists yet{where}.",
            hint="Run `conveyor monitor run --env ENV` first.",
        )
    _show(found, json_out)


def _show(report: MonitoringReport, json_out: bool) -> None:
    if json_out:
        print_json(report.to_dict())
        return
    out = console()
    out.print(
        f"Report {report.id} for [bold]{report.environment}[/] ({report.ref}, revision "
        f"{report.revision if report.revision is not None else '-'}): "
        f"[bold]{report.verdict}[/] - {escape(report.message)}"
    )
    out.print(
        f"Window {fmt_time(report.window_start)} .. {fmt_time(report.window_end)}: "
        f"{report.rows} predictions, {report.labelled_rows} labelled."
    )
    table = Table("feature", "test", "score", "threshold", "drifted", "quality")
    quality = report.quality.get("columns", {})
    names = sorted({*report.drift.get("features", {}), *quality})
    for name in names:
        result = report.drift.get("features", {}).get(name)
        status = quality.get(name, {}).get("status", "-")
        if result is None:
            table.add_row(escape(name), "-", "-", "-", "-", status)
            continue
        table.add_row(
            escape(name),
            result["test"],
            f"{result['score']:.4g}",
            f"{result['threshold']:.4g}",
            "yes" if result["drifted"] else "no",
            status,
        )
    out.print(table)
    perf = report.performance
    if perf.get("value") is not None:
        lo, hi = perf["ci"]
        reference = perf.get("reference")
        recorded = "" if reference is None else f"; recorded at registration {reference:.4f}"
        out.print(
            f"{perf['metric']} {perf['value']:.4f} (95% CI {lo:.4f}-{hi:.4f}) on "
            f"{perf['labels']} labels{recorded}."
        )
    for alert in report.alerts:
        out.print(f"[yellow]{alert['event']}[/] {alert['incident']}")
    for kind, path in report.files.items():
        out.print(f"{kind}: {path}")
