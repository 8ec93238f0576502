"""The mergeable numeric sketch: exact ranks at planned points, bounded quantile error."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.monitoring._base import FeatureWindow
from conveyor.monitoring._builtins import (
    ChiSquareTest,
    JensenShannonTest,
    KolmogorovSmirnovTest,
    PopulationStabilityTest,
    WassersteinTest,
)
from conveyor.monitoring._parts import reference_points
from conveyor.monitoring._reference import NumericReference, reference_from_profile
from conveyor.monitoring._sketch import RELATIVE_ACCURACY, NumericSketch


def _values(seed: int, size: int = 20_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.concatenate(
        [rng.normal(0.3, 2.0, size), np.zeros(50), rng.integers(-5, 5, 500).astype(float)]
    )
    rng.shuffle(values)
    return values


def _split_and_merge(values: np.ndarray, points: np.ndarray, parts: int) -> NumericSketch:
    pieces = np.array_split(values, parts)
    merged = NumericSketch.of(pieces[0], points)
    for piece in pieces[1:]:
        merged = merged.merge(NumericSketch.of(piece, points))
    return merged


@pytest.mark.parametrize("parts", [1, 3, 17])
@pytest.mark.parametrize("grid", [21, 201], ids=["compared", "searched"])
def test_ranks_at_planned_points_are_exact_after_merging(parts: int, grid: int) -> None:
    values = _values(1)
    points = np.unique(np.concatenate([np.linspace(-6, 6, grid), [0.0, 1.0, -3.0]]))
    sketch = _split_and_merge(values, points, parts)
    ordered = np.sort(values)
    assert sketch.rank(points, "left").tolist() == np.searchsorted(ordered, points, "left").tolist()
    assert (
        sketch.rank(points, "right").tolist() == np.searchsorted(ordered, points, "right").tolist()
    )


def test_count_extremes_mean_and_std_merge_to_those_of_the_whole() -> None:
    values = _values(2)
    sketch = _split_and_merge(values, np.zeros(0), 9)
    assert sketch.count == values.size
    assert (sketch.min, sketch.max) == (values.min(), values.max())
    assert sketch.mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-12)
    assert sketch.std == pytest.approx(values.std(ddof=1), rel=1e-12)


def test_order_statistics_are_within_the_relative_accuracy() -> None:
    values = _values(3)
    ordered = np.sort(values)
    sketch = _split_and_merge(values, np.zeros(0), 5)
    ranks = np.arange(values.size)
    approx = sketch.order_statistics(ranks)
    assert np.all(np.abs(approx - ordered) <= RELATIVE_ACCURACY * np.abs(ordered) + 1e-12)
    assert (approx[0], approx[-1]) == (ordered[0], ordered[-1])


def test_sketches_counted_at_other_points_do_not_merge() -> None:
    with pytest.raises(ValueError, match="different points"):
        NumericSketch.of(np.ones(3), np.array([0.0])).merge(
            NumericSketch.of(np.ones(3), np.array([1.0]))
        )


@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_drift_tests_on_a_merged_sketch_agree_with_sorted_values(
    profile: dict, shift: float
) -> None:
    reference = reference_from_profile(profile["columns"]["x0"])
    assert isinstance(reference, NumericReference)
    rng = np.random.default_rng(4)
    values = rng.normal(shift, 1.0, 30_000)
    plain = FeatureWindow("numeric", values=np.sort(values))
    sketched = FeatureWindow(
        "numeric", sketch=_split_and_merge(values, reference_points(reference), 7)
    )
    for test in (
        KolmogorovSmirnovTest(),
        ChiSquareTest(),
        JensenShannonTest(),
        PopulationStabilityTest(),
    ):
        expected, actual = test.run("x0", reference, plain), test.run("x0", reference, sketched)
        assert actual.drifted == expected.drifted
        assert actual.score == pytest.approx(expected.score, rel=1e-9, abs=1e-12), test.name
        assert actual.window_size == expected.window_size == values.size
    expected = WassersteinTest().run("x0", reference, plain)
    actual = WassersteinTest().run("x0", reference, sketched)
    assert actual.drifted == expected.drifted
    assert actual.score == pytest.approx(expected.score, abs=2e-3)
