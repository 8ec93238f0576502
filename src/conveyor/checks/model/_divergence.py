"""How far apart two models' prediction distributions are: the measure a canary watches.

The canary analysis compares the distribution of the champion's live predictions with the
challenger's (they answer different requests, so only distributions can be compared). The
gate measures the same thing on the holdout, where both models answer the same rows, and
records it as a :class:`DivergenceProfile`: the bins, each model's counts per bin and the
Jensen-Shannon divergence between them. The canary then bins live predictions on the very
same bins, so the live value and the expectation are one measure on two samples.

Binning: predictions with at most :data:`MAX_CATEGORIES` distinct values are classes (one
bin per value, plus one bin for values the holdout never produced); others are numbers
cut at the champion's deciles. Numbers and numeric strings are keyed as floats, so a class
``1`` logged as ``1.0`` falls in the same bin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from conveyor.checks.model._errors import ModelCheckInputError

Kind = Literal["categorical", "numeric"]

#: Distinct values above which predictions count as numeric rather than classes.
MAX_CATEGORIES = 20
#: Numeric predictions are cut at this many quantiles of the champion's.
NUMERIC_BINS = 10
#: Upper bound on the bins a stored profile may declare (a crafted record cannot make
#: the canary allocate without bound).
MAX_BINS = 1_000


def jensen_shannon(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64]) -> float:
    """Jensen-Shannon divergence of two histograms, base 2 (0 = same, 1 = disjoint).

    Example:
        >>> jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
        1.0
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2

    def kl(a: npt.NDArray[np.float64]) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return min(max((kl(p) + kl(q)) / 2, 0.0), 1.0)


