"""Spill files: JSON Lines copies of predictions the logger could not write in time.

A spill file is written whole under a temporary name (``.jsonl.open``, carrying the
writer's process id) and renamed to ``.jsonl`` once complete and synced. Ingestion claims
a file by renaming it (``.jsonl.<pid>.ingesting``), so of several processes recovering the
same folder exactly one reads each file; files left by a crashed writer or ingester (their
process is gone) are claimed too.

A line that cannot be replayed (not UTF-8, not a record, or a record the log refuses) is
never a reason to stop: it is moved to ``quarantine/`` under the spill folder, byte for byte,
so recovery goes on with the rest and an operator can inspect it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from conveyor.core import isoformat, pid_alive
from conveyor.predictions._parquet import json_default
from conveyor.predictions._records import PredictionRecord

DONE = ".jsonl"
OPEN = ".jsonl.open"
CLAIMED = ".ingesting"
QUARANTINE = "quarantine"
_PREFIX = "spill-"


def write_spill(folder: Path, records: Iterable[PredictionRecord]) -> tuple[int, int]:
    """Write ``records`` to a new spill file in ``folder``.

    Returns:
        ``(spilled, unencodable)``: records written, and records that could not be
        turned into JSON (and are therefore lost).

    Raises:
        OSError: the folder or file cannot be written (nothing is left behind).
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{_PREFIX}{os.getpid()}-{time.time_ns()}-{uuid.uuid4().hex[:8]}"
    partial = folder / (name + OPEN)
    spilled = unencodable = 0
    try:
        with partial.open("w", encoding="utf-8") as handle:
            for record in records:
                try:
                    line = _encode(record)
                except (TypeError, ValueError):
                    unencodable += 1
                    continue
                handle.write(line + "\n")
                spilled += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, folder / (name + DONE))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return spilled, unencodable


def claim_spill_files(folder: Path) -> list[tuple[Path, Path]]:
    """Claim every complete or abandoned spill file in ``folder``, oldest name first.

    Returns:
        ``(claimed_path, done_path)`` pairs: where each file now is, and the name to give
        it back if ingestion fails.
    """
    if not folder.is_dir():
        return []
    claimed = []
    me = os.getpid()
    for path in sorted(folder.iterdir()):
        name = path.name
        if not name.startswith(_PREFIX):
            continue
        if name.endswith(DONE):
            base = name[: -len(DONE)]
        elif name.endswith(OPEN) and not pid_alive(_writer_pid(name)):
            base = name[: -len(OPEN)]
        elif name.endswith(CLAIMED) and not pid_alive(_claimer_pid(name)):
            base = name.split(DONE + ".")[0]
        else:
            continue
        target = folder / f"{base}{DONE}.{me}{CLAIMED}"
        try:
            os.replace(path, target)
        except FileNotFoundError:  # another process claimed it first
            continue
        claimed.append((target, folder / (base + DONE)))
    return claimed


def read_spill(path: Path) -> tuple[list[PredictionRecord], int]:
    """The records of a spill file, and how many lines were unreadable (a torn last line)."""
    records, bad = read_spill_lines(path)
    return records, len(bad)


def read_spill_lines(path: Path) -> tuple[list[PredictionRecord], list[bytes]]:
    """The records of a spill file, and its unreadable lines as they are on disk.

    A line is unreadable when it is not UTF-8, not JSON, or not a record (a torn last line,
    a damaged or planted file); it never stops the others from being read.
    """
    records = []
    bad: list[bytes] = []
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                records.append(_decode(raw.decode("utf-8")))
            except (ValueError, KeyError, TypeError):  # UnicodeDecodeError is a ValueError
                bad.append(raw)
    return records, bad


def encode_line(record: PredictionRecord) -> bytes:
    """``record`` as one spill line (ASCII JSON; what could not be encoded is shown by repr)."""
    try:
        return (_encode(record) + "\n").encode("ascii")
    except (TypeError, ValueError):
        return (json.dumps({"unencodable": repr(record)}) + "\n").encode("ascii")


def quarantine(folder: Path, lines: Iterable[bytes], *, source: str) -> Path | None:
    """Append ``lines`` to a quarantine file for ``source`` under ``folder/quarantine``.

    Returns:
        The quarantine file, or ``None`` when there was nothing to write.

    Raises:
        OSError: the quarantine folder cannot be written.
    """
    data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    if not data:
        return None
    target_dir = folder / QUARANTINE
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{source}{DONE}"
    with target.open("ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return target


def _encode(record: PredictionRecord) -> str:
    return json.dumps(
        {
            "request_id": record.request_id,
            "at": isoformat(record.at),
            "model": record.model,
            "version": record.version,
            "environment": record.environment,
            "variant": record.variant,
            "revision": record.revision,
            "latency_ms": record.latency_ms,
            "inputs": record.inputs,
            "prediction": record.prediction,
            "status": record.status,
            "error": record.error,
        },
        default=json_default,
        separators=(",", ":"),
    )


def _decode(line: str) -> PredictionRecord:
    data = json.loads(line)
    return PredictionRecord(
        request_id=data["request_id"],
        at=datetime.fromisoformat(data["at"]),
        model=data["model"],
        version=int(data["version"]),
        inputs=dict(data["inputs"]),
        prediction=data["prediction"],
        latency_ms=float(data["latency_ms"]),
        environment=data["environment"],
        variant=data["variant"],
        revision=data["revision"],
        status=data.get("status", "ok"),
        error=data.get("error"),
    )


def _writer_pid(name: str) -> int:
    """``spill-<pid>-<ns>-<rand>.jsonl.open`` -> pid (0 when unparsable)."""
    head = name[len(_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _claimer_pid(name: str) -> int:
    """``....jsonl.<pid>.ingesting`` -> pid (0 when unparsable)."""
    middle = name[: -len(CLAIMED)].rsplit(".", 1)[-1]
    return int(middle) if middle.isdigit() else 0
