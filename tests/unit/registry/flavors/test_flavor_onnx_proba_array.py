"""An ONNX twin gives class probabilities for a plain array, as it does for a DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from conveyor.registry.flavors import OnnxPredictor, infer_signature, to_onnx


def test_probabilities_of_an_array_equal_those_of_the_same_rows_as_a_frame(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    x, y = cancer
    model = LogisticRegression(max_iter=5000).fit(x, y)
    signature = infer_signature(x.head(5))
    data = to_onnx(model, signature, x.head(5))
    assert data is not None
    twin = OnnxPredictor(data)
    rows = x.head(9)
    from_array = twin.predict_proba_array(rows.to_numpy())
    from_frame = twin.predict_proba(rows)
    assert from_array.shape == (9, 2)
    np.testing.assert_allclose(from_array, from_frame)
    np.testing.assert_allclose(from_array, model.predict_proba(rows), atol=1e-5)


def test_a_twin_without_a_probability_output_has_no_array_probabilities(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    from sklearn.linear_model import LinearRegression

    x, y = cancer
    model = LinearRegression().fit(x, y)
    data = to_onnx(model, infer_signature(x.head(5)), x.head(5))
    assert data is not None
    twin = OnnxPredictor(data)
    assert not hasattr(twin, "predict_proba_array")
    assert not hasattr(twin, "predict_proba")
