"""Offline batch scoring: a Parquet or CSV file of any size through a registered model.

:func:`predict_file` streams the input in batches of ``batch_rows`` rows (Parquet row
groups through ``ParquetFile.iter_batches``, CSV through pyarrow's streaming reader),
checks every batch with the server's own input validation (the same column types,
nullability and non-finite policy as ``POST /v1/predict``), predicts it and appends it to
the output, so memory is bounded by the batch size, not the file size (Parquet column
chunks are streamed, so a large row group is not decoded at once either). The output is
written to a temporary file next to it and renamed at the end: an interrupted run leaves
no half-written output (reading the files is :mod:`conveyor.serving._batch_io`'s, writing
them :mod:`conveyor.serving._batch_output`'s). Every run is audited
(``model.batch_predict``) with the input's hash and size, the version and its content hash,
the row count and the output path.

With ``executor="ray"`` the Parquet row groups are scored by Ray actors (each loads the
model once from the artifact store, verified by hash) that write one part file each; the
parts are then concatenated in input order, so the output equals the local one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from conveyor.errors import ConveyorError
from conveyor.serving._batch_io import (
    BatchCallback,
    BatchInputError,
    input_files,
    input_hash,
    read_batches,
    shown,
    total_rows,
)
from conveyor.serving._batch_output import check_output, conform, write_output
from conveyor.serving._errors import RequestError
from conveyor.serving._model import ServedModel
from conveyor.serving._settings import ServingSettings

__all__ = ["BatchInputError", "BatchPredictionResult", "predict_file"]

Executor = Literal["local", "ray"]
PREDICTION = "prediction"
#: The most rows a batch may hold (pyarrow's batch sizes are C integers).
MAX_BATCH_ROWS = 2**31 - 1


@dataclass(frozen=True)
class BatchPredictionResult:
    """What one :func:`predict_file` run did.

    Attributes:
        model: The model name.
        version: The version that scored the rows.
        content_hash: The version's content hash (its manifest object).
        input: The input file or folder.
        input_hash: Hash of the input bytes (of every part's hash, for a folder or glob).
        input_bytes: Size of the input in bytes.
        output: The output file.
        rows: Rows scored.
        batches: Batches scored.
        executor: ``"local"`` or ``"ray"``.
        seconds: Wall time of the run.
    """

    model: str
    version: int
    content_hash: str
    input: str
    input_hash: str
    input_bytes: int
    output: str
    rows: int
    batches: int
    executor: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return asdict(self)


def predict_file(
    workspace: Any,
    ref: str,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    batch_rows: int = 50_000,
    proba: bool = False,
    keep: Sequence[str] | None = None,
    executor: Executor = "local",
    settings: ServingSettings | None = None,
    on_batch: BatchCallback | None = None,
) -> BatchPredictionResult:
    """Score a Parquet or CSV file (or a folder or glob of Parquet parts) with a version.

    Args:
        workspace: An open workspace.
        ref: ``name@version``, ``name@alias``, ``name`` (latest) or ``name@ENV`` (the
            version an environment's deployment serves, when no alias has that name).
        input: A ``.parquet``/``.csv`` file, a folder of ``.parquet`` parts or a glob.
        output: The ``.parquet`` or ``.csv`` file to write (replaced at the end).
        batch_rows: Rows per batch; memory grows with it, not with the file.
        proba: Add one ``proba_<class>`` column per class (classifiers only).
        keep: Input columns copied to the output (default: every input column).
        executor: ``"local"`` (this process) or ``"ray"`` (Parquet row groups on Ray).
        settings: The input policies (default: the server's, ``batch_rows`` rows a batch).
        on_batch: Called after each batch (rows done, batches done, total rows or 0).

    Returns:
        What was scored, by which version, where it was written.

    Raises:
        BatchInputError: The input cannot be read or the output cannot be written there.
        RequestError: A batch does not fit the model's signature (column, row and value named).
        ModelNotFoundError: The reference names no version.
        IntegrityError: A file of the version does not match its recorded hash.
    """
    started = time.perf_counter()
    if (
        not isinstance(batch_rows, int)
        or isinstance(batch_rows, bool)
        or not 1 <= batch_rows <= MAX_BATCH_ROWS
    ):
        raise BatchInputError(
            f"batch_rows must be a whole number from 1 to {MAX_BATCH_ROWS:,}; "
            f"got {shown(repr(batch_rows))[:40]}.",
            hint="Pass --batch-rows 50000 (rows held in memory at once).",
            batch_rows=str(batch_rows)[:40],
        )
    if executor not in ("local", "ray"):
        raise BatchInputError(
            f"Unknown executor {executor!r}.",
            hint="Use 'local' or 'ray'.",
            executor=executor,
        )
    files = input_files(input)
    target = check_output(output, files)
    version = resolve_version(workspace, ref)
    pinned = f"{version.name}@{version.version}"
    policy = settings or ServingSettings(max_batch_rows=batch_rows)
    if policy.max_batch_rows < batch_rows:
        policy = ServingSettings(**{**asdict(policy), "max_batch_rows": batch_rows})
    kept = tuple(dict.fromkeys(keep)) if keep is not None else None  # a name kept once
    job = ScoringJob(batch_rows, proba, kept, policy)
    if executor == "ray":
        from conveyor.serving._batch_ray import score_on_ray

        rows, batches = score_on_ray(workspace, pinned, files, target, job, on_batch=on_batch)
    else:
        model = load_model(workspace, pinned, job)
        tables = score_files(model, files, job)
        rows, batches = write_output(target, tables, on_batch, total_rows(files))
    result = BatchPredictionResult(
        model=version.name,
        version=version.version,
        content_hash=version.content_hash,
        input=str(input),
        input_hash=input_hash(files),
        input_bytes=sum(f.stat().st_size for f in files),
        output=str(target),
        rows=rows,
        batches=batches,
        executor=executor,
        seconds=time.perf_counter() - started,
    )
    _audit(workspace, result)
    return result


@dataclass(frozen=True)
class ScoringJob:
    """How each batch is scored (sent to Ray workers as is)."""

    batch_rows: int
    proba: bool
    keep: tuple[str, ...] | None
    settings: ServingSettings


def resolve_version(workspace: Any, ref: str) -> Any:
    """The version ``ref`` names; ``name@ENV`` falls back to what ENV's deployment serves.

    An alias wins over an environment of the same name. In an environment the live
    variant of the model with the largest weight is taken (never a shadow).
    """
    from conveyor.registry import AliasNotFoundError

    try:
        return workspace.models.get(ref)
    except AliasNotFoundError as missing:
        name, _, env = ref.partition("@")
        try:
            deployment = workspace.deployments.current(env)
        except ConveyorError:
            deployment = None
        live = [
            v
            for v in (deployment.variants if deployment is not None else ())
            if v.model == name and v.role != "shadow" and v.weight > 0
        ]
        if not live:
            raise missing from None
        chosen = max(live, key=lambda v: v.weight)
        return workspace.models.get(f"{name}@{chosen.version}")


def load_model(workspace: Any, pinned: str, job: ScoringJob) -> ServedModel:
    """Load ``pinned`` with every file verified (what the server loads), refusing models
    whose features the server would look up (batch scoring has no online store)."""
    from conveyor.serving._loading import model_loader

    model = model_loader(workspace, pinned, prefer_onnx=False, explain=False)()
    if model.features is not None:
        raise BatchInputError(
            f"Model {pinned} was trained with a feature service; batch scoring takes "
            "complete rows and does not look features up.",
            hint="Join the features into the input file and register the model without "
            "the feature service, or serve it with `conveyor serve`.",
            name=model.name,
            version=model.version,
        )
    if job.proba and not model.has_proba:
        raise BatchInputError(
            f"Model {pinned} has no class probabilities (no predict_proba).",
            hint="Drop --proba for this model.",
            name=model.name,
            version=model.version,
        )
    return model


def score_files(model: ServedModel, files: Sequence[Path], job: ScoringJob) -> Iterator[Any]:
    """Scored Arrow tables, one per batch of every file in turn, each with the first
    table's columns in its order."""
    done = 0
    schema = None
    for path in files:
        for table in read_batches(model, path, job.batch_rows):
            out = score_table(model, table, job, path=path, first_row=done)
            schema = schema or out.schema
            yield conform(out, schema, path)
            done += table.num_rows


def score_table(
    model: ServedModel, table: Any, job: ScoringJob, *, path: Path, first_row: int
) -> Any:
    """The output table of one input batch: kept input columns, ``prediction``, probabilities.

    Raises:
        RequestError: The batch does not fit the signature; the message names the file,
            the row (0-based, counted over the whole input) and the server's reason.
    """
    import pyarrow as pa

    from conveyor.serving._inputs import from_columns
    from conveyor.serving._predict import call_model, call_proba

    columns = table.to_pydict()
    try:
        rows = from_columns(model, columns, job.settings)
        predictions = call_model(model, rows)
        probabilities = call_proba(model, rows) if job.proba else None
    except RequestError as exc:
        raise _located(exc, columns, path, first_row, table.num_rows) from exc
    del columns
    keep = list(table.column_names) if job.keep is None else list(job.keep)
    missing = [c for c in keep if c not in table.column_names]
    if missing:
        raise BatchInputError(
            f"Column(s) to keep not in {shown(path)}: {', '.join(map(shown, missing))}.",
            hint=f"Keep some of: {', '.join(map(shown, table.column_names))}.",
            missing=missing,
        )
    out = table.select(keep)
    if PREDICTION in keep:
        raise BatchInputError(
            f"Input {shown(path)} has a column named {PREDICTION!r}, which the output adds.",
            hint="Rename it, or pass --keep with the columns to copy (an id column).",
            input=str(path),
        )
    out = out.append_column(PREDICTION, pa.array(predictions))
    if probabilities is not None:
        labels = model.classes or tuple(range(len(probabilities[0]) if probabilities else 0))
        for i, label in enumerate(labels):
            out = out.append_column(
                f"proba_{label}", pa.array([p[i] for p in probabilities], pa.float64())
            )
    return out


def _located(
    exc: RequestError, columns: dict[str, list[Any]], path: Path, first_row: int, n: int
) -> RequestError:
    """``exc`` again, its message naming the file and the row of the offending value."""
    column = exc.fields.get("column")
    quoted = exc.fields.get("value")
    where = f"rows {first_row}-{first_row + n - 1}"
    if isinstance(column, str) and column in columns and quoted is not None:
        for i, value in enumerate(columns[column]):
            text = repr(value)
            if (text if len(text) <= 60 else text[:57] + "...") == quoted:
                where = f"row {first_row + i}"
                break
    located = type(exc).__new__(type(exc))
    ConveyorError.__init__(
        located,
        f"{shown(path)}, {where}: {exc.message}",
        hint=exc.hint,
        **{**exc.fields, "input": str(path), "where": where},
    )
    return located


def _audit(workspace: Any, result: BatchPredictionResult) -> None:
    details = result.to_dict()
    details["seconds"] = round(result.seconds, 3)
    workspace.audit.record_event(
        workspace.actor,
        "model.batch_predict",
        f"model:{result.model}@{result.version}",
        details,
    )
