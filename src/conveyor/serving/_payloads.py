"""The request shapes each route accepts, read into validated :class:`Rows`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.serving._errors import MalformedRequestError, UnknownOutputError
from conveyor.serving._inputs import Rows, from_columns, from_matrix, from_records, from_split
from conveyor.serving._model import ServedModel
from conveyor.serving._settings import ServingSettings

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
#: What ``"outputs"`` may ask for on ``/v1/predict``.
V1_OUTPUTS = ("predictions", "proba")


def wants_proba(model: ServedModel, payload: Mapping[str, Any]) -> bool:
    """Whether ``payload`` asks for class probabilities (``"outputs": ["proba"]``).

    Raises:
        MalformedRequestError: ``outputs`` is not a list of names.
        UnknownOutputError: It names an output that does not exist, or ``proba`` of a model
            without class probabilities.
    """
    outputs = payload.get("outputs")
    if outputs is None:
        return False
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise MalformedRequestError(
            "'outputs' must be a list of output names.",
            hint='Send "outputs": ["proba"] to get class probabilities with the predictions.',
        )
    unknown = [o[:40] for o in outputs if o not in V1_OUTPUTS]
    if unknown:
        raise UnknownOutputError(
            f"Unknown output(s) {', '.join(map(repr, unknown[:5]))}; outputs are "
            f"{', '.join(V1_OUTPUTS)}.",
            hint='Send "outputs": ["proba"] to get class probabilities with the predictions.',
            unknown=unknown[:5],
        )
    if "proba" in outputs and not model.has_proba:
        raise UnknownOutputError(
            f"Model {model.name}@{model.version} has no class probabilities (it is not a "
            "classifier, or its flavor does not expose them).",
            hint="Leave 'proba' out of 'outputs' for this model.",
            name=model.name,
            version=model.version,
        )
    return "proba" in outputs


def v1_rows(model: ServedModel, payload: Mapping[str, Any], settings: ServingSettings) -> Rows:
    """``{"rows": [{column: value}]}`` or ``{"columns": {column: [values]}}``."""
    if "rows" in payload:
        return from_records(model, payload["rows"], settings)
    if "columns" in payload:
        return from_columns(model, payload["columns"], settings)
    raise MalformedRequestError(
        f"Expected a 'rows' or 'columns' key; got {_keys(payload)}.",
        hint='Send {"rows": [{"x": 1.0}]} or {"columns": {"x": [1.0]}}.',
    )


def mlflow_rows(model: ServedModel, payload: Mapping[str, Any], settings: ServingSettings) -> Rows:
    """MLflow scoring-server payloads: ``dataframe_split``, ``dataframe_records``,
    ``instances`` or ``inputs`` (``params`` is accepted and ignored)."""
    present = [key for key in MLFLOW_FORMATS if key in payload]
    if len(present) != 1:
        raise MalformedRequestError(
            f"Expected exactly one of {', '.join(MLFLOW_FORMATS)}; got {_keys(payload)}.",
            hint='Send {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}.',
        )
    kind = present[0]
    value = payload[kind]
    if kind == "dataframe_split":
        if not isinstance(value, dict):
            raise MalformedRequestError(
                "'dataframe_split' must be an object with 'columns' and 'data'.",
                hint='Send {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}.',
            )
        return from_split(model, value.get("columns"), value.get("data"), settings)
    if kind == "dataframe_records":
        return from_records(model, value, settings)
    # "instances" and "inputs": rows as objects, rows as lists, or an object of columns.
    if isinstance(value, dict):
        return from_columns(model, value, settings)
    if isinstance(value, list) and value and isinstance(value[0], list):
        return from_matrix(model, value, settings)
    return from_records(model, value, settings)


def _keys(payload: Mapping[str, Any]) -> str:
    keys = list(payload)[:10]
    return "keys " + ", ".join(repr(k) for k in keys) if keys else "an empty object"
