"""``conveyor data ...``: version, inspect, compare, restore and share datasets."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from conveyor.cli._output import (
    console,
    fmt_bytes,
    fmt_time,
    open_workspace,
    print_json,
    progress_bar,
)
from conveyor.core import ProgressCallback

app = typer.Typer(
    help="Version datasets (files, folders, CSV and Parquet tables).", no_args_is_help=True
)

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


# Byte stages of data add/push/pull/checkout; below this size no plain lines are printed.
_BYTE_STAGES = ("Uploading", "Pushing", "Pulling", "Checking out", "Exporting")
_LARGE = 8 * 1024 * 1024
_STEPS = 4  # plain lines at 25 %, 50 %, 75 % and 100 %


@contextmanager
def _progress(enabled: bool = True) -> Iterator[ProgressCallback]:
    """Progress of long data work on stderr: a rich bar on a terminal, else plain lines
    (one per quarter of each large byte stage), so CI logs show that work goes on."""
    err = Console(stderr=True)
    if not enabled or err.is_terminal:
        with progress_bar(enabled) as bar:
            yield bar
        return
    printed: dict[str, int] = {}

    def line(stage: str, done: int, total: int) -> None:
        if total < _LARGE or not stage.startswith(_BYTE_STAGES):
            return
        step = min(_STEPS, done * _STEPS // total)
        if step > printed.get(stage, 0):
            printed[stage] = step
            share = 100 * step // _STEPS
            print(
                f"{stage}: {share}% ({fmt_bytes(done)} of {fmt_bytes(total)})",
                file=sys.stderr,
                flush=True,
            )

    yield line


def _workspace() -> Any:
    return open_workspace()


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. orders.")],
    path: Annotated[Path, typer.Argument(help="A file, a folder, or a CSV/Parquet table.")],
    message: Annotated[str | None, typer.Option("-m", "--message", help="Why.")] = None,
    json_out: _JSON = False,
) -> None:
    """Version PATH as a new version of dataset NAME (no-op when nothing changed)."""
    if not json_out:
        # Unchanged content is told from the stat cache and a read-only look at the
        # records, without opening the workspace; anything else takes the path below.
        from conveyor.cli._quick_add import quick_unchanged
        from conveyor.core import process_env

        quick = quick_unchanged(name, path, process_env())
        if quick is not None:
            console().print(f"{name}@{quick[0]} unchanged (content {quick[1][:12]}).")
            return
    with _workspace() as ws, _progress(not json_out) as progress:
        version = ws.datasets.add(
            name, path, message=message, progress=progress, link=ws.settings.config.data.link
        )
        from conveyor.cli._quick_add import remember_settings

        remember_settings(ws.settings)
    if json_out:
        print_json(version)
        return
    if version.unchanged:
        console().print(
            f"{version.name}@{version.version} unchanged (content {version.content_hash[:12]})."
        )
        return
    rows = f", {version.row_count:,} rows" if version.row_count is not None else ""
    parent = f", parent v{version.parent_version}" if version.parent_version else ""
    console().print(
        f"Added [bold]{version.name}@{version.version}[/] ({version.kind}, "
        f"{version.file_count} file(s), {fmt_bytes(version.size_bytes)}{rows}{parent}); "
        f"content {version.content_hash[:12]}. conveyor.lock updated."
    )
    if version.stats is not None and version.stats.uploaded_objects:
        console().print(_stored_by(version.stats))


def _stored_by(stats: Any) -> str:
    """How the new objects entered the store, and why some were copied when linking."""
    parts = [
        f"{count:,} {what}"
        for count, what in (
            (stats.hardlinked_objects, "hardlinked (read-only now)"),
            (stats.reflinked_objects, "reflinked"),
            (stats.copied_objects, "copied"),
        )
        if count
    ]
    line = f"Stored {stats.uploaded_objects:,} new object(s): {', '.join(parts)}."
    if stats.link == "hardlink" and stats.copied_objects + stats.reflinked_objects:
        line += (
            " data.link is hardlink: files on another file system than the store, links, "
            "files not yours, or an encrypted or remote store are copied instead."
        )
    return line


@app.command("list")
def list_(json_out: _JSON = False) -> None:
    """List datasets with their latest version."""
    with _workspace() as ws:
        summaries = ws.datasets.list()
    if json_out:
        print_json(summaries)
        return
    table = Table(title="Datasets")
    for column in ("name", "latest", "versions", "kind", "updated (UTC)"):
        table.add_column(column)
    for s in summaries:
        table.add_row(
            s.name, f"v{s.latest_version}", str(s.versions), s.kind, fmt_time(s.updated_at)
        )
    console().print(table if summaries else "No datasets yet: run `conveyor data add NAME PATH`.")


@app.command("log")
def log(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    json_out: _JSON = False,
) -> None:
    """Show every version of NAME, newest first, with its lineage."""
    with _workspace() as ws:
        versions = ws.datasets.log(name)
    if json_out:
        print_json([_version_dict(v, profile=False) for v in versions])
        return
    table = Table(title=f"{name}: {len(versions)} version(s)")
    for column in (
        "version",
        "parent",
        "created (UTC)",
        "by",
        "kind",
        "rows",
        "size",
        "hash",
        "message",
    ):
        table.add_column(column, overflow="fold")
    for v in versions:
        table.add_row(
            f"v{v.version}",
            f"v{v.parent_version}" if v.parent_version else "-",
            fmt_time(v.created_at),
            v.created_by,
            v.kind,
            f"{v.row_count:,}" if v.row_count is not None else "-",
            fmt_bytes(v.size_bytes),
            v.content_hash[:12],
            v.message or "",
        )
    console().print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION (a number or latest).")],
    json_out: _JSON = False,
) -> None:
    """Show one version: metadata, schema and column profile."""
    with _workspace() as ws:
        version = ws.datasets.get(ref)
    if json_out:
        print_json(_version_dict(version, profile=True))
        return
    out = console()
    out.print(f"[bold]{version.name}@{version.version}[/]  {version.kind}  {version.content_hash}")
    out.print(
        f"created {fmt_time(version.created_at)} by {version.created_by}; "
        f"{version.file_count} file(s), {fmt_bytes(version.size_bytes)}"
        + (f", {version.row_count:,} rows" if version.row_count is not None else "")
        + (f"; parent v{version.parent_version}" if version.parent_version else "")
    )
    if version.message:
        out.print(f"message: {version.message}", markup=False)
    columns = (version.profile or {}).get("columns", {})
    if columns:
        out.print(_profile_table(columns))


@app.command("diff")
def diff(
    a: Annotated[str, typer.Argument(help="NAME@A")],
    b: Annotated[str, typer.Argument(help="NAME@B")],
    json_out: _JSON = False,
) -> None:
    """Compare two versions: files, schema, row counts and column statistics."""
    with _workspace() as ws:
        result = ws.datasets.diff(a, b)
    if json_out:
        print_json(result)
        return
    _render_diff(result)


@app.command("checkout")
def checkout(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to restore.")],
    dest: Annotated[Path, typer.Argument(help="Destination file or folder.")],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite different existing files.")
    ] = False,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Tables only: original (the file as added), parquet or csv. Default: the "
            "original file, or the format DEST's suffix names.",
        ),
    ] = None,
    json_out: _JSON = False,
) -> None:
    """Restore a version's exact bytes to DEST (every byte verified)."""
    from conveyor.data import CHECKOUT_FORMATS, CheckoutFormatError

    if format is not None and format not in CHECKOUT_FORMATS:
        raise CheckoutFormatError(
            f"Unknown checkout format {format!r}; expected one of {', '.join(CHECKOUT_FORMATS)}.",
            hint=f"Run `conveyor data checkout {ref} {dest} --format csv` (or original, parquet).",
            format=format,
        )
    with _workspace() as ws, _progress(not json_out) as progress:
        version = ws.datasets.get(ref)
        path = ws.datasets.checkout(
            version.ref,
            dest,
            force=force,
            format=format,
            progress=progress,
        )
    if json_out:
        print_json(
            {
                "name": version.name,
                "version": version.version,
                "kind": version.kind,
                "content_hash": version.content_hash,
                "path": str(path),
                "format": format,
            }
        )
        return
    console().print(f"Checked out {version.name}@{version.version} to {path}.", markup=False)


