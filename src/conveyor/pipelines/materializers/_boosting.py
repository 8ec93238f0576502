"""XGBoost and LightGBM models in their own native formats.

XGBoost boosters and scikit-learn wrappers are saved as UBJSON (``save_model``), which keeps
the wrapper's fitted attributes. LightGBM is saved as model text; a scikit-learn wrapper
(``LGBMClassifier`` ...) is rebuilt from its parameters, the booster and, for classifiers,
the class labels, all recorded in the metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from conveyor.core import (
    LIGHTGBM_CLASSES,
    XGBOOST_CLASSES,
    UntrustedContentError,
    check_class_path,
)
from conveyor.pipelines.materializers._base import (
    Materializer,
    class_path,
    import_class,
    imported_class,
    require,
)
from conveyor.pipelines.materializers._errors import MaterializerError, UntrustedTypeError


def _subclass_of(value_type: type, module: str, names: tuple[str, ...]) -> bool:
    bases = [imported_class(module, name) for name in names]
    return any(base is not None and issubclass(value_type, base) for base in bases)


def _checked_class(
    meta: dict[str, Any], allowed: frozenset[str], bases: tuple[type, ...], materializer: str
) -> type:
    """The recorded model class, checked against the exact list before it is imported."""
    try:
        path = check_class_path(
            meta.get("class"), allowed, what=f"the recorded {materializer} class"
        )
    except UntrustedContentError as exc:
        raise UntrustedTypeError(
            exc.message, hint=exc.hint, materializer=materializer, types=exc.fields["types"]
        ) from exc
    cls = import_class(path, materializer=materializer)
    if not issubclass(cls, bases):
        raise MaterializerError(
            f"Recorded class {meta.get('class')!r} is not a {materializer} model.",
            hint="The output record was altered; re-run the step that produced it.",
            materializer=materializer,
        )
    return cls


class XGBoostMaterializer(Materializer):
    """``xgboost.Booster`` and its scikit-learn wrappers (``XGBClassifier`` ...) as UBJSON."""

    name: ClassVar[str] = "xgboost"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/ubjson"
    suffix: ClassVar[str] = ".ubj"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return _subclass_of(value_type, "xgboost", ("Booster", "XGBModel"))

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        value.save_model(str(path))
        return {"class": class_path(type(value))}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        xgb = require("xgboost", package="xgboost", materializer=self.name)
        cls = _checked_class(meta, XGBOOST_CLASSES, (xgb.Booster, xgb.XGBModel), self.name)
        model = cls()
        model.load_model(str(path))
        return model


class LightGBMMaterializer(Materializer):
    """``lightgbm.Booster`` and its scikit-learn wrappers (``LGBMClassifier`` ...) as text.

    A wrapper's parameters must be JSON-able (no callables or ``RandomState`` objects).
    """

    name: ClassVar[str] = "lightgbm"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "text/plain"
    suffix: ClassVar[str] = ".txt"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return _subclass_of(value_type, "lightgbm", ("Booster", "LGBMModel"))

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        lgb = require("lightgbm", package="lightgbm", materializer=self.name)
        meta: dict[str, Any] = {"class": class_path(type(value))}
        booster = value
        if isinstance(value, lgb.LGBMModel):
            booster = value.booster_
            meta["params"] = _json_params(value.get_params(deep=False), self.name)
            meta["objective"] = value.objective_
            meta["feature_names"] = bool(getattr(value, "_fitted_with_feature_names", False))
            if isinstance(value, lgb.LGBMClassifier):
                meta["classes"] = value.classes_.tolist()
        path.write_text(booster.model_to_string(), encoding="utf-8")
        return meta

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        lgb = require("lightgbm", package="lightgbm", materializer=self.name)
        cls = _checked_class(meta, LIGHTGBM_CLASSES, (lgb.Booster, lgb.LGBMModel), self.name)
        booster = lgb.Booster(model_str=path.read_text(encoding="utf-8"))
        if issubclass(cls, lgb.Booster):
            return booster
        return _rebuild_wrapper(cls, booster, meta)


def _rebuild_wrapper(cls: type, booster: Any, meta: dict[str, Any]) -> Any:
    """Set the fitted state LightGBM's ``fit`` would set (it has no wrapper loader)."""
    np = require("numpy", package="numpy", materializer=LightGBMMaterializer.name)
    model = cls(**meta.get("params", {}))
    model._Booster = booster
    model._n_features = booster.num_feature()
    model._n_features_in = booster.num_feature()
    model._objective = meta.get("objective")
    model._evals_result = {}
    model._best_iteration = booster.best_iteration
    model._best_score = {}
    model._fitted_with_feature_names = bool(meta.get("feature_names"))
    model.fitted_ = True
    if "classes" in meta:
        wrappers = require("lightgbm.sklearn", package="lightgbm", materializer="lightgbm")
        classes = np.asarray(meta["classes"])
        model._le = wrappers._LGBMLabelEncoder().fit(classes)
        model._classes = model._le.classes_
        model._n_classes = len(model._classes)
        model._class_map = dict(
            zip(model._le.classes_, model._le.transform(model._le.classes_), strict=True)
        )
    return model


def _json_params(params: dict[str, Any], materializer: str) -> dict[str, Any]:
    try:
        text = json.dumps(params, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MaterializerError(
            f"Cannot save this LightGBM model: its parameters are not JSON-able ({exc}).",
            hint="Use plain values for parameters (an int random_state, no callables), or "
            "save model.booster_ instead of the wrapper.",
            materializer=materializer,
        ) from exc
    restored: dict[str, Any] = json.loads(text)
    if restored != params:
        raise MaterializerError(
            "Cannot save this LightGBM model: its parameters do not survive JSON "
            "(non-string dict keys such as an int-keyed class_weight).",
            hint="Use string class labels, or save model.booster_ instead of the wrapper.",
            materializer=materializer,
        )
    return restored
