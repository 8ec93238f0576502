"""What the analysis reads about one variant, and what it concludes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from conveyor.rollout.analysis._errors import AnalysisError

Verdict = Literal["continue", "pass", "fail", "hold"]


@dataclass(frozen=True)
class VariantStats:
    """The traffic one deployment variant served during an analysis window.

    Arrays are normalised once: ``latencies_ms`` to float, ``predictions`` to a 1-D array,
    ``labels`` (when given) to an array aligned with ``predictions`` whose missing
    entries (no feedback yet) are ``None`` (or NaN in a numeric array).

    Attributes:
        requests: Requests answered or attempted (successes and errors).
        errors: Requests that failed.
        latencies_ms: Latency of each request, in milliseconds.
        predictions: One prediction per successful request.
        labels: Ground truth aligned with ``predictions`` where known, else ``None``.

    Raises:
        AnalysisError: negative counts, more errors than requests, or misaligned labels.

    Example:
        >>> VariantStats(3, 1, [5.0, 6.0, 7.0], [1, 0], [1, None]).labelled
        1
    """

    requests: int
    errors: int
    latencies_ms: npt.NDArray[np.float64] | Sequence[float] = field(repr=False)
    predictions: npt.NDArray[Any] | Sequence[Any] = field(repr=False)
    labels: npt.NDArray[Any] | Sequence[Any] | None = field(default=None, repr=False)
    _mask: npt.NDArray[np.bool_] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.requests < 0 or not 0 <= self.errors <= self.requests:
            raise AnalysisError(
                f"Variant stats have {self.errors} errors for {self.requests} requests.",
                hint="Counts must satisfy 0 <= errors <= requests.",
                requests=self.requests,
                errors=self.errors,
            )
        object.__setattr__(self, "latencies_ms", np.asarray(self.latencies_ms, dtype=float))
        predictions = _one_dimensional(self.predictions)
        object.__setattr__(self, "predictions", predictions)
        mask = np.zeros(len(predictions), dtype=bool)
        if self.labels is not None:
            labels = _labels(self.labels)
            if len(labels) != len(predictions):
                raise AnalysisError(
                    f"Variant stats have {len(labels)} labels for {len(predictions)} predictions.",
                    hint="Align labels with predictions; use None where no label arrived.",
                    labels=len(labels),
                    predictions=len(predictions),
                )
            mask = ~_missing(labels)
            if labels.dtype == object:
                labels[~mask] = None
            object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "_mask", mask)

    @property
    def error_rate(self) -> float:
        """Share of requests that failed (0 when there were none)."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def labelled(self) -> int:
        """How many predictions have a label."""
        return int(self.label_mask().sum())

    def label_mask(self) -> npt.NDArray[np.bool_]:
        """Boolean mask of the predictions whose label is known."""
        mask: npt.NDArray[np.bool_] = self._mask
        return mask

    @classmethod
    def empty(cls) -> VariantStats:
        """Stats of a variant that has served nothing."""
        return cls(0, 0, np.empty(0), np.empty(0))


@dataclass(frozen=True)
class AnalysisResult:
    """The outcome of one analysis of a challenger against its champion.

    Attributes:
        verdict: ``"fail"`` (roll back: evidence that the challenger is worse),
            ``"pass"`` (advance or promote), ``"hold"`` (pause: predictions diverge beyond
            expectation and no labels say yet whether that is better or worse) or
            ``"continue"`` (not enough evidence yet).
        reasons: One sentence per test or guard rail that shaped the verdict.
        measures: Numbers behind the verdict, JSON-serialisable, by test name.
    """

    verdict: Verdict
    reasons: list[str]
    measures: dict[str, Any]

    @property
    def summary(self) -> str:
        """The verdict and its reasons in one line (what a transition records)."""
        return f"analysis {self.verdict}: " + "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return {"verdict": self.verdict, "reasons": list(self.reasons), "measures": self.measures}


def _one_dimensional(values: Any, *, dtype: Any = None) -> npt.NDArray[Any]:
    array = np.asarray(values) if dtype is None else _object_array(values)
    if array.ndim != 1:  # lists of probabilities and the like: keep one object per row
        array = _object_array(values)
    return array


def _labels(values: Any) -> npt.NDArray[Any]:
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "biuf":
        return values.astype(float)  # numeric labels stay numeric: NaN marks a missing one
    return _object_array(values)


def _object_array(values: Any) -> npt.NDArray[Any]:
    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values.astype(object)
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _missing(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    import pandas as pd  # its isna knows None, NaN, NA and NaT alike

    return np.asarray(pd.isna(values), dtype=bool)