_NAMES = Annotated[
    list[str] | None,
    typer.Argument(help="NAME (its pinned version) or NAME@VERSION; default: all pinned."),
]
_REMOTE = Annotated[str | None, typer.Option(help="Remote URL (default: store.remote_url).")]
_ALL = Annotated[
    bool, typer.Option("--all", help="Every version of the datasets, not only the pinned one.")
]


@app.command("push")
def push(
    names: _NAMES = None,
    remote: _REMOTE = None,
    all_versions: _ALL = False,
    json_out: _JSON = False,
) -> None:
    """Upload versions (default: those pinned in conveyor.lock) and all manifests to a remote."""
    _transfer("push", names, remote, all_versions=all_versions, json_out=json_out)


@app.command("pull")
def pull(
    names: _NAMES = None,
    remote: _REMOTE = None,
    all_versions: _ALL = False,
    json_out: _JSON = False,
) -> None:
    """Fetch versions from a remote: the pinned ones (restores a fresh clone), NAME@VERSION,
    or --all."""
    _transfer("pull", names, remote, all_versions=all_versions, json_out=json_out)


def _transfer(
    direction: str,
    names: list[str] | None,
    remote: str | None,
    *,
    all_versions: bool,
    json_out: bool,
) -> None:
    with _workspace() as ws, _progress(not json_out) as progress:
        other = ws.open_remote(remote)
        move = ws.datasets.push if direction == "push" else ws.datasets.pull
        result = move(other, names or None, progress=progress, all_versions=all_versions)
    if json_out:
        print_json(result)
        return
    verb = "Pushed to" if direction == "push" else "Pulled from"
    console().print(f"{verb} {other.url}: {result}", markup=False)


