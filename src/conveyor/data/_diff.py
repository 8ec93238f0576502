"""Differences between two dataset versions: files, and for tables schema and statistics."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.data._manifest import files_of
from conveyor.data._models import DatasetVersion

#: Column statistics compared between versions (all from :func:`compute_profile`).
COMPARED_STATS = ("mean", "std", "min", "max", "null_share", "distinct")


@dataclass
class DatasetDiff:
    """What changed from version ``a`` to version ``b``.

    Attributes:
        a: ``name@version`` of the old side.
        b: ``name@version`` of the new side.
        kinds: ``(kind of a, kind of b)``.
        files_added: Paths only in ``b``.
        files_removed: Paths only in ``a``.
        files_changed: Paths in both whose content differs.
        row_counts: ``(rows of a, rows of b)`` for tables, else ``(None, None)``.
        columns_added: Columns only in ``b``.
        columns_removed: Columns only in ``a``.
        type_changes: ``{column: (type in a, type in b)}``.
        stat_changes: ``{column: {stat: {"a": value, "b": value}}}`` for statistics that
            differ (mean, std, min, max, null_share, distinct) in columns present in both.
        top_changes: ``{column: {value: {"a": share, "b": share}}}`` for category shares
            that differ (``None`` where the value is not among a side's top values).
    """

    a: str
    b: str
    kinds: tuple[str, str]
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    row_counts: tuple[int | None, int | None] = (None, None)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    type_changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    stat_changes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    top_changes: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)

    @property
    def row_count_delta(self) -> int | None:
        """Rows of ``b`` minus rows of ``a`` (``None`` unless both are tables)."""
        ra, rb = self.row_counts
        return None if ra is None or rb is None else rb - ra

    @property
    def is_empty(self) -> bool:
        """True when the two versions hold the same content."""
        return not (self.files_added or self.files_removed or self.files_changed) and (
            self.kinds[0] == self.kinds[1]
        )

    @property
    def changed_columns(self) -> list[str]:
        """Columns present in both versions whose type or statistics changed, sorted."""
        return sorted(set(self.type_changes) | set(self.stat_changes) | set(self.top_changes))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (tuples become lists)."""
        out = asdict(self)
        out["changed_columns"] = self.changed_columns
        out["kinds"] = list(self.kinds)
        out["row_counts"] = list(self.row_counts)
        out["row_count_delta"] = self.row_count_delta
        out["type_changes"] = {k: list(v) for k, v in self.type_changes.items()}
        return out


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return not math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return bool(a != b)


def _value_key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _top_shares(column: dict[str, Any]) -> dict[str, float]:
    return {_value_key(t["value"]): t["share"] for t in column.get("top") or []}


def _table_changes(diff: DatasetDiff, pa: dict[str, Any], pb: dict[str, Any]) -> None:
    schema_a, schema_b = pa["schema"], pb["schema"]
    diff.columns_added = [c for c in schema_b if c not in schema_a]
    diff.columns_removed = [c for c in schema_a if c not in schema_b]
    for column in (c for c in schema_a if c in schema_b):
        if schema_a[column] != schema_b[column]:
            diff.type_changes[column] = (schema_a[column], schema_b[column])
        ca, cb = pa["columns"][column], pb["columns"][column]
        stats = {
            stat: {"a": ca.get(stat), "b": cb.get(stat)}
            for stat in COMPARED_STATS
            if _differs(ca.get(stat), cb.get(stat))
        }
        if stats:
            diff.stat_changes[column] = stats
        shares_a, shares_b = _top_shares(ca), _top_shares(cb)
        tops = {
            value: {"a": shares_a.get(value), "b": shares_b.get(value)}
            for value in sorted(set(shares_a) | set(shares_b))
            if _differs(shares_a.get(value), shares_b.get(value))
        }
        if tops:
            diff.top_changes[column] = tops


def compute_diff(
    a: DatasetVersion, b: DatasetVersion, manifest_a: dict[str, Any], manifest_b: dict[str, Any]
) -> DatasetDiff:
    """Compare two versions given their manifests."""
    files_a, files_b = files_of(manifest_a), files_of(manifest_b)
    diff = DatasetDiff(
        a=a.ref,
        b=b.ref,
        kinds=(a.kind, b.kind),
        files_added=sorted(set(files_b) - set(files_a)),
        files_removed=sorted(set(files_a) - set(files_b)),
        files_changed=sorted(p for p in set(files_a) & set(files_b) if files_a[p] != files_b[p]),
        row_counts=(a.row_count, b.row_count),
    )
    if a.kind == b.kind == "table" and manifest_a["profile"] and manifest_b["profile"]:
        _table_changes(diff, manifest_a["profile"], manifest_b["profile"])
    return diff
