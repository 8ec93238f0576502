"""Lineage of a version: a run's datasets, code version, metrics and params, and the
dataset versions a model names as its training data.

The registry sits beside ``conveyor.tracking`` and ``conveyor.data`` (same layer) and owns
neither's records: it asks a :class:`LineageSource` the workspace wires in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.core import validate_name
from conveyor.errors import InvalidNameError
from conveyor.registry._base import LineageSource, RunLineage
from conveyor.registry._errors import RegistrationError
from conveyor.registry._refs import LATEST, MAX_VERSION, format_versions


def require_source(
    source: LineageSource | None, *, run: str | None, training_data: Sequence[Any]
) -> LineageSource | None:
    """``source``, unless lineage is asked for and there is none to ask.

    Raises:
        RegistrationError: ``run`` or ``training_data`` is given and ``source`` is ``None``.
    """
    if source is None and (run is not None or training_data):
        given = "run=" if run is not None else "training_data="
        raise RegistrationError(
            f"Cannot register with {given}: no lineage source is configured, so runs and "
            "dataset versions cannot be looked up.",
            hint="Register through a workspace (ws.models), or pass "
            "ModelRegistry(..., lineage=...).",
        )
    return source


def run_lineage(source: LineageSource, run_id: str) -> RunLineage:
    """The lineage of run ``run_id``.

    Raises:
        RegistrationError: no run has this id.
    """
    found = source.run_lineage(run_id)
    if found is None:
        raise RegistrationError(
            f"Cannot register with run {run_id!r}: no such run.",
            hint="Pass the id of a recorded run (see `conveyor runs list`) or omit run=.",
            run_id=run_id,
        )
    return found


def dataset_profiles(
    source: LineageSource | None, datasets: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each lineage dataset with its row count and profile, when that version is recorded."""
    out: list[dict[str, Any]] = []
    for entry in datasets:
        name, number = entry.get("name"), entry.get("version")
        facts = None
        if source is not None and isinstance(name, str) and isinstance(number, int):
            facts = source.dataset_version(name, number)
        out.append(
            {
                **entry,
                "row_count": None if facts is None else facts.row_count,
                "profile": None if facts is None else facts.profile,
            }
        )
    return out


def dataset_refs(refs: str | Sequence[str] | None) -> list[tuple[str, int | None]]:
    """Parse ``training_data=`` refs (``"orders@3"``, ``"orders@latest"``, ``"orders"``).

    Returns:
        ``(name, version)`` pairs; ``None`` means the newest version.

    Raises:
        RegistrationError: a ref is not ``NAME@VERSION`` with a valid name and number.
    """
    if refs is None:
        return []
    items = [refs] if isinstance(refs, str) else list(refs)
    out: list[tuple[str, int | None]] = []
    for ref in items:
        if not isinstance(ref, str):
            raise RegistrationError(
                f"training_data must name dataset versions such as 'orders@3', got {ref!r}.",
                hint="Pass training_data='NAME@VERSION' or a list of them.",
                ref=repr(ref),
            )
        name, _, selector = ref.partition("@")
        try:
            validate_name(name, kind="dataset name")
        except InvalidNameError as exc:
            raise RegistrationError(
                f"training_data {ref[:80]!r} does not name a dataset: {exc.message}",
                hint="Pass training_data='NAME@VERSION', e.g. 'orders@3'.",
                ref=ref[:80],
            ) from exc
        token = selector.strip().lower()
        if token in ("", LATEST):
            out.append((name, None))
        elif token.isascii() and token.isdigit() and len(token.lstrip("0")) <= 10:
            if not 1 <= int(token) <= MAX_VERSION:
                raise _bad_version(ref)
            out.append((name, int(token)))
        else:
            raise _bad_version(ref)
    return out


def _bad_version(ref: str) -> RegistrationError:
    return RegistrationError(
        f"training_data {ref[:80]!r} does not name a dataset version: versions are whole "
        f"numbers from 1 to {MAX_VERSION}, or 'latest'.",
        hint="See the versions with `conveyor data log NAME`.",
        ref=ref[:80],
    )


def training_datasets(
    source: LineageSource, refs: Sequence[tuple[str, int | None]]
) -> list[dict[str, Any]]:
    """Lineage entries (name, version, content hash) of the dataset versions ``refs`` name.

    Raises:
        RegistrationError: a dataset or version is not recorded (the message lists them).
    """
    out: list[dict[str, Any]] = []
    for name, number in refs:
        facts = source.dataset_version(name, number)
        if facts is None:
            known = source.dataset_versions(name)
            wanted = f"{name}@{number if number is not None else LATEST}"
            raise RegistrationError(
                f"Cannot record training data {wanted}: "
                + (
                    f"dataset {name!r} has no such version (versions: {format_versions(known)})."
                    if known
                    else f"no dataset named {name!r} is recorded."
                ),
                hint="Add it with `conveyor data add NAME PATH`, or see `conveyor data list`.",
                ref=wanted,
            )
        out.append({"name": name, "version": facts.version, "content_hash": facts.content_hash})
    return out
