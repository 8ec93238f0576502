"""What ``conveyor ci`` checks before it trains: the columns it was told about, and the champion.

A typo in ``evaluation.target`` used to train a model on the label and end as a REJECT
verdict; a fresh CI clone with a local store used to PROMOTE on absolute checks without
saying why it had no champion. Both are configuration problems and are reported as such,
before any training time is spent.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from conveyor.errors import ConfigError

#: The most single-character edits between a configured name and a column for a typo.
_TYPO_EDITS = 2

if TYPE_CHECKING:
    from conveyor.config import EvaluationConfig
    from conveyor.workspace import Workspace


def pinned_columns(ws: Workspace, pins: Mapping[str, int]) -> dict[str, list[str]]:
    """The columns of every pinned table version, by ``name@version`` (from its profile)."""
    out: dict[str, list[str]] = {}
    for name, number in sorted(pins.items()):
        version = ws.datasets.get(f"{name}@{number}")
        columns = (version.profile or {}).get("columns") if version.kind == "table" else None
        if isinstance(columns, dict):
            out[version.ref] = [str(column) for column in columns]
    return out


def check_columns(
    evaluation: EvaluationConfig,
    tables: Mapping[str, list[str]],
    where: str,
    *,
    typos_only: bool = False,
) -> None:
    """Refuse when ``evaluation`` names a column that none of ``tables`` has.

    Args:
        evaluation: The ``evaluation:`` section (``target``, ``sensitive``, ``slices``,
            ``irrelevant`` name columns).
        tables: Columns by table (``points@3`` or ``the holdout``); nothing is checked
            when empty.
        where: What the tables are, for the message ("the pinned data").
        typos_only: Refuse only a name within two edits of an existing column
            (``targte`` for ``target``, ``labels`` for ``label``). Used on the raw data
            before training, where a column the pipeline derives (a bucketed age, a
            computed label) is rightly absent; the holdout is checked strictly once the
            pipeline has run.

    Raises:
        ConfigError: naming the setting, the missing column and the closest existing one.
    """
    if not tables:
        return
    known = sorted({column for columns in tables.values() for column in columns})
    for setting, column in _named_columns(evaluation):
        if column in known:
            continue
        close = _near_misses(column, known) if typos_only else []
        if typos_only and not close:
            continue
        close = close or difflib.get_close_matches(column, known, n=1, cutoff=0.5)
        suggestion = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"evaluation.{setting} names column {column!r}, which {where} "
            f"({', '.join(tables)}) does not have.{suggestion}",
            hint=f"Fix evaluation.{setting} in conveyor.yaml; the columns are: "
            f"{', '.join(known[:30])}{', ...' if len(known) > 30 else ''}.",
            setting=f"evaluation.{setting}",
            column=column,
            closest=close[0] if close else None,
        )


def _near_misses(name: str, known: list[str]) -> list[str]:
    """The column ``name`` is a typo of (at most two edits away, nearest first), if any."""
    if len(name) <= _TYPO_EDITS:
        return []
    scored = sorted((_edits(name, column), column) for column in known)
    return [column for edits, column in scored[:1] if edits <= _TYPO_EDITS]


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), capped early."""
    if abs(len(a) - len(b)) > _TYPO_EDITS:
        return _TYPO_EDITS + 1
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        row = [i]
        for j, right in enumerate(b, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (left != right)))
        previous = row
    return previous[-1]


def _named_columns(evaluation: EvaluationConfig) -> Iterable[tuple[str, str]]:
    if evaluation.target:
        yield "target", str(evaluation.target)
    for setting in ("sensitive", "slices", "irrelevant"):
        for column in getattr(evaluation, setting):
            yield setting, str(column)


def no_champion_reason(ws: Workspace, name: str) -> str:
    """Why a candidate of ``name`` has no champion here, and what to do about it."""
    env = ws.settings.config.evaluation.champion_env
    return (
        f"no champion: no version of {name!r} serves {env!r} in this workspace's store "
        f"(no deployment there, no `{name}@{env}` or `{name}@champion` alias), so the "
        "candidate was judged on absolute checks only. A local store in a fresh clone has "
        "no champion: point `store` at the shared one, or deploy a version to "
        f"{env!r} first"
    )


def require_champion(ws: Workspace, name: str, champion: str | None) -> None:
    """Refuse to go on without a champion when ``evaluation.require_champion`` is set.

    Raises:
        ConfigError: there is no champion and one is required.
    """
    if champion is not None or not ws.settings.config.evaluation.require_champion:
        return
    raise ConfigError(
        f"evaluation.require_champion is true but there is {no_champion_reason(ws, name)}.",
        hint="Point `store` in conveyor.yaml at the shared metadata store, deploy a version "
        f"with `conveyor deploy {name}@N --env {ws.settings.config.evaluation.champion_env}`, "
        "or set evaluation.require_champion: false to judge on absolute checks.",
        model=name,
        environment=ws.settings.config.evaluation.champion_env,
    )