@dataclass(frozen=True)
class DivergenceProfile:
    """Two models' prediction histograms on shared bins, and their divergence.

    Attributes:
        kind: ``"categorical"`` (one bin per class, the last for unseen classes) or
            ``"numeric"`` (``bins`` are the inner cut points; ``len(bins) + 1`` bins).
        bins: Class keys (floats or strings) or cut points.
        champion: The champion's count per bin.
        challenger: The challenger's count per bin.
        value: Jensen-Shannon divergence (base 2) between the two histograms.
        rows: Rows each model predicted.
        champion_ref: The champion measured (``name@version``), when known.

    Raises:
        ModelCheckInputError: inconsistent lengths, negative counts or too many bins.

    Example:
        >>> profile = divergence_profile(np.array([0, 1, 1, 0]), np.array([1, 1, 1, 0]))
        >>> profile.kind, profile.champion, profile.challenger
        ('categorical', (2.0, 2.0, 0.0), (1.0, 3.0, 0.0))
    """

    kind: Kind
    bins: tuple[Any, ...]
    champion: tuple[float, ...]
    challenger: tuple[float, ...]
    value: float
    rows: int
    champion_ref: str | None = None

    def __post_init__(self) -> None:
        expected = len(self.bins) + 1
        sizes = {len(self.champion), len(self.challenger)}
        if self.kind not in ("categorical", "numeric") or sizes != {expected}:
            raise ModelCheckInputError(
                f"A divergence profile of kind {self.kind!r} with {len(self.bins)} bins needs "
                f"{expected} counts per model; got {sorted(sizes)}.",
                hint="Record profiles with divergence_profile().",
                kind=self.kind,
            )
        if expected > MAX_BINS or min(*self.champion, *self.challenger) < 0:
            raise ModelCheckInputError(
                f"A divergence profile has {expected} bins or negative counts.",
                hint=f"Profiles have at most {MAX_BINS} bins and counts >= 0.",
                bins=expected,
            )

    def histogram(self, predictions: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Counts of ``predictions`` on this profile's bins."""
        return histogram(predictions, self.kind, self.bins)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (what the gate records)."""
        return {
            "measure": "jensen_shannon",
            "kind": self.kind,
            "bins": list(self.bins),
            "champion": list(self.champion),
            "challenger": list(self.challenger),
            "value": self.value,
            "rows": self.rows,
            "champion_ref": self.champion_ref,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DivergenceProfile:
        """Rebuild a profile from :meth:`to_dict` output (as stored), validating it.

        Raises:
            ModelCheckInputError: missing or malformed fields.
        """
        try:
            kind = str(data["kind"])
            bins = tuple(
                float(b) if kind == "numeric" or isinstance(b, int | float) else str(b)
                for b in data["bins"]
            )
            champion = tuple(float(c) for c in data["champion"])
            challenger = tuple(float(c) for c in data["challenger"])
            value = float(data["value"])
            rows = int(data["rows"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ModelCheckInputError(
                f"A stored divergence profile is malformed: {exc!r}.",
                hint="Re-run the gates (`conveyor ci`) to record a new one.",
            ) from exc
        if not all(math.isfinite(c) for c in (*champion, *challenger, value)):
            raise ModelCheckInputError(
                "A stored divergence profile has non-finite counts or value.",
                hint="Re-run the gates (`conveyor ci`) to record a new one.",
            )
        ref = data.get("champion_ref")
        return cls(
            kind,  # type: ignore[arg-type]
            bins,
            champion,
            challenger,
            value,
            rows,
            None if ref is None else str(ref),
        )


def divergence_profile(
    champion: Sequence[Any] | npt.NDArray[Any],
    challenger: Sequence[Any] | npt.NDArray[Any],
    *,
    champion_ref: str | None = None,
) -> DivergenceProfile:
    """Bin both models' predictions on shared bins and measure their divergence.

    Args:
        champion: The champion's predictions (on the holdout, or served live).
        challenger: The challenger's predictions.
        champion_ref: Recorded with the profile.

    Returns:
        The profile; bins come from the champion's predictions (its classes, or its
        deciles for numbers).

    Raises:
        ModelCheckInputError: either side has no predictions.
    """
    champ = _flat(champion)
    chall = _flat(challenger)
    if len(champ) == 0 or len(chall) == 0:
        raise ModelCheckInputError(
            f"Prediction divergence needs predictions from both models; got {len(champ)} "
            f"and {len(chall)}.",
            hint="Evaluate both models on a non-empty holdout.",
        )
    kind, bins = _bins(champ, chall)
    counts_h = histogram(champ, kind, bins)
    counts_c = histogram(chall, kind, bins)
    return DivergenceProfile(
        kind=kind,
        bins=bins,
        champion=tuple(float(c) for c in counts_h),
        challenger=tuple(float(c) for c in counts_c),
        value=jensen_shannon(counts_h, counts_c),
        rows=int(min(len(champ), len(chall))),
        champion_ref=champion_ref,
    )


def histogram(
    predictions: Sequence[Any] | npt.NDArray[Any], kind: Kind, bins: Sequence[Any]
) -> npt.NDArray[np.float64]:
    """Counts of ``predictions`` on ``bins`` of ``kind`` (see :class:`DivergenceProfile`)."""
    values = _flat(predictions)
    if kind == "numeric":
        numbers = _as_float(values)
        edges = np.asarray(bins, dtype=float)
        if numbers is None:  # a numeric model answering non-numbers: all outside
            counts = np.zeros(len(edges) + 1)
            counts[-1] = len(values)
            return counts
        return np.bincount(np.searchsorted(edges, numbers), minlength=len(edges) + 1).astype(float)
    index = {key: i for i, key in enumerate(bins)}
    other = len(bins)
    codes = np.fromiter((index.get(_key(v), other) for v in values), int, len(values))
    return np.bincount(codes, minlength=len(bins) + 1).astype(float)


def _bins(champion: npt.NDArray[Any], challenger: npt.NDArray[Any]) -> tuple[Kind, tuple[Any, ...]]:
    numbers_h, numbers_c = _as_float(champion), _as_float(challenger)
    if numbers_h is not None and numbers_c is not None:
        both = np.concatenate([numbers_h, numbers_c])
        if len(np.unique(both[: 10 * MAX_CATEGORIES])) > MAX_CATEGORIES:
            inner = np.quantile(numbers_h, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1])
            return "numeric", tuple(float(x) for x in np.unique(inner))
    keys = {_key(v) for v in (*champion, *challenger)}
    ordered = sorted(keys, key=lambda k: (isinstance(k, str), k))
    return "categorical", tuple(ordered)


def _key(value: Any) -> float | str:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range is its own class
            return str(value)
        return number if math.isfinite(number) else str(number)
    return str(value)


def _flat(values: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        flat = np.empty(len(values), dtype=object)
        flat[:] = [str(v) for v in values]
        return flat
    return array


def _as_float(values: npt.NDArray[Any]) -> npt.NDArray[np.float64] | None:
    if values.dtype.kind in "biuf":
        result = values.astype(float)
    elif values.dtype.kind != "O":
        return None
    else:
        if any(isinstance(v, str) for v in values):
            return None
        try:
            result = values.astype(float)
        except (TypeError, ValueError, OverflowError):
            return None
    return None if np.isnan(result).any() else result
