"""``POST /v1/feedback``: ground-truth labels by request id, written in one batch.

The route is safe to expose to whoever may predict: it stores labels only for request ids
the log knows, or that this server answered and is about to log (``RecentIds``), so a
flood of made-up ids is counted in ``unknown`` and never grows the database; a label an id
already has is replaced only when the body says ``"overwrite": true``; the number of labels,
each id and each label are bounded; and a database locked by another writer is a 503 with
``Retry-After``, never an error naming the database.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from conveyor.core import Actor
from conveyor.errors import ConveyorError, StoreBusyError
from conveyor.predictions import InvalidPredictionRecordError
from conveyor.serving._errors import (
    MalformedRequestError,
    NotReadyError,
    RequestError,
    StoreBusyRequestError,
)
from conveyor.serving._inputs import as_mapping
from conveyor.serving._wire import check_request_id, error_response, json_response

if TYPE_CHECKING:
    from conveyor.serving._app import Server

_HINT = 'Send {"labels": [{"request_id": "...", "label": 1}]} or {"labels": {"<id>": 1}}.'
#: Longest string label accepted over HTTP.
MAX_LABEL_CHARS = 256
#: Seconds a client is asked to wait when the store is busy.
RETRY_AFTER_S = 1


def _check_value(request_id: str, label: Any) -> None:
    if label is None or isinstance(label, (bool, int, float)):
        return
    if isinstance(label, str) and len(label) <= MAX_LABEL_CHARS:
        return
    shown = repr(label)
    raise MalformedRequestError(
        f"The label of request {request_id} is {shown[:60]}{'...' if len(shown) > 60 else ''}; "
        f"a label is a number, a boolean, null, or a string of at most {MAX_LABEL_CHARS} "
        "characters.",
        hint=_HINT,
        request_id=request_id,
    )


def _pairs(payload: Any, limit: int) -> tuple[list[tuple[str, Any]], bool]:
    body = as_mapping(payload)
    labels = body.get("labels")
    overwrite = body.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise MalformedRequestError(
            f"'overwrite' must be true or false; got {overwrite!r:.40}.",
            hint='Send "overwrite": true to replace labels already given.',
        )
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
            labels=len(pairs),
            limit=limit,
        )
    for request_id, label in pairs:
        check_request_id(request_id, "'labels'")
        _check_value(request_id, label)
    return pairs, overwrite


def _store(
    server: Server, pairs: list[tuple[str, Any]], overwrite: bool, actor: Actor | None
) -> Any:
    predictions: Any = server.predictions
    return predictions.feedback(
        pairs, overwrite=overwrite, keep_unknown=False, pending=server.engine.recent, actor=actor
    )


def _caller(request: Request) -> Actor | None:
    """The verified token's identity when the server checks tokens (else the server's own)."""
    token = getattr(request.state, "token", None)
    name = getattr(token, "name", None)
    return Actor(name=f"token:{name}", kind="service") if isinstance(name, str) else None


async def handle_feedback(server: Server, request: Request) -> Response:
    """Store labels with the prediction log (off the event loop: it is a database write)."""
    started = time.perf_counter()
    route = "/v1/feedback"
    headers: dict[str, str] = {}
    try:
        if server.predictions is None:
            raise NotReadyError(
                "This server has no prediction log, so it cannot store feedback.",
                hint="Start it with prediction logging on (the default of `conveyor serve`).",
            )
        payload = await server.payload(request)
        pairs, overwrite = _pairs(payload, server.settings.max_feedback_labels)
        try:
            result = await anyio.to_thread.run_sync(
                _store, server, pairs, overwrite, _caller(request)
            )
        except RequestError:
            raise
        except StoreBusyError as exc:
            headers["retry-after"] = str(RETRY_AFTER_S)
            raise StoreBusyRequestError(
                "The prediction store is busy with another writer; the labels were not stored.",
                hint=f"Send the same request again in {RETRY_AFTER_S} s.",
                retry_after=RETRY_AFTER_S,
            ) from exc
        except InvalidPredictionRecordError as exc:
            raise MalformedRequestError(exc.message, hint=exc.hint) from exc
        except ConveyorError as exc:  # the store failed: say so without naming its location
            headers["retry-after"] = str(RETRY_AFTER_S)
            raise StoreBusyRequestError(
                "The prediction store is unavailable; the labels were not stored.",
                hint="Send the same request again later.",
                retry_after=RETRY_AFTER_S,
            ) from exc
    except RequestError as exc:
        server.observe(None, route, exc.status, started)
        return error_response(exc, headers)
    server.observe(None, route, 200, started)
    return json_response(
        {
            "accepted": result.accepted,
            "unknown": result.unknown,
            "updated": result.updated,
            "kept": result.kept,
        }
    )
