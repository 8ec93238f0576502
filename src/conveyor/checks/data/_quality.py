"""Duplicate rows and class balance: two counts every training table should pass."""

from __future__ import annotations

import pandas as pd

from conveyor.checks.data._frames import require_columns
from conveyor.checks.data._outcome import Outcome, fmt, json_value, pct


def count_duplicates(
    frame: pd.DataFrame, *, subset: list[str] | None = None, max_share: float = 0.0
) -> Outcome:
    """Count rows that repeat an earlier row (on ``subset`` columns, default all).

    Returns:
        ``value`` is the share of duplicate rows; ``details`` has the count and a few
        duplicated row positions.
    """
    if subset:
        require_columns(frame, subset, "duplicates subset")
    rows = len(frame)
    mask = frame.duplicated(subset=subset, keep="first")
    count = int(mask.sum())
    share = count / rows if rows else 0.0
    scope = f"on columns {', '.join(repr(c) for c in subset)}" if subset else "on all columns"
    explanation = (
        f"{count} of {rows} rows ({pct(share)}) duplicate an earlier row {scope}; "
        f"at most {pct(max_share)} allowed."
    )
    details = {
        "duplicates": count,
        "rows": rows,
        "subset": subset,
        "examples": [int(i) for i in mask.to_numpy().nonzero()[0][:5]],
    }
    return Outcome(share <= max_share, share, max_share, explanation, details)


def measure_class_balance(frame: pd.DataFrame, target: str, *, min_ratio: float = 0.1) -> Outcome:
    """The ratio of the rarest to the most common class of ``target``.

    Returns:
        ``value`` is that ratio (1 is perfectly balanced); ``details`` has the count and
        share of every class and ``plot`` bars of them.
    """
    require_columns(frame, [target], "target")
    counts = frame[target].value_counts(dropna=True)
    total = int(counts.sum())
    if total == 0 or counts.size < 2:
        only = "no labels" if total == 0 else f"a single class ({json_value(counts.index[0])!r})"
        return Outcome(
            False,
            0.0,
            min_ratio,
            f"{target!r} has {only}: a classifier cannot learn from it "
            f"(rarest/most common ratio at least {fmt(min_ratio)} required).",
            {"classes": {str(k): int(v) for k, v in counts.items()}},
        )
    rarest, common = counts.idxmin(), counts.idxmax()
    ratio = float(counts.min() / counts.max())
    shares = {str(k): int(v) / total for k, v in counts.items()}
    explanation = (
        f"The rarest class of {target!r} ({json_value(rarest)!r}, {int(counts.min())} rows, "
        f"{pct(counts.min() / total)}) is {fmt(ratio)} times the most common "
        f"({json_value(common)!r}, {int(counts.max())} rows); at least {fmt(min_ratio)} required."
    )
    details = {
        "classes": {str(k): int(v) for k, v in counts.items()},
        "shares": shares,
        "plot": {
            "kind": "bar",
            "title": f"Rows per class of {target}",
            "x": list(shares),
            "y": [int(v) for v in counts.to_numpy()],
        },
    }
    return Outcome(ratio >= min_ratio, ratio, min_ratio, explanation, details)
