"""``conveyor check``, ``conveyor ci`` and ``conveyor score``.

Exit codes of ``check`` and ``ci``: 0 the gate passed (PROMOTE), 4 REJECT (an
error-severity check failed or errored), 5 HOLD (only warning-severity checks failed),
1 error (configuration, data or pipeline failure; one line and a hint on stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from conveyor.cli._output import console, open_workspace, print_json
from conveyor.errors import ConfigError

if TYPE_CHECKING:
    from conveyor.checks import CheckResult, GateDecision, SuiteResult
    from conveyor.ci import ScoreReport

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_REPORT_DIR = Annotated[
    Path | None,
    typer.Option("--report-dir", help="Write Markdown, JUnit XML, JSON and HTML reports here."),
]
_EXIT_HELP = "Exit codes: 0 PROMOTE (gate passed), 4 REJECT, 5 HOLD, 1 error."


def register(app: typer.Typer) -> None:
    """Attach ``check``, ``ci`` and ``score`` to the root app."""
    app.command("check", epilog=_EXIT_HELP)(check)
    app.command("ci", epilog=_EXIT_HELP)(ci)
    app.command("score")(score)


def check(  # noqa: PLR0917 - Typer options are parameters
    data: Annotated[
        str | None, typer.Option("--data", help="Check a dataset version (NAME@V).")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Reference dataset version (default: the previous)."),
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Check a run (its id).")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Check a model version (NAME@V).")
    ] = None,
    report_dir: _REPORT_DIR = None,
    json_out: _JSON = False,
) -> None:
    """Run the configured checks of one subject: a dataset version, a run or a model.

    Data checks default to schema, anomalies and duplicates when conveyor.yaml declares no
    data gates; the schema is inferred from the reference version on first use.
    """
    from conveyor.ci import check_subject

    given = [name for name, v in (("--data", data), ("--run", run), ("--model", model)) if v]
    if len(given) != 1:
        raise ConfigError(
            "Say what to check: exactly one of --data NAME@V, --run RUN or --model NAME@V"
            + (f" (got {', '.join(given)})." if given else "."),
            hint="For example `conveyor check --data orders@3`.",
        )
    with open_workspace() as ws:
        outcome = check_subject(
            ws, data=data, reference=reference, run=run, model=model, report_dir=report_dir
        )
    _show(outcome.suite, outcome.decision, outcome.reports, json_out)
    raise typer.Exit(outcome.exit_code)


def ci(
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Folder for the four report files.")
    ] = Path("reports"),
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="Pipeline parameter KEY=VALUE.")
    ] = None,
    no_integration: Annotated[
        bool,
        typer.Option(
            "--no-integration", help="Skip the integration checks not listed under gates."
        ),
    ] = False,
    json_out: _JSON = False,
) -> None:
    """Restore data, train, register the candidate, run every gate, report and decide."""
    from rich.console import Console

    from conveyor.ci import run_ci
    from conveyor.cli._run import StepProgress
    from conveyor.pipelines._params import parse_assignments

    # Phases and pipeline steps on stderr (live on a terminal, plain lines otherwise),
    # so stdout stays clean for --json.
    with (
        open_workspace() as ws,
        StepProgress(Console(stderr=True, highlight=False)) as progress,
    ):
        result = run_ci(
            ws,
            report_dir=report_dir,
            params=parse_assignments(param or []),
            integration=not no_integration,
            progress=progress,
        )
    if json_out:
        print_json(
            {
                "decision": result.decision.to_dict(),
                "suite": result.suite.to_dict(),
                "reports": result.reports,
                "run_id": result.run_id,
                "model": result.model_version.ref,
                "exit_code": result.exit_code,
                "warnings": list(result.warnings),
            }
        )
    else:
        out = console()
        out.print(f"Candidate [bold]{result.model_version.ref}[/] from run {result.run_id[:8]}.")
        _show(result.suite, result.decision, result.reports, False)
    for warning in result.warnings:
        # Loud, and on stderr too so that it shows in CI logs even with --json.
        typer.secho(f"WARNING: {warning}.", fg="yellow", bold=True, err=True)
    raise typer.Exit(result.exit_code)


def score(json_out: _JSON = False) -> None:
    """The ML Test Score: 28 tests in four sections, from what the project automates."""
    from conveyor.ci import score_project

    with open_workspace() as ws:
        report = score_project(ws)
    if json_out:
        print_json(report)
        return
    _show_score(report)


def _show(
    suite: SuiteResult,
    decision: GateDecision | None,
    reports: dict[str, Path],
    json_out: bool,
) -> None:
    if json_out:
        print_json(
            {
                "decision": None if decision is None else decision.to_dict(),
                "suite": suite.to_dict(),
                "reports": reports,
            }
        )
        return
    out = console()
    table = Table(title=f"Checks of {suite.subject.kind} {suite.subject.ref}")
    for column in ("check", "status", "severity", "value", "threshold"):
        table.add_column(column, overflow="fold")
    for result in suite.results:
        table.add_row(
            result.name,
            _status(result),
            result.severity,
            _short(result.value),
            _short(result.threshold),
        )
    out.print(table)
    for result in suite.results:
        if result.status != "passed":
            out.print(f"{result.name} ({result.status}): {result.explanation}", markup=False)
    if decision is not None:
        out.print(f"[bold]Gate: {decision.decision}[/]")
        for reason in decision.reasons:
            out.print(f"  - {reason}", markup=False)
    for kind, path in reports.items():
        out.print(f"  {kind} report: {path}", markup=False)


def _status(result: CheckResult) -> str:
    colour = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}
    return f"[{colour[result.status]}]{result.status}[/]"


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _show_score(report: ScoreReport) -> None:
    from conveyor.ci import SECTION_TITLES, SECTIONS

    out = console()
    for section in SECTIONS:
        table = Table(title=f"{SECTION_TITLES[section]}: {report.sections[section]:g} / 7")
        for column in ("#", "test", "score", "hint"):
            table.add_column(column, overflow="fold")
        for point in report.points:
            if point.section == section:
                table.add_row(str(point.number), point.title, f"{point.score:g}", point.hint or "-")
        out.print(table)
    out.print(
        f"[bold]ML Test Score: {report.final:g}[/] (the lowest section score; "
        "0.5 points are for tests done by hand, which conveyor cannot see)."
    )
