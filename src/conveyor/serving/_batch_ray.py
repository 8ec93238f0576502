"""Batch scoring on Ray: Parquet row groups scored by actors, joined in input order.

Each actor opens the workspace by its root (a path every worker must reach: one machine,
or a shared filesystem), loads the version once (verified by hash) and writes one part
file per row group; the parts are then read back in input order into the output, so the
output equals the local one (see :func:`conveyor.serving.predict_file`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError
from conveyor.serving._batch import ScoringJob, load_model, score_table
from conveyor.serving._batch_io import (
    _CSV,
    _READ_BUFFER,
    _READ_ERRORS,
    BatchCallback,
    BatchInputError,
    _unreadable,
    read_batches,
    shown,
)
from conveyor.serving._batch_output import conform, write_output


def score_on_ray(
    workspace: Any,
    pinned: str,
    files: Sequence[Path],
    target: Path,
    job: ScoringJob,
    *,
    on_batch: BatchCallback | None,
) -> tuple[int, int]:
    """Score Parquet row groups in Ray actors, then join their part files in input order.

    Each actor opens the workspace by its root (a path every worker must reach: one
    machine, or a shared filesystem) and loads the version once; parts are written next
    to ``target`` and removed afterwards.

    Returns:
        (rows, batches) scored.
    """
    import shutil

    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise BatchInputError(
            "Scoring on Ray needs Ray, which is not installed.",
            hint="Install the extra: pip install 'conveyor[ray]', or score locally.",
        ) from exc
    csv = [str(f) for f in files if f.suffix.lower() in _CSV]
    if csv:
        raise BatchInputError(
            f"Scoring on Ray splits Parquet row groups; {shown(csv[0])} is CSV.",
            hint="Score the CSV file locally, or convert it to Parquet first.",
            input=csv[0],
        )
    partitions = _row_groups(files)
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    parts = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.parts")
    parts.mkdir()
    total = sum(n for *_, n in partitions)
    try:
        cpus = max(1, int(ray.available_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
        scorer = ray.remote(num_cpus=1)(RayScorer)
        root = str(workspace.root)
        actors = [scorer.remote(root, pinned, job) for _ in range(min(cpus, len(partitions)))]
        pool = ActorPool(actors)
        work = [
            (path, group, first, str(parts / f"part-{i:06d}.parquet"))
            for i, (path, group, first, _) in enumerate(partitions)
        ]
        rows = batches = 0
        written: list[tuple[Path, Path]] = []
        try:
            scored = pool.map(lambda actor, w: actor.score.remote(*w), work)
            for (source, *_), (part, n, b) in zip(work, scored, strict=True):
                rows += n
                batches += b
                if n:
                    written.append((Path(part), Path(source)))
                if on_batch is not None:
                    on_batch(rows, batches, total)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ConveyorError):
                raise cause from None
            raise
        finally:
            for actor in actors:
                ray.kill(actor)  # type: ignore[arg-type]
        write_output(target, _read_parts(written, job.batch_rows), None)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    return rows, batches


def _row_groups(files: Sequence[Path]) -> list[tuple[str, int, int, int]]:
    """(file, row group, first row over the whole input, rows) of every row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: list[tuple[str, int, int, int]] = []
    first = 0
    for path in files:
        try:
            meta = pq.ParquetFile(path).metadata
        except (pa.ArrowException, *_READ_ERRORS) as exc:
            raise _unreadable(path, exc) from exc
        for group in range(meta.num_row_groups):
            n = meta.row_group(group).num_rows
            out.append((str(path), group, first, n))
            first += n
    if not out:
        raise BatchInputError(
            f"Input {shown(files[0])} holds no rows.",
            hint="Score a file with at least one row.",
            input=str(files[0]),
        )
    return out


def _read_parts(parts: Sequence[tuple[Path, Path]], batch_rows: int) -> Iterator[Any]:
    """The scored tables of every (part, input file it came from), in the first's columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = None
    for part, source in parts:
        parquet = pq.ParquetFile(part, pre_buffer=False, buffer_size=_READ_BUFFER)
        for batch in parquet.iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([batch])
            schema = schema or table.schema
            yield conform(table, schema, source)


class RayScorer:
    """A Ray actor holding one loaded version; scores row groups into part files."""

    def __init__(self, root: str, pinned: str, job: ScoringJob) -> None:
        from conveyor.workspace import Workspace

        with Workspace.open(root) as ws:
            self._model = load_model(ws, pinned, job)
        self._job = job

    def score(self, path: str, group: int, first: int, part: str) -> tuple[str, int, int]:
        """Score row group ``group`` of ``path`` into ``part``: (part, rows, batches)."""
        source = Path(path)
        model, job = self._model, self._job

        def tables() -> Iterator[Any]:
            done = first
            for table in read_batches(model, source, job.batch_rows, row_groups=[group]):
                yield score_table(model, table, job, path=source, first_row=done)
                done += table.num_rows

        rows, batches = write_output(Path(part), tables(), None, allow_empty=True)
        return part, rows, batches
