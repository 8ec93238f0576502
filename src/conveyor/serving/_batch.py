"""Offline batch scoring: a Parquet or CSV file of any size through a registered model.

:func:`predict_file` streams the input in batches of ``batch_rows`` rows (Parquet row
groups through ``ParquetFile.iter_batches``, CSV through pyarrow's streaming reader),
checks every batch with the server's own input validation (the same column types,
nullability and non-finite policy as ``POST /v1/predict``), predicts it and appends it to
the output, so memory is bounded by the batch size, not the file size (Parquet column
chunks are streamed, so a large row group is not decoded at once either). The output is
written to a temporary file next to it and renamed at the end: an interrupted run leaves
no half-written output. Every run is audited (``model.batch_predict``) with the input's
hash and size, the version and its content hash, the row count and the output path.

With ``executor="ray"`` the Parquet row groups are scored by Ray actors (each loads the
model once from the artifact store, verified by hash) that write one part file each; the
parts are then concatenated in input order, so the output equals the local one.
"""

from __future__ import annotations

import contextlib
import glob
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from conveyor.errors import ConveyorError
from conveyor.serving._errors import RequestError
from conveyor.serving._model import ServedModel
from conveyor.serving._settings import ServingSettings

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BatchInputError", "BatchPredictionResult", "predict_file"]

Executor = Literal["local", "ray"]
#: Called after each batch with (rows done, batches done, total rows or 0 when unknown).
BatchCallback = Callable[[int, int, int], None]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv",)
PREDICTION = "prediction"
#: Bytes read at a time from a Parquet column chunk (streamed, not whole row groups).
_READ_BUFFER = 1 << 20
_ARROW_TYPES = {"double": "float64", "float": "float64", "long": "int64", "integer": "int64"}


class BatchInputError(ConveyorError, ValueError):
    """The input or output of a batch-scoring run cannot be used (named, with the reason)."""

    code = "batch_input_error"


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
    if batch_rows < 1:
        raise BatchInputError(
            f"batch_rows must be at least 1; got {batch_rows}.",
            hint="Pass --batch-rows 50000 (rows held in memory at once).",
            batch_rows=batch_rows,
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
    job = ScoringJob(batch_rows, proba, tuple(keep) if keep is not None else None, policy)
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
        input_hash=_input_hash(files),
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


def input_files(source: str | os.PathLike[str]) -> list[Path]:
    """The files ``source`` names: one file, a folder of Parquet parts, or a glob.

    Raises:
        BatchInputError: Nothing matches, or a file is neither Parquet nor CSV.
    """
    path = Path(source)
    text = str(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _PARQUET)
        if not files:
            raise BatchInputError(
                f"Folder {text} holds no .parquet files.",
                hint="Point --input at a .parquet or .csv file, or a folder of .parquet parts.",
                input=text,
            )
        return files
    if any(ch in text for ch in "*?[") and not path.exists():
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise BatchInputError(
                f"No file matches {text}.",
                hint="Check the pattern (quote it so the shell does not expand it).",
                input=text,
            )
    elif not path.is_file():
        raise BatchInputError(
            f"Input {text} does not exist.",
            hint="Point --input at a .parquet or .csv file, or a folder of .parquet parts.",
            input=text,
        )
    else:
        files = [path]
    for f in files:
        if f.suffix.lower() not in _PARQUET + _CSV:
            raise BatchInputError(
                f"Input {f} is neither Parquet nor CSV (suffix {f.suffix or 'none'!r}).",
                hint="Name the file .parquet or .csv.",
                input=str(f),
            )
    return files


def check_output(output: str | os.PathLike[str], inputs: Iterable[Path]) -> Path:
    """``output`` as a path that can be written, refused before any work is done.

    Raises:
        BatchInputError: It is a folder, its folder does not exist, it is an input, or its
            suffix is neither ``.parquet`` nor ``.csv``.
    """
    path = Path(output)
    text = str(output)
    if path.is_dir():
        raise BatchInputError(
            f"Output {text} is a folder.",
            hint="Give a file path inside it, such as predictions.parquet.",
            output=text,
        )
    if path.suffix.lower() not in _PARQUET + _CSV:
        raise BatchInputError(
            f"Output {text} is neither .parquet nor .csv.",
            hint="Name the output file .parquet or .csv (the suffix picks the format).",
            output=text,
        )
    if not path.parent.is_dir():
        raise BatchInputError(
            f"The folder of output {text} does not exist.",
            hint=f"Create it first (mkdir -p {path.parent}).",
            output=text,
        )
    resolved = path.resolve()
    if any(resolved == f.resolve() for f in inputs):
        raise BatchInputError(
            f"Output {text} is the input file; scoring would overwrite what it reads.",
            hint="Write the predictions to another file.",
            output=text,
        )
    return path


def score_files(model: ServedModel, files: Sequence[Path], job: ScoringJob) -> Iterator[Any]:
    """Scored Arrow tables, one per batch of every file in turn."""
    done = 0
    for path in files:
        for table in read_batches(model, path, job.batch_rows):
            yield score_table(model, table, job, path=path, first_row=done)
            done += table.num_rows


def read_batches(
    model: ServedModel,
    path: Path,
    batch_rows: int,
    row_groups: Sequence[int] | None = None,
) -> Iterator[Any]:
    """Arrow tables of at most ``batch_rows`` rows read from ``path``.

    CSV columns of the signature are parsed as the signature's types (a value that does
    not parse names its column and row); Parquet keeps its own types and is checked like a
    request.
    """
    import pyarrow as pa

    try:
        if path.suffix.lower() in _CSV:
            batches: Iterable[Any] = _csv_batches(model, path)
        else:
            import pyarrow.parquet as pq

            # Streamed column chunks: without a buffer a whole row group is decoded at once.
            parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=_READ_BUFFER)
            batches = parquet.iter_batches(batch_size=batch_rows, row_groups=row_groups)
        yield from _rebatch(batches, batch_rows)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from exc


