"""Safe formats: untrusted types, pickles and pickled tensors are refused before they run."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from conveyor.registry.flavors import (
    UnsupportedModelError,
    UntrustedModelError,
    flavor_for,
    get_flavor,
)

TRIPPED: list[str] = []


class Tripwire(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A custom transformer that records when an instance is rebuilt from a file."""

    def fit(self, x: Any, y: Any = None) -> Tripwire:
        return self

    def transform(self, x: Any) -> Any:
        return x

    def __setstate__(self, state: dict[str, Any]) -> None:
        TRIPPED.append("rebuilt")
        self.__dict__.update(state)


class Scorer:
    """An object with predict but no safe flavor (only picklable)."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame))


@pytest.fixture
def fitted(cancer: tuple[pd.DataFrame, pd.Series]) -> tuple[Any, pd.DataFrame]:
    x, y = cancer
    x = x.iloc[:, :3]
    return make_pipeline(Tripwire(), LogisticRegression(max_iter=500)).fit(x, y), x


def test_a_skops_file_altered_to_name_an_untrusted_type_is_refused_before_building(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, x = fitted
    flavor = get_flavor("sklearn")
    safe = LogisticRegression(max_iter=500).fit(x, np.arange(len(x)) % 2)
    meta = flavor.save(safe, tmp_path)
    (tmp_path / meta["file"]).write_bytes(sio.dumps(model))  # swap in a file naming Tripwire
    TRIPPED.clear()
    with pytest.raises(
        UntrustedModelError, match=r"Refusing to load model\.skops.*Tripwire"
    ) as info:
        flavor.load(tmp_path, meta)
    assert info.value.fields["types"] == [f"{__name__}.Tripwire"]
    assert TRIPPED == []
    loaded = flavor.load(tmp_path, meta, trusted=True)  # only an explicitly trusted version
    assert TRIPPED == ["rebuilt"]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_flavor_for_refuses_an_estimator_with_custom_types_unless_trusted(
    fitted: tuple[Any, pd.DataFrame],
) -> None:
    model, _ = fitted
    with pytest.raises(UntrustedModelError, match=r"cannot store Pipeline safely.*Tripwire"):
        flavor_for(model)
    assert flavor_for(model, trusted=True).name == "pickle"


def test_sklearn_save_refuses_custom_types(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    with pytest.raises(UntrustedModelError, match=r"could not be loaded safely.*Tripwire"):
        get_flavor("sklearn").save(fitted[0], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_objects_need_trusted_and_then_are_pickled(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match=r"No model flavor can store .*Scorer"):
        flavor_for(Scorer())
    with pytest.raises(UnsupportedModelError):
        flavor_for(object(), trusted=True)  # nothing to predict with
    flavor = flavor_for(Scorer(), trusted=True)
    meta = flavor.save(Scorer(), tmp_path)
    assert meta["requires_trusted"] is True
    with pytest.raises(UntrustedModelError, match=r"Refusing to unpickle model\.pkl"):
        flavor.load(tmp_path, meta)
    assert flavor.load(tmp_path, meta, trusted=True).predict(
        pd.DataFrame({"a": [1, 2]})
    ).tolist() == [0, 0]


class _Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (TRIPPED.append, ("unpickled",))


def test_a_torch_state_dict_holding_pickled_code_is_refused(tmp_path: Path) -> None:
    flavor = get_flavor("pytorch")
    module = torch.nn.Linear(2, 1)
    meta = flavor.save(module, tmp_path)
    buffer = io.BytesIO()
    torch.save({"weight": _Payload()}, buffer, pickle_protocol=2)
    (tmp_path / meta["file"]).write_bytes(buffer.getvalue())
    TRIPPED.clear()
    with pytest.raises(UntrustedModelError, match="holds more than tensors"):
        flavor.load(tmp_path, meta)
    assert TRIPPED == []


def test_pickle_load_never_runs_without_trust(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(_Payload()))
    TRIPPED.clear()
    with pytest.raises(UntrustedModelError):
        get_flavor("pickle").load(tmp_path, {"file": "model.pkl"})
    assert TRIPPED == []
