"""End to end with a real scikit-learn model: flavor, signature, ONNX twin, load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.registry import ModelRegistry, RegistrationError


@pytest.fixture
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"tenure": rng.normal(size=80), "spend": rng.normal(size=80)})
    return x, (x["tenure"] > 0).to_numpy().astype(int)


def test_sklearn_model_registers_with_signature_onnx_twin_and_loads(
    registry: ModelRegistry, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    registry.importance_fn = lambda predictor, frame: {"tenure": 1.0, "spend": 0.1}
    version = registry.register("churn", model, input_example=x.head(5), metrics={"auc": 0.9})
    assert version.flavor == "sklearn"
    assert [c["name"] for c in (version.signature or {})["inputs"]] == ["tenure", "spend"]
    assert version.onnx is not None
    assert version.onnx["parity"]["passed"] is True
    assert version.onnx["parity"]["rows"] >= 5
    assert version.importance == {"tenure": 1.0, "spend": 0.1}
    with registry.load("churn@1") as native, registry.load("churn", prefer_onnx=True) as twin:
        assert twin.uses_onnx
        assert not native.uses_onnx
        np.testing.assert_array_equal(native.predict(x), model.predict(x))
        np.testing.assert_array_equal(twin.predict(x), model.predict(x))


def test_pickle_flavor_needs_trust(registry: ModelRegistry) -> None:
    with pytest.raises(RegistrationError, match="trusted=True"):
        registry.register("blob", {"any": "object"}, flavor="pickle")
