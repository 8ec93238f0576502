"""``conveyor simulate``: rehearse a rollout on a labelled traffic file before production."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from conveyor.cli._output import console, open_workspace, print_json
from conveyor.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Attach ``simulate`` to the root app."""
    app.command("simulate")(simulate)


def simulate(  # noqa: PLR0917 - Typer options are parameters
    env: Annotated[str, typer.Option("--env", "-e", help="Environment whose policy to rehearse.")],
    traffic: Annotated[
        Path, typer.Option("--traffic", help="CSV or Parquet: model inputs plus `label`.")
    ],
    challenger: Annotated[
        str | None, typer.Option("--challenger", help="Version to roll out (NAME@REF).")
    ] = None,
    champion: Annotated[
        str | None, typer.Option("--champion", help="Version serving before (NAME@REF).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the routing draws.")] = 0,
    rps: Annotated[
        float, typer.Option("--rps", min=0.001, help="Virtual requests per second.")
    ] = 50.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replay TRAFFIC through the router and controller (accelerated time) and report."""
    import pandas as pd

    from conveyor.rollout._simulate import simulate as rehearse

    if not traffic.is_file():
        raise ConfigError(
            f"Traffic file {str(traffic)!r} does not exist.",
            hint="Pass a CSV or Parquet file of model inputs plus a `label` column.",
            path=str(traffic),
        )
    is_parquet = traffic.suffix.lower() in {".parquet", ".pq"}
    frame = pd.read_parquet(traffic) if is_parquet else pd.read_csv(traffic)
    with open_workspace() as ws:
        report = rehearse(
            ws, env, frame, challenger=challenger, champion=champion, seed=seed,
            requests_per_second=rps,
        )  # fmt: skip
    if json_out:
        print_json(report.to_dict())
        return
    table = Table("t (s)", "request", "action", "state", "weights", "reason")
    for event in report.timeline:
        weights = ", ".join(f"{role} {weight:g}%" for role, weight in event["weights"].items())
        table.add_row(
            f"{event['t_s']:.1f}", str(event["request"]), event["action"], event["state"],
            weights, event["reason"],
        )  # fmt: skip
    out = console()
    out.print(table)
    served = ", ".join(f"{role} {count}" for role, count in report.served.items())
    out.print(f"outcome: {report.outcome}; requests served: {served}")
    out.print(f"requests served by the worse model: {report.worse_model_requests}")
