"""``conveyor features ...``: apply definitions, list and show them, materialize the online
store and check it for training/serving skew."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from conveyor.cli._output import EXIT_ERROR, console, fmt_time, open_workspace, print_json

if TYPE_CHECKING:
    from conveyor.features import DefinitionRecord, FeatureStore
    from conveyor.features._skew import SkewReport

app = typer.Typer(
    help="The feature store: definitions, the online store, training/serving skew.",
    no_args_is_help=True,
)

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_SAMPLE = Annotated[
    int | None,
    typer.Option(
        "--sample", min=1, max=100_000, help="Keys sampled per view (default features.skew_sample)."
    ),
]


def _workspace() -> Any:
    return open_workspace()


@app.command("apply")
def apply(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Record a change even if it alters a registered model's features."
        ),
    ] = False,
    json_out: _JSON = False,
) -> None:
    """Record a new version of each changed definition of features.py.

    The file is the one features.definitions names in conveyor.yaml (default features.py).
    """
    with _workspace() as ws:
        applied = ws.features.apply(force=force)
    if json_out:
        print_json([{"kind": a.kind, "name": a.name, "version": a.version, "changed": a.changed}
                    for a in applied])  # fmt: skip
        return
    if not applied:
        console().print("features.py defines nothing: no entity, feature view or service.")
        return
    table = Table(title="Feature definitions")
    for column in ("kind", "name", "version", "changed"):
        table.add_column(column)
    for a in applied:
        table.add_row(a.kind, escape(a.name), f"v{a.version}", "yes" if a.changed else "-")
    out = console()
    out.print(table)
    changed = sum(a.changed for a in applied)
    out.print(f"{changed} of {len(applied)} definition(s) recorded as a new version.")


@app.command("list")
def list_(json_out: _JSON = False) -> None:
    """List the latest version of every applied entity, feature view and service."""
    with _workspace() as ws:
        records = ws.features.list()
    rows = [_summary(r) for r in records]
    if json_out:
        print_json(rows)
        return
    if not rows:
        console().print("No feature definitions yet: run `conveyor features apply`.")
        return
    table = Table(title="Feature definitions")
    for column in ("kind", "name", "version", "join keys", "dataset", "features", "ttl",
                   "created (UTC)", "by"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["kind"],
            escape(row["name"]),
            f"v{row['version']}",
            escape(", ".join(row.get("join_keys") or [])) or "-",
            escape(row.get("dataset") or "-"),
            "-" if row.get("features") is None else str(row["features"]),
            _ttl(row.get("ttl_s")),
            fmt_time(row["created_at"]),
            escape(row["created_by"]),
        )
    console().print(table)


def _summary(record: DefinitionRecord) -> dict[str, Any]:
    """What ``list`` shows of one definition."""
    spec = record.spec
    out: dict[str, Any] = {
        "kind": record.kind,
        "name": record.name,
        "version": record.version,
        "created_at": record.created_at,
        "created_by": record.created_by,
    }
    if record.kind == "view":
        out["entities"] = [e["name"] for e in spec.get("entities", [])]
        out["join_keys"] = [k for e in spec.get("entities", []) for k in e.get("join_keys", [])]
        out["dataset"] = spec.get("dataset")
        out["features"] = len(spec.get("schema", []))
        out["ttl_s"] = spec.get("ttl_s")
    elif record.kind == "service":
        out["features"] = len(spec.get("features", []))
    else:
        out["join_keys"] = list(spec.get("join_keys", []))
    return out


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A feature view, service or entity.")],
    json_out: _JSON = False,
) -> None:
    """Show a definition, its versions and (for a view) materializations and offline tables."""
    with _workspace() as ws:
        store: FeatureStore = ws.features
        history = store.show(name)
        latest = history[-1]
        runs = store.records.materializations(name) if latest.kind == "view" else []
        tables = _tables(store, ws.datasets, history) if latest.kind == "view" else []
    if json_out:
        print_json({
            "kind": latest.kind,
            "name": latest.name,
            "version": latest.version,
            "spec": latest.spec,
            "versions": [{"version": r.version, "hash": r.definition_hash,
                          "created_at": r.created_at, "created_by": r.created_by}
                         for r in history],
            "materializations": runs,
            "tables": tables,
        })  # fmt: skip
        return
    out = console()
    out.print(f"[bold]{latest.kind} {escape(latest.ref)}[/]")
    spec = latest.spec
    if latest.kind == "view":
        _print_view(spec)
    elif latest.kind == "service":
        out.print(f"on_missing: {escape(str(spec.get('on_missing')))}")
        for ref in spec.get("features", []):
            out.print(f"  {escape(str(ref))}")
    else:
        out.print(f"join keys: {escape(', '.join(spec.get('join_keys', [])))}")
    versions = Table(title="Versions")
    for column in ("version", "hash", "created (UTC)", "by"):
        versions.add_column(column)
    for r in history:
        versions.add_row(
            f"v{r.version}", r.definition_hash[:12], fmt_time(r.created_at), escape(r.created_by)
        )
    out.print(versions)
    if latest.kind != "view":
        return
    if runs:
        done = Table(title="Materializations (newest first)")
        for column in ("id", "version", "dataset", "status", "keys written", "range", "store",
                       "finished (UTC)", "by"):  # fmt: skip
            done.add_column(column, overflow="fold")
        for m in runs:
            since = fmt_time(m.start_ts) if m.start_ts else "..."
            done.add_row(
                str(m.id),
                f"v{m.view_version}",
                f"v{m.dataset_version}",
                m.status,
                f"{m.rows:,}",
                f"{since} - {fmt_time(m.end_ts)}",
                escape(m.store_id),
                fmt_time(m.finished_at),
                escape(m.created_by),
            )
        out.print(done)
    else:
        out.print("Not materialized yet: run `conveyor features materialize`.")
    if tables:
        offline = Table(title="Offline tables")
        for column in ("version", "dataset", "rows", "from", "to", "artifact"):
            offline.add_column(column)
        for t in tables:
            offline.add_row(
                f"v{t.view_version}",
                escape(f"{t.dataset}@{t.dataset_version}"),
                f"{t.rows:,}",
                fmt_time(t.min_ts),
                fmt_time(t.max_ts),
                t.artifact_hash[:12],
            )
        out.print(offline)


def _print_view(spec: dict[str, Any]) -> None:
    out = console()
    entities = ", ".join(
        f"{e['name']} ({', '.join(e.get('join_keys', []))})" for e in spec.get("entities", [])
    )
    transform = spec.get("transformation")
    source = str(spec.get("dataset"))
    if transform:
        source += (
            f" through {transform.get('name')} (source {str(transform.get('source_hash'))[:12]})"
        )
    out.print(f"entities: {escape(entities)}")
    out.print(f"source: {escape(source)}")
    out.print(f"timestamp field: {escape(str(spec.get('timestamp_field')))}")
    out.print(f"ttl: {_ttl(spec.get('ttl_s'))}")
    features = Table(title="Features")
    for column in ("name", "type", "default"):
        features.add_column(column)
    for f in spec.get("schema", []):
        default = f.get("default")
        features.add_row(
            escape(str(f["name"])),
            str(f["dtype"]),
            "-" if default is None else escape(repr(default)),
        )
    out.print(features)


def _tables(store: FeatureStore, datasets: Any, history: list[DefinitionRecord]) -> list[Any]:
    """The offline tables computed for any version of the view, oldest first."""
    from conveyor.errors import ConveyorError

    found = []
    for record in history:
        dataset = str(record.spec.get("dataset", "")).partition("@")[0]
        try:
            versions = datasets.log(dataset)
        except ConveyorError:
            continue
        for v in sorted(versions, key=lambda d: d.version):
            table = store.records.find_table(record.name, record.version, dataset, v.version)
            if table is not None:
                found.append(table)
    return found


def _ttl(seconds: Any) -> str:
    if seconds is None:
        return "-"
    seconds = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _when(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or datetime option as an aware UTC datetime (naive means UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or datetime (e.g. 2024-01-31 or "
            "2024-01-31T12:00:00Z; without a zone it is UTC).",
            param_hint=f"'{option}'",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@app.command("materialize")
def materialize(  # noqa: PLR0917 - Typer options are parameters
    start: Annotated[
        str | None,
        typer.Option("--start", help="Ignore rows older than this (ISO 8601; naive is UTC)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Ignore rows newer than this (ISO 8601; default now)."),
    ] = None,
    views: Annotated[
        list[str] | None,
        typer.Option("--view", help="A view to materialize (repeatable; default all)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check", help="Run the skew check afterwards (exit 1 if it fails)."
        ),
    ] = True,
    sample: _SAMPLE = None,
    json_out: _JSON = False,
) -> None:
    """Write the latest feature values per entity key to the online store, incrementally."""
    from conveyor.features import FeatureNotFoundError
    from conveyor.features._skew import feature_skew

    since, until = _when(start, "--start"), _when(end, "--end")
    if since is not None and until is not None and since > until:
        raise typer.BadParameter(
            f"--start {start!r} is after --end {end!r}.", param_hint="'--start'"
        )
    report: SkewReport | None = None
    with _workspace() as ws:
        store: FeatureStore = ws.features
        known = store.definitions().views
        for name in views or []:
            if name not in known:
                raise FeatureNotFoundError(
                    f"No feature view named {name!r}; the views are: "
                    f"{', '.join(sorted(known)) or 'none'}.",
                    hint="Pass --view with one of those, or leave it out for every view.",
                    view=name,
                )

        def line(text: str) -> None:
            if not json_out:
                print(text, file=sys.stderr, flush=True)

        done = store.materialize(start=since, end=until, views=views or None, progress=line)
        if check and done:
            report = feature_skew(store, [m.view for m in done], sample=sample)
    if json_out:
        print_json({
            "materialized": [{"view": m.view, "version": m.view_version, "dataset": m.dataset,
                              "written": m.rows, "keys": m.keys, "full": m.full,
                              "id": m.record.id} for m in done],
            "skew": None if report is None else report.to_dict(),
        })  # fmt: skip
    else:
        out = console()
        if not done:
            out.print("No applied feature views to materialize: run `conveyor features apply`.")
        else:
            table = Table(title="Materialized")
            for column in ("view", "version", "dataset", "keys written", "keys", "mode"):
                table.add_column(column)
            for m in done:
                table.add_row(
                    escape(m.view),
                    f"v{m.view_version}",
                    escape(m.dataset),
                    f"{m.rows:,}",
                    f"{m.keys:,}",
                    "full" if m.full else "incremental",
                )
            out.print(table)
        if report is not None:
            _print_report(report)
    if report is not None and not report.passed:
        raise typer.Exit(EXIT_ERROR)


@app.command("skew")
def skew(
    target: Annotated[
        str | None,
        typer.Argument(help="A feature view or service (NAME or NAME@VERSION); default all."),
    ] = None,
    sample: _SAMPLE = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
    max_rate: Annotated[
        float,
        typer.Option(
            "--max-mismatch-rate", min=0.0, max=1.0, help="Largest mismatch rate that passes."
        ),
    ] = 0.0,
    json_out: _JSON = False,
) -> None:
    """Compare sampled online values with the offline point-in-time values (exit 1: skew)."""
    from conveyor.features._skew import feature_skew

    with _workspace() as ws:
        report = feature_skew(
            ws.features, target, sample=sample, seed=seed, max_mismatch_rate=max_rate
        )
    if json_out:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if not report.passed:
        raise typer.Exit(EXIT_ERROR)


def _print_report(report: SkewReport) -> None:
    out = console()
    if report.views:
        table = Table(title=f"Feature skew (online store {escape(report.store)})")
        for column in ("feature", "type", "compared", "mismatches", "rate", ""):
            table.add_column(column)
        for view in report.views:
            for f in view.features:
                bad = f.mismatch_rate > report.max_mismatch_rate or view.sampled == 0
                table.add_row(
                    escape(f.ref),
                    f.dtype,
                    f"{f.compared:,}",
                    f"{f.mismatches:,}",
                    f"{f.mismatch_rate:.1%}" if f.compared else "-",
                    "[red]FAIL[/]" if bad else "[green]ok[/]",
                )
        out.print(table)
        for view in report.views:
            for example in view.examples:
                diffs = "; ".join(
                    f"{name}: online {online!r} vs offline {offline!r}"
                    for name, (online, offline) in example.differences.items()
                )
                key = ", ".join(f"{k}={v!r}" for k, v in example.key.items())
                out.print(
                    f"  {view.view} [{key}] at {fmt_time(example.event_ts)}: {diffs}",
                    markup=False,
                )
            if view.stale_keys:
                out.print(
                    f"  {view.view}: {view.stale_keys} sampled key(s) have newer offline rows "
                    "than the online store (new data since the last materialization).",
                    markup=False,
                )
    verdict = "[green]PASS[/]" if report.passed else "[red]FAIL[/]"
    out.print(f"{verdict} {escape(report.explanation)}")
