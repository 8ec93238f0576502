"""``conveyor models ...``: list, show, card, alias, history, signing and MLflow import of
models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from conveyor.cli._output import console, fmt_time, open_workspace, print_json

app = typer.Typer(help="Registered models: versions, aliases, cards.", no_args_is_help=True)

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _workspace() -> Any:
    return open_workspace()


def _registry(ws: Any) -> Any:
    return ws.models


@app.command("list")
def list_(
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most N models (default: all).")
    ] = None,
    offset: Annotated[
        int, typer.Option("--offset", help="Skip the first N models by name (next page).")
    ] = 0,
    json_out: _JSON = False,
) -> None:
    """List models with their latest version and aliases, by name."""
    with _workspace() as ws:
        summaries = _registry(ws).list(offset=offset, limit=limit)
    if json_out:
        print_json(summaries)
        return
    if not summaries and offset > 0:
        console().print(f"No models after the first {offset}.")
        return
    if not summaries:
        console().print("No models yet: register one with ws.models.register(NAME, model).")
        return
    table = Table(title="Models")
    for column in ("name", "latest", "versions", "aliases", "updated (UTC)"):
        table.add_column(column)
    for s in summaries:
        aliases = ", ".join(f"{a}->v{v}" for a, v in s.aliases.items()) or "-"
        latest = f"v{s.latest_version}" if s.latest_version is not None else "-"
        table.add_row(s.name, latest, str(s.versions), aliases, fmt_time(s.updated_at))
    console().print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME (all versions) or NAME@VERSION|ALIAS.")],
    json_out: _JSON = False,
) -> None:
    """Show one version (NAME@REF) or every version of NAME."""
    with _workspace() as ws:
        registry = _registry(ws)
        versions = [registry.get(ref)] if "@" in ref else registry.versions(ref)
    if json_out:
        print_json(versions[0] if "@" in ref else versions)
        return
    if "@" not in ref:
        table = Table(title=f"Model {ref}")
        for column in ("version", "status", "flavor", "aliases", "run", "registered (UTC)"):
            table.add_column(column)
        for v in versions:
            table.add_row(
                f"v{v.version}",
                v.status,
                v.flavor,
                ", ".join(v.aliases) or "-",
                (v.run_id or "-")[:8],
                fmt_time(v.created_at),
            )
        console().print(table)
        return
    v = versions[0]
    out = console()
    aliases = ", ".join(v.aliases) or "-"
    out.print(f"{v.ref} ({v.flavor}, {v.status}) aliases: {aliases}", markup=False)
    by = _one_line(v.created_by)
    out.print(
        f"registered {fmt_time(v.created_at)} by {by}; content {v.content_hash}", markup=False
    )
    if v.description:
        out.print(f"description: {_inert(v.description)}", markup=False)
    sources = v.evaluation.get("metric_sources") or {}
    for key, value in sorted(v.metrics.items()):
        step = sources.get(key) if isinstance(sources, dict) else None
        origin = f" (step {_one_line(step)})" if step else ""
        out.print(f"  metric {_one_line(key)} = {value}{origin}", markup=False)
    if v.evaluation.get("holdout_rows") is not None:
        out.print(f"  holdout rows: {v.evaluation['holdout_rows']}", markup=False)
    decision = v.evaluation.get("decision")
    if isinstance(decision, dict):
        against = _one_line(decision.get("champion") or "no champion")
        out.print(f"gate: {_one_line(decision.get('verdict'))} against {against}", markup=False)
        for reason in decision.get("reasons") or []:
            out.print(f"  - {_one_line(reason)}", markup=False)
    inputs = (v.signature or {}).get("inputs") or []
    names = (
        ", ".join(
            _one_line(c.get("name")) + (" (personal data)" if c.get("pii") is True else "")
            for c in inputs
        )
        or "no signature"
    )
    out.print(f"inputs: {names}", markup=False)
    datasets = v.lineage.get("datasets") or []
    shown = ", ".join(f"{d['name']}@{d['version']}" for d in datasets) or "-"
    out.print(f"lineage: run {v.run_id or '-'}; datasets {shown}", markup=False)
    if v.onnx:
        out.print(
            f"onnx twin: {_one_line(v.onnx.get('parity') or v.onnx.get('reason'))}", markup=False
        )


def _inert(value: object, *, newlines: bool = True) -> str:
    """Stored text with its control characters (terminal escapes) made visible and inert."""
    from conveyor.registry import inert

    return inert(value, newlines=newlines)


def _one_line(value: object) -> str:
    """Stored text shown on one line, its control characters inert."""
    return _inert(value, newlines=False)


@app.command("card")
def card(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION|ALIAS.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE.md or FILE.html.")
    ] = None,
) -> None:
    """Print the model card as Markdown, or write it to a .md or .html file."""
    from conveyor.cost import card_with_cost

    with _workspace() as ws:
        model_card = _registry(ws).card(ref, public_keys=_public_keys(ws))
        model_card = card_with_cost(ws, ref, model_card)
    if output is None:
        typer.echo(_inert(model_card.markdown))
        return
    html = output.suffix.lower() in (".html", ".htm")
    output.write_text(model_card.html if html else model_card.markdown, encoding="utf-8")
    console().print(f"Wrote the card of {ref} to {output}.")


@app.command("alias")
def alias(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to point the alias at.")],
    name: Annotated[str, typer.Argument(help="Alias, e.g. champion.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    json_out: _JSON = False,
) -> None:
    """Set or move alias NAME to NAME@VERSION (atomic, audited)."""
    from conveyor.registry import parse_model_ref

    parsed = parse_model_ref(ref)
    with _workspace() as ws:
        registry = _registry(ws)
        # An alias may also be given as the target (``churn@challenger``): promote it.
        version = parsed.version if parsed.version is not None else registry.get(ref).version
        registry.set_alias(parsed.name, version, name, reason=reason)
        result = registry.get(f"{parsed.name}@{name}")
    if json_out:
        print_json({"name": parsed.name, "alias": name, "version": result.version})
        return
    console().print(f"{parsed.name}@{name} -> v{result.version}")


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Model name.")],
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Only the newest N entries (default: all)."),
    ] = None,
    json_out: _JSON = False,
) -> None:
    """Show registrations, archives and alias changes of NAME, oldest first."""
    with _workspace() as ws:
        entries = _registry(ws).history(name, limit=limit)
    if json_out:
        print_json(entries)
        return
    table = Table(title=f"History of {name}")
    for column in ("at (UTC)", "event", "version", "alias", "from", "actor", "reason"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            fmt_time(e.at),
            e.kind,
            "-" if e.version is None else f"v{e.version}",
            e.alias or "-",
            "-" if e.from_version is None else f"v{e.from_version}",
            escape(_one_line(e.actor)),
            escape(_one_line(e.reason or "-")),
        )
    console().print(table)


def _public_keys(ws: Any) -> dict[str, str]:
    return dict(ws.settings.config.signing.public_keys)


@app.command("sign")
def sign(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION|ALIAS to sign.")],
    key: Annotated[
        Path,
        typer.Option(
            "--key", help="ed25519 private key file: base64 of the 32 raw bytes, or PKCS8 PEM."
        ),
    ],
    key_name: Annotated[
        str | None,
        typer.Option(
            "--key-name",
            help="The name its public key is configured under (default: the key file's stem).",
        ),
    ] = None,
    json_out: _JSON = False,
) -> None:
    """Sign a model version with an ed25519 key (the signature is recorded and audited)."""
    from conveyor.registry import load_private_key

    private = load_private_key(key)
    name = key_name if key_name is not None else key.stem
    with _workspace() as ws:
        signature = _registry(ws).sign(ref, private, key_name=name)
    if json_out:
        print_json(signature)
        return
    console().print(
        f"Signed {signature.name}@{signature.version} with key {_one_line(name)} "
        f"(public key {signature.public_key}).",
        markup=False,
    )


@app.command("verify")
def verify(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION|ALIAS to check.")],
    json_out: _JSON = False,
) -> None:
    """Check a version's signatures against `signing.public_keys` (exit 3: one is invalid)."""
    from conveyor.registry import SignatureInvalidError

    with _workspace() as ws:
        result = _registry(ws).verify_signatures(ref, _public_keys(ws))
    if json_out:
        print_json(result.to_dict())
        if result.invalid:
            raise typer.Exit(SignatureInvalidError.exit_code)
        return
    out = console()
    if not result.results:
        out.print(f"{result.ref} is not signed.", markup=False)
    else:
        table = Table(title=f"Signatures of {escape(result.ref)}")
        for column in ("key name", "public key", "valid", "configured", "signed (UTC)", "by"):
            table.add_column(column)
        for r in result.results:
            table.add_row(
                escape(_one_line(r.key_name)),
                escape(_one_line(r.public_key)),
                "yes" if r.valid else "NO",
                "yes" if r.configured else "no",
                fmt_time(r.at),
                escape(_one_line(r.actor)),
            )
        out.print(table)
        for r in result.results:
            if r.reason:
                out.print(f"  {_one_line(r.key_name)}: {r.reason}", markup=False)
    if result.invalid:
        names = ", ".join(repr(r.key_name) for r in result.invalid)
        raise SignatureInvalidError(
            f"{result.ref} has signatures that do not verify (keys {names}): the version "
            "changed since it was signed, or its signature records were altered.",
            hint="Restore the records from a backup, or register and sign the model again.",
            ref=result.ref,
            keys=[r.key_name for r in result.invalid],
        )
    if result.trusted:
        out.print(f"trusted: signed by {', '.join(result.trusted_keys)}", markup=False)
    else:
        out.print(
            "not trusted: no valid signature by a key under signing.public_keys", markup=False
        )


@app.command("import-mlflow")
def import_mlflow(
    path: Annotated[Path, typer.Argument(help="An MLflow model folder (with MLmodel).")],
    name: Annotated[str, typer.Argument(help="Model name to register it under.")],
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Allow unpickling it once (only if you trust it).")
    ] = False,
    json_out: _JSON = False,
) -> None:
    """Register a model directory written by MLflow as a new version of NAME."""
    from conveyor.registry.flavors import import_mlflow_model

    with _workspace() as ws:
        version = import_mlflow_model(_registry(ws), path, name, trusted=trusted)
    if json_out:
        print_json(version)
        return
    console().print(f"Imported {path} as [bold]{version.ref}[/] ({version.flavor}).")
