"""XGBoost and LightGBM models in their native formats (UBJSON and model text).

Neither format holds code, and the recorded model class is checked against an exact
list before it is imported. An XGBoost scikit-learn wrapper reloads through its own
``load_model``; a LightGBM model is served from its booster, with class labels recorded
in the metadata so a classifier still returns labels and class probabilities. A LightGBM
wrapper's parameters are recorded too, so :meth:`LightGBMFlavor.load_model` rebuilds
the ``LGBMClassifier``/``LGBMRegressor`` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from conveyor.core import LIGHTGBM_CLASSES, XGBOOST_CLASSES
from conveyor.registry.flavors._base import (
    Flavor,
    Predictor,
    class_path,
    imported_subclass,
    model_file,
    recorded_class,
    require,
)
from conveyor.registry.flavors._errors import FlavorError
from conveyor.registry.flavors._lightgbm_wrapper import rebuild_wrapper, wrapper_meta

if TYPE_CHECKING:
    import pandas as pd

XGB_FILE = "model.ubj"
LGB_FILE = "model.txt"


class XGBoostPredictor:
    """An XGBoost booster or scikit-learn wrapper behind the :class:`Predictor` interface."""

    def __init__(self, model: Any, xgb: Any) -> None:
        self.model = model
        self._xgb = xgb
        self._wrapper = isinstance(model, xgb.XGBModel)
        if callable(getattr(model, "predict_proba", None)):
            self.predict_proba = self._predict_proba

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predictions for ``frame``."""
        if self._wrapper:
            return np.asarray(self.model.predict(frame))
        return np.asarray(self.model.predict(self._xgb.DMatrix(frame)))

    def _predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict_proba(frame))

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Predictions for a 2-D array in signature column order."""
        if self._wrapper:
            return np.asarray(self.model.predict(x))
        names = self.model.feature_names
        return np.asarray(self.model.predict(self._xgb.DMatrix(x, feature_names=names)))


class XGBoostFlavor(Flavor):
    """``xgboost.Booster`` and ``XGBClassifier``/``XGBRegressor``/... as UBJSON."""

    name: ClassVar[str] = "xgboost"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return imported_subclass(type(model), "xgboost", "Booster", "XGBModel")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        xgb = require("xgboost", package="xgboost", flavor=self.name)
        model.save_model(str(folder / XGB_FILE))
        return {
            "file": XGB_FILE,
            "class": class_path(type(model)),
            "xgboost_version": xgb.__version__,
        }

    def load_model(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Any:
        xgb = require("xgboost", package="xgboost", flavor=self.name)
        cls = recorded_class(
            meta,
            XGBOOST_CLASSES,
            base=(xgb.Booster, xgb.XGBModel),
            base_name="xgboost model class",
            flavor=self.name,
            trusted=trusted,
        )
        model = cls()
        model.load_model(str(model_file(folder, meta, XGB_FILE)))
        return model

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        xgb = require("xgboost", package="xgboost", flavor=self.name)
        return XGBoostPredictor(self.load_model(folder, meta, trusted=trusted), xgb)


class LightGBMPredictor:
    """A LightGBM booster; labels and probabilities for classifiers from recorded classes."""

    def __init__(self, booster: Any, classes: list[Any] | None) -> None:
        self.model = booster
        self._classes = None if classes is None else np.asarray(classes)
        if self._classes is not None:
            self.predict_proba = self._predict_proba

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predictions for ``frame`` (class labels for a classifier)."""
        return self.predict_array(frame.to_numpy(dtype=np.float64, na_value=np.nan))

    def _predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return self._proba(frame.to_numpy(dtype=np.float64, na_value=np.nan))

    def _proba(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        raw = np.asarray(self.model.predict(x))
        if raw.ndim == 1:  # binary: LightGBM returns P(class 1)
            return np.column_stack([1.0 - raw, raw])
        return raw

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Predictions for a 2-D array in signature column order."""
        if self._classes is None:
            return np.asarray(self.model.predict(x))
        return np.asarray(self._classes[np.argmax(self._proba(x), axis=1)])


class LightGBMFlavor(Flavor):
    """``lightgbm.Booster`` and its scikit-learn wrappers (``LGBMClassifier`` ...) as text."""

    name: ClassVar[str] = "lightgbm"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return imported_subclass(type(model), "lightgbm", "Booster", "LGBMModel")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        lgb = require("lightgbm", package="lightgbm", flavor=self.name)
        meta: dict[str, Any] = {
            "file": LGB_FILE,
            "class": class_path(type(model)),
            "lightgbm_version": lgb.__version__,
        }
        booster = model
        if isinstance(model, lgb.LGBMModel):
            booster = model.booster_
            meta.update(wrapper_meta(model, lgb))
        (folder / LGB_FILE).write_text(booster.model_to_string(), encoding="utf-8")
        return meta

    def load_model(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Any:
        """The booster, or the scikit-learn wrapper when its parameters were recorded."""
        lgb = require("lightgbm", package="lightgbm", flavor=self.name)
        cls = recorded_class(
            meta,
            LIGHTGBM_CLASSES,
            base=(lgb.Booster, lgb.LGBMModel),
            base_name="lightgbm model class",
            flavor=self.name,
            trusted=trusted,
        )
        text = model_file(folder, meta, LGB_FILE).read_text(encoding="utf-8")
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise FlavorError(
                f"The stored LightGBM model text cannot be read: {exc}.",
                hint="The stored model is damaged; register it again.",
                flavor=self.name,
            ) from exc
        if issubclass(cls, lgb.Booster) or "params" not in meta:
            return booster
        return rebuild_wrapper(cls, booster, meta)

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        lgb = require("lightgbm", package="lightgbm", flavor=self.name)
        model = self.load_model(folder, meta, trusted=trusted)
        booster = model.booster_ if isinstance(model, lgb.LGBMModel) else model
        return LightGBMPredictor(booster, meta.get("classes"))
