"""``POST /v1/explain``: per-row SHAP values for the rows sent (``conveyor.explain``).

Explanations use the native model even when its ONNX twin serves predictions (SHAP's tree
and linear algorithms need the native estimator); the explainer is built once per loaded
version, while the version loads and before it is ready, by the :class:`ExplainerSlot` the
loader attaches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from conveyor.errors import ConveyorError
from conveyor.serving._errors import PredictionFailedError, RequestError
from conveyor.serving._host import RouteRequest
from conveyor.serving._inputs import Rows, as_mapping
from conveyor.serving._model import ServedModel
from conveyor.serving._payloads import v1_rows
from conveyor.serving._wire import error_response, json_response

if TYPE_CHECKING:
    from conveyor.serving._app import Server


def _background(model: ServedModel, rows: Any) -> Any:
    import pandas as pd

    example = model.example
    if isinstance(example, dict) and "columns" in example and "data" in example:
        return pd.DataFrame(example["data"], columns=example["columns"])[list(model.column_names)]
    return rows


class ExplainerSlot:
    """A version's explainer, built while the version loads, or why it could not be built.

    The loader prepares it before the version is declared ready, so building (loading the
    native model when an ONNX twin serves, importing SHAP and what skops imports, preparing
    the background) never runs on a request and never competes for the interpreter with
    live traffic: on a loaded server those imports held the GIL for seconds and stretched
    prediction latencies to hundreds of milliseconds. A build that fails is kept and
    reported to each explain request; predictions are served regardless.

    Args:
        value: The explainer.
        error: What stopped it from being built.
    """

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value = value
        self._error = error

    @classmethod
    def prepare(cls, build: Callable[[], Any]) -> ExplainerSlot:
        """Run ``build`` in the calling thread (the loader's) and keep its result or error."""
        try:
            return cls(value=build())
        except Exception as exc:  # noqa: BLE001 - reported to every explain request
            return cls(error=exc)

    def get(self) -> Any:
        """The explainer.

        Raises:
            PredictionFailedError: Building it failed.
        """
        if self._error is not None:
            raise PredictionFailedError(
                f"The explainer could not be built: {type(self._error).__name__}: {self._error}",
                hint="Install the `explain` extra (shap) and check the model's input example.",
            )
        return self._value


def explainer_for(predictor: Any, model: ServedModel, rows: Any = None) -> Any:
    """Build the SHAP explainer of ``predictor`` with ``model``'s input example as background."""
    from conveyor.explain import Explainer

    return Explainer(predictor, _background(model, rows))


def explain(server: Server, model: ServedModel, rows: Rows) -> dict[str, Any]:
    """Per-row SHAP values of ``rows`` against the model's registered input example.

    The explainer comes from the version's :class:`ExplainerSlot` (prepared at load, on the
    native model); a version served without one gets one built on its first request.
    """
    import pandas as pd

    from conveyor.serving._signature import validate_frame

    frame = validate_frame(model, pd.DataFrame(rows.columns))
    try:
        if model.explainer is not None:
            explainer = model.explainer.get()
        else:
            explainer = server.explainers.get(model)
            if explainer is None:
                explainer = explainer_for(model.predictor, model, frame)
                server.explainers[model] = explainer
        result = explainer.explain(frame)
    except ConveyorError:
        raise
    except Exception as exc:  # an explainer failure is reported, not a crash
        raise PredictionFailedError(
            f"Explaining rows of {model.name}@{model.version} failed: {type(exc).__name__}: {exc}",
            hint="Check that the rows match the model's signature.",
        ) from exc
    return {
        "explanations": result.to_records(),
        "base_values": np.asarray(result.base_values).reshape(-1).tolist(),
        "method": result.method,
    }


async def handle_explain(server: Server, request: Request) -> Response:
    """Answer ``{"explanations": [...], "model", "version", "request_id"}``."""
    started = time.perf_counter()
    rid = server.request_id(request)
    headers = {"x-request-id": rid}
    model: ServedModel | None = None
    route = "/v1/explain"
    try:
        payload = as_mapping(await server.payload(request))
        model = server.host.route(RouteRequest(None, None, rid, request.headers))
        rows = v1_rows(model, payload, server.settings)
        values = await anyio.to_thread.run_sync(explain, server, model, rows)
    except RequestError as exc:
        server.observe(model, route, exc.status, started)
        return error_response(exc, headers)
    server.observe(model, route, 200, started)
    body = {
        **values,
        "model": model.name,
        "version": model.version,
        "request_id": rid,
    }
    return json_response(body, 200, headers)
