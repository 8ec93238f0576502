"""``conveyor cost``: what training and serving model versions used, and what it costs."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from conveyor.cli._output import console, open_workspace, print_json

_EPILOG = (
    "Prices come from the `cost:` section of conveyor.yaml (cpu_hour, gb_hour, spot_discount, "
    "currency); without them the report shows resource use only. Exit codes: 0 report "
    "printed, 1 error (unknown model or environment, invalid --since)."
)


def register(app: typer.Typer) -> None:
    """Attach ``cost`` to the root app."""
    app.command("cost", epilog=_EPILOG)(cost)


def cost(
    model: Annotated[
        str | None,
        typer.Option("--model", help="One version, NAME@VERSION|ALIAS (default: many)."),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", help="The versions this environment serves, and its servers only."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Serving records of the last 30d, 12h, 2w... (default: all)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Training and tuning cost of versions (their run trees) and serving cost per 1,000
    predictions, with what spot capacity and scale-to-zero would save."""
    from conveyor.cost import cost_report, model_cost, parse_since

    if since is not None:
        parse_since(since)  # refuse a bad window before opening the workspace
    with open_workspace() as ws:
        if model is not None:
            costs = [model_cost(ws, model, since=since)]
            if env is not None:
                costs = [_only_env(c, env) for c in costs]
        else:
            costs = cost_report(ws, env=env, since=since)
    if json_out:
        print_json([c.to_dict() for c in costs])
        return
    _render(costs, env=env, since=since)


def _only_env(cost: Any, env: str) -> Any:
    import dataclasses

    return dataclasses.replace(cost, serving=tuple(s for s in cost.serving if s.environment == env))


def _render(costs: list[Any], *, env: str | None, since: str | None) -> None:
    from conveyor.cost import amount, money

    out = console()
    if not costs:
        where = (
            f" active in {env}"
            if env
            else (f" registered or served in the last {since}" if since else "")
        )
        out.print(f"No model versions{where}.")
        return
    training = Table(title="Training and tuning (run tree of each version)")
    for column in (
        "version",
        "steps",
        "trials",
        "cached",
        "CPU s",
        "GB-h",
        "cost",
        "on spot",
        "cached saved",
    ):
        training.add_column(column, justify="left" if column == "version" else "right")
    serving = Table(title="Serving" + (f" since {since}" if since else ""))
    for column in (
        "version",
        "env",
        "predictions",
        "CPU s",
        "busy",
        "cost",
        "per 1,000",
        "scale-to-zero saves",
    ):
        serving.add_column(column, justify="left" if column in ("version", "env") else "right")
    notes: list[str] = []
    for c in costs:
        cur = c.currency
        t = c.training
        if t is None:
            training.add_row(escape(c.ref), "-", "-", "-", "-", "-", "-", "-", "-")
        else:
            training.add_row(
                escape(c.ref),
                str(t.steps),
                str(t.trials),
                str(t.cached_steps),
                amount(t.cpu_s),
                amount(t.gb_hours),
                money(t.cost, cur),
                money(t.spot_cost, cur),
                amount(t.cached_saved_cpu_s, "CPU s") if t.cached_steps else "-",
            )
        for s in c.serving:
            busy = f"{s.busy_fraction:.1%}" if s.busy_fraction is not None else "-"
            serving.add_row(
                escape(c.ref),
                escape(s.environment or "(direct)"),
                str(s.predictions),
                amount(s.cpu_s),
                busy,
                money(s.cost, cur),
                money(s.per_1000, cur),
                money(s.scale_to_zero_saving, cur),
            )
        notes += [f"{c.ref}: {n}" for n in c.notes if not n.startswith("No prices")]
    out.print(training)
    if serving.row_count:
        out.print(serving)
    if not costs[0].priced:
        out.print(
            "No prices are set: this is resource use only. Set cpu_hour and gb_hour (and "
            "spot_discount, currency) under `cost:` in conveyor.yaml."
        )
    for note in notes:
        out.print(escape(note))
