"""SHAP explainers chosen by model kind, with outputs reduced to one value per feature.

For a classifier the explained output is a class probability (or margin, for boosted
trees): the positive class of a binary classifier, the predicted class of each row for a
multi-class one. A scikit-learn pipeline whose leading steps keep one column per input
(scalers, imputers) is explained through its final estimator on the transformed rows, so
a scaled logistic regression still gets the exact linear explainer. Any other pipeline (a
``ColumnTransformer`` with a ``OneHotEncoder`` on string columns) is explained on its raw
input columns by a permutation explainer (:mod:`conveyor.explain._columns` codes them).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from conveyor.explain._columns import ColumnCodec
from conveyor.explain._errors import ExplainError

_TREE_MODULES = ("xgboost", "lightgbm", "sklearn.ensemble", "sklearn.tree")
_ArrayFn = Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]


@dataclass(frozen=True)
class RowExplanations:
    """SHAP values of some rows.

    Attributes:
        features: Feature names, the column order of ``values``.
        values: One row of SHAP values per explained row (rows x features).
        base_values: The explainer's expected output for each row.
        method: ``"tree"``, ``"linear"`` or ``"permutation"``.
    """

    features: list[str]
    values: np.ndarray[Any, Any]
    base_values: np.ndarray[Any, Any]
    method: str

    def to_records(self) -> list[dict[str, float]]:
        """``[{feature: value}]``, one dict per row (JSON-ready)."""
        return [
            {name: float(v) for name, v in zip(self.features, row, strict=True)}
            for row in self.values
        ]


class Explainer:
    """A SHAP explainer bound to one model and background; reuse it across requests.

    Tree and linear estimators on numeric inputs get SHAP's exact algorithms. Anything
    else (including a pipeline that encodes string, categorical, boolean or datetime
    columns itself) gets a permutation explainer over the raw input columns: the model is
    called on raw rows, so the values it explains are per input column, not per encoded
    feature, and each row costs at most ``2 * columns + 1`` model evaluations over at most
    100 background rows.

    Args:
        predictor: A loaded model (``predict``; ``predict_proba`` for classifiers).
        background: Typical input rows (the input example, a training sample).

    Raises:
        ExplainError: SHAP is not installed, ``background`` is empty, a column's values
            cannot be compared, or the model's output is not a number and it has no
            ``predict_proba``.
    """

    def __init__(self, predictor: Any, background: pd.DataFrame) -> None:
        if len(background) == 0:
            raise ExplainError(
                "Cannot explain a model against an empty background frame.",
                hint="Register the model with an input example (a few typical rows).",
            )
        self.features = [str(c) for c in background.columns]
        self._predictor = predictor
        self._background = background.reset_index(drop=True)
        self._prepare, final = _unwrap(getattr(predictor, "model", None), self.features)
        self._shap = shap = _shap()
        data = self._prepare(background)
        numeric = _as_numeric(data)
        if final is not None and _is_tree(final):
            self.method = "tree"
            self._explainer: Any = shap.TreeExplainer(final)
        elif final is not None and numeric is not None and _is_linear(final):
            self.method = "linear"
            masker = shap.maskers.Independent(numeric, max_samples=100)
            self._explainer = shap.LinearExplainer(final, masker)
        else:
            self.method = "permutation"
            self._explainer = None
            # Fail here, where the reason can be recorded, rather than on a request.
            codec = ColumnCodec(self._background)
            self._output_fn(codec)(codec.encode(self._background.head(1)))

    def explain(self, rows: pd.DataFrame) -> RowExplanations:
        """SHAP values of ``rows`` (columns in the background's order).

        Values the model overflows on (``1e308`` through a scaler) give non-finite SHAP
        values for their row instead of an error: numpy's floating-point warnings are
        silenced for this call (in this thread only).

        Raises:
            ExplainError: ``rows`` holds values the explainer cannot code.
        """
        with np.errstate(all="ignore"):
            return self._explain(rows[self.features])

    def _explain(self, rows: pd.DataFrame) -> RowExplanations:
        if self.method == "tree":
            values = self._explainer.shap_values(self._prepare(rows))
            base = self._explainer.expected_value
        elif self.method == "linear":
            numeric = _as_numeric(self._prepare(rows))
            if numeric is None:
                raise ExplainError(
                    "Cannot explain rows whose values are not numeric with a linear model.",
                    hint="Send the columns of the model's signature with their types.",
                )
            values = self._explainer.shap_values(numeric)
            base = self._explainer.expected_value
        else:
            codec = ColumnCodec(self._background, rows)
            masker = self._shap.maskers.Independent(codec.encode(self._background), max_samples=100)
            explainer = self._shap.PermutationExplainer(self._output_fn(codec), masker)
            evals = 2 * len(self.features) + 1
            result = explainer(codec.encode(rows), max_evals=max(evals, 10), silent=True)
            values, base = result.values, result.base_values
        picked = self._picked_class(rows, values)
        return RowExplanations(
            self.features,
            _select(_as_array(values), picked),
            _base_values(base, len(rows), picked, per_row=self.method == "permutation"),
            self.method,
        )

    def _picked_class(self, rows: pd.DataFrame, values: Any) -> np.ndarray[Any, Any] | None:
        array = _as_array(values)
        if array.ndim != 3:
            return None
        if array.shape[2] == 2:
            return np.ones(len(rows), dtype=int)
        proba = getattr(self._predictor, "predict_proba", None)
        if callable(proba):
            return np.asarray(np.argmax(np.asarray(proba(rows)), axis=1))
        return np.asarray(np.argmax(np.abs(array).sum(axis=1), axis=1))

    def _output_fn(self, codec: ColumnCodec) -> _ArrayFn:
        predictor = self._predictor
        proba = getattr(predictor, "predict_proba", None)

        def output(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            frame = codec.decode(x)
            if callable(proba):
                return np.asarray(proba(frame), dtype=float)
            result = np.asarray(predictor.predict(frame))
            if not np.issubdtype(result.dtype, np.number) and result.dtype != np.bool_:
                raise ExplainError(
                    "Cannot explain a model whose predictions are not numbers "
                    f"(dtype {result.dtype}) and that has no predict_proba.",
                    hint="Give the model a predict_proba method, or predict numbers.",
                )
            return result.astype(float)

        return output


def make_explainer(predictor: Any, background: pd.DataFrame) -> Explainer:
    """An :class:`Explainer` for ``predictor`` with ``background`` as reference rows.

    Args:
        predictor: A loaded model (``conveyor.registry.flavors.Predictor``).
        background: Typical input rows (the input example, a training sample).
    """
    return Explainer(predictor, background)


def explain_rows(predictor: Any, background: pd.DataFrame, rows: pd.DataFrame) -> RowExplanations:
    """Per-row SHAP values of ``rows``.

    Example:
        >>> explanations = explain_rows(predictor, train.head(100), request_rows)  # doctest: +SKIP
        >>> explanations.to_records()[0]  # doctest: +SKIP
        {'age': 0.12, 'income': -0.03}
    """
    return Explainer(predictor, background).explain(rows)


def global_importance(
    predictor: Any,
    frame: pd.DataFrame,
    *,
    budget_s: float = 10.0,
    max_rows: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Mean absolute SHAP value of every feature over (a sample of) ``frame``.

    Tree and linear models explain up to ``max_rows`` rows exactly. Other models are
    explained row batch by row batch with a permutation explainer until ``budget_s``
    seconds have passed (at least one batch is always explained).

    Args:
        predictor: A loaded model.
        frame: Input rows, columns in signature order; also the background.
        budget_s: Time budget for the model-agnostic explainer.
        max_rows: Rows explained at most.
        seed: Seed of the row sample.

    Returns:
        ``{feature: mean |SHAP|}`` sorted by decreasing importance.

    Raises:
        ExplainError: ``frame`` is empty or the model's output cannot be explained.
    """
    if len(frame) == 0:
        raise ExplainError(
            "Cannot compute feature importance from an empty frame.",
            hint="Pass an input example or a sample of the training data.",
        )
    sample = frame.sample(min(len(frame), max_rows), random_state=seed).reset_index(drop=True)
    explainer = Explainer(predictor, sample)
    if explainer.method != "permutation":
        values = explainer.explain(sample).values
    else:
        values = _within_budget(explainer, sample, budget_s)
    means = np.abs(values).mean(axis=0)
    ranked = sorted(zip(explainer.features, means, strict=True), key=lambda kv: -float(kv[1]))
    return {name: float(value) for name, value in ranked}


def _within_budget(
    explainer: Explainer, sample: pd.DataFrame, budget_s: float
) -> np.ndarray[Any, Any]:
    start = time.monotonic()
    chunks: list[np.ndarray[Any, Any]] = []
    done, batch = 0, 8
    while done < len(sample):
        chunk = sample.iloc[done : done + batch]
        chunks.append(explainer.explain(chunk).values)
        done += len(chunk)
        elapsed = time.monotonic() - start
        if elapsed >= budget_s:
            break
        # Grow the batch toward what the remaining budget allows at the rate seen so far.
        per_row = elapsed / done
        batch = max(1, min(4 * batch, int((budget_s - elapsed) / max(per_row, 1e-9))))
    return np.concatenate(chunks, axis=0)


def _shap() -> Any:
    try:
        return importlib.import_module("shap")
    except ImportError as exc:
        raise ExplainError(
            "Explanations need the Python package 'shap', which is not installed.",
            hint="Run: pip install 'conveyor-ml[explain]'",
        ) from exc


_Prepare = Callable[[pd.DataFrame], Any]


def _unwrap(model: Any, features: list[str]) -> tuple[_Prepare, Any]:
    """(rows -> explainer input, the estimator to explain) for a native model."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        head, final = model[:-1], steps[-1][1]
        try:
            names = [str(n) for n in head.get_feature_names_out(features)]
        except (AttributeError, ValueError, TypeError):
            return _identity, None
        if names == features:

            def transform(rows: pd.DataFrame) -> Any:
                return pd.DataFrame(np.asarray(head.transform(rows)), columns=features)

            return transform, final
        return _identity, None
    return _identity, model


def _identity(rows: pd.DataFrame) -> Any:
    return rows


def _is_tree(model: Any) -> bool:
    module = type(model).__module__
    return any(module == root or module.startswith(root + ".") for root in _TREE_MODULES) and (
        hasattr(model, "estimators_")
        or hasattr(model, "tree_")
        or module.startswith(("xgboost", "lightgbm"))
    )


def _is_linear(model: Any) -> bool:
    return type(model).__module__.startswith("sklearn.linear_model") and hasattr(model, "coef_")


def _as_numeric(data: Any) -> np.ndarray[Any, Any] | None:
    """``data`` as a float matrix, or ``None`` when a column is not numeric."""
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _as_array(values: Any) -> np.ndarray[Any, Any]:
    if isinstance(values, list):  # older SHAP: one array per class
        return np.stack([np.asarray(v) for v in values], axis=-1)
    return np.asarray(values, dtype=float)


def _select(
    array: np.ndarray[Any, Any], picked: np.ndarray[Any, Any] | None
) -> np.ndarray[Any, Any]:
    if array.ndim == 3 and picked is not None:
        return np.asarray(array[np.arange(array.shape[0]), :, picked])
    return array


def _base_values(
    base: Any, rows: int, picked: np.ndarray[Any, Any] | None, *, per_row: bool
) -> np.ndarray[Any, Any]:
    """One expected value per row: SHAP gives a scalar, one per class, or (permutation)
    one per row (and class)."""
    array = np.asarray(base, dtype=float)
    if not per_row:
        if array.ndim == 0 or array.size == 1:
            return np.full(rows, float(array.reshape(-1)[0]))
        chosen = picked if picked is not None else np.full(rows, array.shape[0] - 1)
        return np.asarray(array.reshape(-1)[chosen], dtype=float)
    if array.ndim == 2:
        chosen = picked if picked is not None else np.full(rows, array.shape[1] - 1)
        return np.asarray(array[np.arange(rows), chosen], dtype=float)
    return np.asarray(array.reshape(rows), dtype=float)
