"""A LightGBM scikit-learn wrapper (``LGBMClassifier`` ...) recorded and rebuilt around its
booster: LightGBM has no loader for wrappers, so their fitted state is set back by hand."""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.registry.flavors._base import json_problem, require


def wrapper_meta(model: Any, lgb: Any) -> dict[str, Any]:
    """What :func:`rebuild_wrapper` needs: class labels, parameters, objective.

    Parameters that do not survive JSON (callables, ``RandomState`` objects, int-keyed
    dicts) are not recorded; ``params_unsaved`` then says why, and the model loads back as
    its booster (which predicts the same).
    """
    meta: dict[str, Any] = {}
    if isinstance(model, lgb.LGBMClassifier):
        meta["classes"] = np.asarray(model.classes_).tolist()
    params = model.get_params(deep=False)
    problem = json_problem(params, exact=True)
    if problem is not None:
        meta["params_unsaved"] = f"its parameters cannot be recorded: {problem}"
        return meta
    meta["params"] = params
    meta["objective"] = model.objective_
    meta["feature_names"] = bool(getattr(model, "_fitted_with_feature_names", False))
    return meta


def rebuild_wrapper(cls: type, booster: Any, meta: dict[str, Any]) -> Any:
    """Set the fitted state LightGBM's ``fit`` would set on a new ``cls`` instance."""
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
        wrappers = require("lightgbm.sklearn", package="lightgbm", flavor="lightgbm")
        classes = np.asarray(meta["classes"])
        model._le = wrappers._LGBMLabelEncoder().fit(classes)
        model._classes = model._le.classes_
        model._n_classes = len(model._classes)
        model._class_map = dict(
            zip(model._le.classes_, model._le.transform(model._le.classes_), strict=True)
        )
    return model