def _render_diff(diff: Any) -> None:
    out = console()
    out.print(f"[bold]{diff.a}[/] -> [bold]{diff.b}[/]")
    if diff.is_empty:
        out.print("No differences.")
        return
    rows_a, rows_b = diff.row_counts
    if rows_a is not None or rows_b is not None:
        out.print(f"rows: {rows_a} -> {rows_b} ({diff.row_count_delta:+})")
    for label, items in (
        ("files added", diff.files_added),
        ("files removed", diff.files_removed),
        ("files changed", diff.files_changed),
        ("columns added", diff.columns_added),
        ("columns removed", diff.columns_removed),
    ):
        if items:
            shown = ", ".join(items[:20]) + (
                f" ... ({len(items)} in all)" if len(items) > 20 else ""
            )
            out.print(f"{label}: {shown}", markup=False)
    for column, (ta, tb) in diff.type_changes.items():
        out.print(f"type of {column}: {ta} -> {tb}", markup=False)
    if diff.stat_changes or diff.top_changes:
        table = Table(title="Column changes")
        for name in ("column", "statistic", diff.a, diff.b):
            table.add_column(name, overflow="fold")
        for column, stats in diff.stat_changes.items():
            for stat, change in stats.items():
                table.add_row(column, stat, _num(change["a"]), _num(change["b"]))
        for column, tops in diff.top_changes.items():
            for value, change in list(tops.items())[:5]:
                table.add_row(column, f"share of {value!r}", _num(change["a"]), _num(change["b"]))
        out.print(table)


def _version_dict(version: Any, *, profile: bool) -> dict[str, Any]:
    from conveyor.cli._output import to_jsonable

    data: dict[str, Any] = to_jsonable(version)
    if not profile:
        data.pop("profile", None)
    return data


def _profile_table(columns: dict[str, Any]) -> Table:
    table = Table(title="Profile")
    for column in ("column", "type", "nulls", "distinct", "min", "mean", "max", "top values"):
        table.add_column(column, overflow="fold")
    for name, stats in columns.items():
        top = stats.get("top") or []
        top_text = ", ".join(f"{t.get('value')} ({t.get('count')})" for t in top[:3])
        table.add_row(
            name,
            str(stats.get("type", "")),
            str(stats.get("nulls", "")),
            str(stats.get("distinct", "")),
            _num(stats.get("min")),
            _num(stats.get("mean")),
            _num(stats.get("max")),
            top_text,
        )
    return table


def _num(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command("schema")
def schema(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to infer the schema from.")],
    tolerance: Annotated[
        float | None,
        typer.Option(
            help="Widen numeric ranges by this share of their span on each side "
            "(default 0.25; 0 = exact ranges)."
        ),
    ] = None,
    max_categories: Annotated[
        int, typer.Option(help="String columns with at most this many values get a category list.")
    ] = 50,
    json_out: _JSON = False,
) -> None:
    """Infer a table version's schema and store it as the dataset's next schema version.

    The `schema` check (`conveyor check --data`, and the `schema` gate) validates later
    versions against it.
    """
    from conveyor.checks.data import infer_schema

    with _workspace() as ws:
        widen = {} if tolerance is None else {"tolerance": tolerance}
        stored = infer_schema(ws, ref, max_categories=max_categories, **widen)
    if json_out:
        print_json(
            {
                "dataset": stored.dataset,
                "schema_version": stored.version,
                "from_dataset_version": stored.from_dataset_version,
                "unchanged": stored.unchanged,
                "schema": stored.document,
            }
        )
        return
    state = "unchanged" if stored.unchanged else "stored"
    columns = stored.document.get("pandera", {}).get("columns", {})
    console().print(
        f"Schema v{stored.version} of {stored.dataset} {state} "
        f"(inferred from {stored.dataset}@{stored.from_dataset_version}, {len(columns)} columns)."
    )
