"""``POST /v1/explain``: per-row SHAP values for the rows sent (``conveyor.explain``)."""

from __future__ import annotations

import time
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


def explain(server: Server, model: ServedModel, rows: Rows) -> dict[str, Any]:
    """Per-row SHAP values of ``rows`` against the model's registered input example.

    The explainer is built once per served model and reused (building it is the slow part).
    """
    import pandas as pd

    from conveyor.explain import Explainer
    from conveyor.serving._signature import validate_frame

    frame = validate_frame(model, pd.DataFrame(rows.columns))
    try:
        explainer = server.explainers.get(model)
        if explainer is None:
            explainer = Explainer(model.predictor, _background(model, frame))
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
