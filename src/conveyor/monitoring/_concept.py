"""Concept-drift detectors over the error stream: ADWIN and Page-Hinkley (``river``).

The stream is the per-row loss of labelled predictions in time order (0/1 for a wrong
class, or the absolute error). ADWIN keeps an adaptive window and signals when two
sub-windows have significantly different means (``delta`` bounds the false-alarm
probability). Page-Hinkley accumulates deviations from the running mean and signals when
the cumulative increase passes ``threshold`` (``mode="up"``: only a worsening counts).
Both restart after a detection, so a stream may hold several change points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conveyor.monitoring._errors import MonitoringError

DETECTORS: dict[str, dict[str, Any]] = {
    "adwin": {"delta": 0.002},
    "page_hinkley": {"min_instances": 30, "delta": 0.005, "threshold": 50.0, "mode": "up"},
}


def _build(name: str, params: Mapping[str, Any]) -> Any:
    try:
        from river import drift
    except ImportError as exc:  # pragma: no cover - river is a dependency
        raise MonitoringError(
            "Concept-drift detection needs the `river` package.",
            hint="pip install river",
        ) from exc
    if name == "adwin":
        return drift.ADWIN(**params)  # type: ignore[no-untyped-call]
    if name == "page_hinkley":
        return drift.PageHinkley(**params)
    raise MonitoringError(
        f"No concept-drift detector named {name!r}.",
        hint=f"Use one of: {', '.join(DETECTORS)}.",
        detector=name,
    )


def detect_changes(
    errors: Iterable[float],
    *,
    detectors: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, list[int]]:
    """Run each detector over ``errors`` and return the indexes where it signalled.

    Args:
        errors: The error stream, oldest first.
        detectors: ``{name: params}`` (default :data:`DETECTORS`).

    Returns:
        ``{detector: [index of each detection, ...]}``.

    Example:
        >>> stream = [0.0] * 500 + [1.0] * 100
        >>> detect_changes(stream)["adwin"][0] >= 500
        True
    """
    chosen = DETECTORS if detectors is None else detectors
    built = {name: _build(name, params) for name, params in chosen.items()}
    found: dict[str, list[int]] = {name: [] for name in built}
    for index, value in enumerate(errors):
        for name, detector in built.items():
            detector.update(float(value))
            if detector.drift_detected:
                found[name].append(index)
    return found
