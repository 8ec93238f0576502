"""``POST /v1/feedback``: ground-truth labels by request id, written in one batch."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from conveyor.errors import ConveyorError
from conveyor.serving._errors import MalformedRequestError, NotReadyError, RequestError
from conveyor.serving._inputs import as_mapping
from conveyor.serving._wire import error_response, json_response

if TYPE_CHECKING:
    from conveyor.serving._app import Server

_HINT = 'Send {"labels": [{"request_id": "...", "label": 1}]} or {"labels": {"<id>": 1}}.'


def _pairs(payload: Any, limit: int) -> list[tuple[str, Any]]:
    labels = as_mapping(payload).get("labels")
    if isinstance(labels, dict):
        pairs = list(labels.items())
    elif isinstance(labels, list):
        pairs = []
        for item in labels:
            if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
                raise MalformedRequestError(
                    "Every entry of 'labels' needs 'request_id' and 'label'.", hint=_HINT
                )
            pairs.append((item["request_id"], item["label"]))
    else:
        raise MalformedRequestError("Expected a 'labels' list or object.", hint=_HINT)
    if not pairs:
        raise MalformedRequestError("'labels' is empty.", hint=_HINT)
    if len(pairs) > limit:
        raise MalformedRequestError(
            f"The request holds {len(pairs)} labels; at most {limit} are accepted.",
            hint="Split the labels into smaller batches.",
        )
    for request_id, _ in pairs:
        if not isinstance(request_id, str) or not request_id:
            raise MalformedRequestError(
                f"Request id {request_id!r} is not a non-empty string.", hint=_HINT
            )
    return pairs


async def handle_feedback(server: Server, request: Request) -> Response:
    """Store labels with the prediction log (off the event loop: it is a database write)."""
    started = time.perf_counter()
    route = "/v1/feedback"
    try:
        if server.predictions is None:
            raise NotReadyError(
                "This server has no prediction log, so it cannot store feedback.",
                hint="Start it with prediction logging on (the default of `conveyor serve`).",
            )
        pairs = _pairs(await server.payload(request), server.settings.max_batch_rows)
        try:
            result = await anyio.to_thread.run_sync(server.predictions.feedback, pairs)
        except RequestError:
            raise
        except ConveyorError as exc:
            raise MalformedRequestError(exc.message, hint=exc.hint) from exc
    except RequestError as exc:
        server.observe(None, route, exc.status, started)
        return error_response(exc)
    server.observe(None, route, 200, started)
    return json_response(
        {"accepted": result.accepted, "unknown": result.unknown, "updated": result.updated}
    )
