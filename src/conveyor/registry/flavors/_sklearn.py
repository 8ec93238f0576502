"""scikit-learn estimators through skops, loaded with an explicit list of trusted types.

skops records every type a file needs. Loading trusts exactly the named types that come
from scikit-learn, numpy and scipy; a file naming anything else (a custom class, a
function from another module) is refused before an object is built, unless the version
was registered with ``trusted=True``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from conveyor.registry.flavors._base import Flavor, Predictor, imported_class, require
from conveyor.registry.flavors._errors import FlavorError, UntrustedModelError

#: Top-level modules whose types a stored estimator may name without ``trusted=True``.
TRUSTED_ROOTS = frozenset({"sklearn", "numpy", "scipy"})
MODEL_FILE = "model.skops"


class SklearnPredictor:
    """A fitted scikit-learn estimator behind the :class:`Predictor` interface."""

    def __init__(self, model: Any) -> None:
        self.model = model
        names = _feature_names(model)
        # Estimators fitted on frames warn when given bare arrays; keep their names.
        self._columns: list[str] | None = None if names is None else [str(n) for n in names]
        if callable(getattr(model, "predict_proba", None)):
            self.predict_proba = self._predict_proba

    def _input(self, frame: pd.DataFrame) -> Any:
        # An estimator fitted on a bare array warns when given a frame: pass it the values.
        return frame if self._columns is not None else frame.to_numpy()

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predictions of the estimator for ``frame``."""
        return np.asarray(self.model.predict(self._input(frame)))

    def _predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict_proba(self._input(frame)))

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Predictions for a 2-D array in signature column order."""
        if self._columns is not None:
            return self.predict(pd.DataFrame(x, columns=self._columns))
        return np.asarray(self.model.predict(x))


class SklearnFlavor(Flavor):
    """Any ``sklearn.base.BaseEstimator`` (pipelines and search results included)."""

    name: ClassVar[str] = "sklearn"

    @classmethod
    def handles(cls, model: Any) -> bool:
        base = imported_class("sklearn.base", "BaseEstimator")
        return base is not None and isinstance(model, base)

    def unsafe_parts(self, model: Any) -> list[str]:
        sio = require("skops.io", package="skops", flavor=self.name)
        try:
            named = sio.get_untrusted_types(data=sio.dumps(model))
        except (TypeError, ValueError, AttributeError) as exc:
            return [f"{type(model).__qualname__} ({exc})"]
        return _outside_roots(named)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        sio = require("skops.io", package="skops", flavor=self.name)
        try:
            data = sio.dumps(model)
        except (TypeError, ValueError, AttributeError) as exc:
            raise FlavorError(
                f"skops cannot save the estimator {type(model).__qualname__}: {exc}.",
                hint="Wrap the model in a pyfunc class, or register it with trusted=True "
                "to store it as a pickle.",
                flavor=self.name,
            ) from exc
        untrusted = _outside_roots(sio.get_untrusted_types(data=data))
        if untrusted:
            raise UntrustedModelError(
                f"The estimator {type(model).__qualname__} contains types that could not be "
                f"loaded safely: {', '.join(untrusted)}.",
                hint="Use scikit-learn, numpy and scipy types only, wrap the model in a pyfunc "
                "class, or register it with trusted=True.",
                flavor=self.name,
                types=untrusted,
            )
        (folder / MODEL_FILE).write_bytes(data)
        sklearn = require("sklearn", package="scikit-learn", flavor=self.name)
        return {"file": MODEL_FILE, "sklearn_version": sklearn.__version__}

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        path = folder / str(meta.get("file", MODEL_FILE))
        return SklearnPredictor(load_estimator(path, trusted=trusted))


def load_estimator(path: Path, *, trusted: bool = False) -> Any:
    """Load a skops file, trusting exactly the sklearn/numpy/scipy types it names.

    Raises:
        UntrustedModelError: The file names other types and ``trusted`` is false; nothing
            was built.
        FlavorError: The file is not a skops archive.
    """
    sio = require("skops.io", package="skops", flavor=SklearnFlavor.name)
    try:
        named = list(sio.get_untrusted_types(file=path))
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise FlavorError(
            f"{path.name} is not a readable skops file: {exc}.",
            hint="The stored model is damaged; register it again.",
            flavor=SklearnFlavor.name,
        ) from exc
    untrusted = _outside_roots(named)
    if untrusted and not trusted:
        raise UntrustedModelError(
            f"Refusing to load {path.name}: it names types outside "
            f"{', '.join(sorted(TRUSTED_ROOTS))}: {', '.join(untrusted)}.",
            hint="Nothing was loaded. Register the model again from code you trust, or "
            "mark the version trusted only if you trust its author.",
            flavor=SklearnFlavor.name,
            types=untrusted,
        )
    # An explicit list: exactly the types this file names, never a blanket trust.
    return sio.load(path, trusted=named)


def _feature_names(model: Any) -> Any:
    """The column names the estimator (or a step of a pipeline) was fitted with."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return names
    for _, step in getattr(model, "steps", None) or []:
        names = _feature_names(step)
        if names is not None:
            return names
    return None


def _outside_roots(named: list[str]) -> list[str]:
    return sorted(t for t in named if t.partition(".")[0] not in TRUSTED_ROOTS)