def _csv_batches(model: ServedModel, path: Path) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types: dict[str, Any] = {}
    for column in model.columns:
        if column.type in _ARROW_TYPES:
            types[column.name] = pa.type_for_alias(_ARROW_TYPES[column.type])
        elif column.type == "boolean":
            types[column.name] = pa.bool_()
        elif column.type in ("string", "datetime"):
            types[column.name] = pa.string()
    try:
        reader = pacsv.open_csv(
            path,
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        with contextlib.closing(reader):
            yield from reader
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, _csv_header(path), exc) from exc


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's first line ([] when it cannot be read)."""
    import csv

    try:
        with path.open(encoding="utf-8", newline="") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _csv_error(path: Path, names: Sequence[str], exc: BaseException) -> BatchInputError:
    """A CSV value that does not parse, its column named (pyarrow gives its position)."""
    import re

    reason = str(exc).strip()
    found = re.search(r"CSV column #(\d+)", reason)
    column = None
    if found is not None and int(found.group(1)) < len(names):
        column = names[int(found.group(1))]
        reason = reason.replace(found.group(0), f"CSV column {column!r}")
    return BatchInputError(
        f"Cannot read {path}: {reason}",
        hint="Save the file as UTF-8 CSV with a header row, and fix the value named (an "
        "empty field reads as null).",
        input=str(path),
        column=column,
    )


def _rebatch(batches: Iterable[Any], size: int) -> Iterator[Any]:
    """Tables of exactly ``size`` rows (the last one shorter) from record batches."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for whole in batches:
        batch = whole
        while batch.num_rows:
            take = min(size - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == size:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _unreadable(path: Path, exc: BaseException) -> BatchInputError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BatchInputError(
        f"Cannot read {path}: {reason}",
        hint="Check that the file is a complete, valid "
        + ("UTF-8 CSV file with a header row." if path.suffix.lower() in _CSV else "Parquet file.")
        + " A value that does not parse as its column's type is named above.",
        input=str(path),
        reason=reason,
    )


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
            f"Column(s) to keep not in {path}: {', '.join(missing)}.",
            hint=f"Keep some of: {', '.join(table.column_names)}.",
            missing=missing,
        )
    out = table.select(keep)
    if PREDICTION in keep:
        raise BatchInputError(
            f"Input {path} has a column named {PREDICTION!r}, which the output adds.",
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
    shown = exc.fields.get("value")
    where = f"rows {first_row}-{first_row + n - 1}"
    if isinstance(column, str) and column in columns and shown is not None:
        for i, value in enumerate(columns[column]):
            text = repr(value)
            if (text if len(text) <= 60 else text[:57] + "...") == shown:
                where = f"row {first_row + i}"
                break
    located = type(exc).__new__(type(exc))
    ConveyorError.__init__(
        located,
        f"{path}, {where}: {exc.message}",
        hint=exc.hint,
        **{**exc.fields, "input": str(path), "where": where},
    )
    return located


def write_output(
    target: Path,
    tables: Iterable[Any],
    on_batch: BatchCallback | None,
    total: int = 0,
    *,
    allow_empty: bool = False,
) -> tuple[int, int]:
    """Write ``tables`` to ``target`` through a temporary file renamed at the end.

    With ``allow_empty`` no rows write no file; otherwise no rows is an error.

    Returns:
        (rows, batches) written.
    """
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    rows = batches = 0
    writer: Any = None
    try:
        for table in tables:
            if writer is None:
                writer = _writer(target, temp, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += table.num_rows
            batches += 1
            if on_batch is not None:
                on_batch(rows, batches, total)
        if writer is None:
            if allow_empty:
                return 0, 0
            raise BatchInputError(
                f"Input for {target} holds no rows.",
                hint="Score a file with at least one row.",
                output=str(target),
            )
        writer.close()
        writer = None
        os.replace(temp, target)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        temp.unlink(missing_ok=True)
        raise
    return rows, batches


class _CsvWriter:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow.csv as pacsv

        self.schema = schema
        self._writer = pacsv.CSVWriter(str(path), schema)

    def write_table(self, table: Any) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


def _writer(target: Path, temp: Path, schema: pa.Schema) -> Any:
    import pyarrow as pa

    if any(pa.types.is_null(field.type) for field in schema):
        # a batch of nulls only fixes no type: later batches would not fit
        schema = pa.schema(
            [
                field.with_type(pa.string()) if pa.types.is_null(field.type) else field
                for field in schema
            ]
        )
    if target.suffix.lower() in _CSV:
        return _CsvWriter(temp, schema)
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(temp), schema)


def total_rows(files: Sequence[Path]) -> int:
    """The number of rows of Parquet inputs (from their footers); 0 when a CSV is among them."""
    import pyarrow.parquet as pq

    if any(f.suffix.lower() in _CSV for f in files):
        return 0
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except Exception:  # noqa: BLE001 - an unreadable file is reported when it is read
        return 0


def _input_hash(files: Sequence[Path]) -> str:
    from conveyor.core import hash_file, hash_json

    if len(files) == 1:
        return hash_file(files[0])
    return hash_json([hash_file(f) for f in files])


def _audit(workspace: Any, result: BatchPredictionResult) -> None:
    details = result.to_dict()
    details["seconds"] = round(result.seconds, 3)
    workspace.audit.record_event(
        workspace.actor,
        "model.batch_predict",
        f"model:{result.model}@{result.version}",
        details,
    )
