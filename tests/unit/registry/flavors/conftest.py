"""Small real models and data shared by the flavor tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).replace(" ", "_").replace("(", "").replace(")", "") for c in frame]
    return frame


@pytest.fixture(scope="session")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    """Breast-cancer features (30 doubles) and a 0/1 target."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return _clean(x), y


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    """Iris features (4 doubles) and string class labels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_iris(as_frame=True)
    labels = np.asarray(data.target_names)[data.target.to_numpy()]
    return _clean(data.data), pd.Series(labels, name="species")
