"""``POST /v1/explain``: per-row SHAP values for the rows sent (``conveyor.explain``).

Explanations use the native model even when its ONNX twin serves predictions (SHAP's tree
and linear algorithms need the native estimator); the explainer is built once per loaded
version by the :class:`ExplainerSlot` the loader attaches: on the first ``/v1/explain`` by
default (so a server that only predicts never imports SHAP nor loads the native model next
to its ONNX twin), or while the version loads with ``prepare_explainers``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from conveyor.errors import ConveyorError
from conveyor.explain import ExplainError
from conveyor.serving._errors import (
    ExplainerUnavailableError,
    ExplainUnsupportedError,
    PredictionFailedError,
    RequestError,
)
from conveyor.serving._host import RouteRequest
from conveyor.serving._inputs import Rows, as_mapping
from conveyor.serving._model import ServedModel
from conveyor.serving._payloads import v1_rows
from conveyor.serving._wire import error_response, json_response

if TYPE_CHECKING:
    from conveyor.serving._app import Server


def _background(model: ServedModel, rows: Any) -> Any:
    """The registered input example, typed by the signature like request rows are."""
    import pandas as pd

    from conveyor.serving._signature import validate_frame

    example = model.example
    if not (isinstance(example, dict) and "columns" in example and "data" in example):
        return rows
    frame = pd.DataFrame(example["data"], columns=example["columns"])[list(model.column_names)]
    try:
        return validate_frame(model, frame)
    except RequestError:  # an example the signature refuses is still the best background
        return frame


class ExplainerSlot:
    """A version's explainer, built on its first use or while the version loads, or why it
    could not be built.

    Building loads the native model when an ONNX twin serves, imports SHAP and what skops
    imports (scikit-learn's estimator discovery, and torch where it is installed), and
    prepares the background: seconds of CPU and hundreds of MB. By default the loader
    attaches a :meth:`deferred` slot, so a server that only predicts never pays for it; the
    first ``/v1/explain`` builds it in that request's thread, once (concurrent first
    requests wait for the same build), and while it builds the imports hold the GIL, which
    delays predictions answered meanwhile. With ``prepare_explainers`` the loader builds it
    before the version is declared ready instead (:meth:`prepare`), so no request ever
    waits for it. A build that fails is kept; each explain request is answered 501 (the
    model cannot be explained: :attr:`status` ``"unsupported"``) or 409 (its explainer
    could not be prepared: ``"unavailable"``) with the :attr:`reason`; predictions are
    served regardless. Until a deferred slot is built its :attr:`status` is
    ``"on_request"``.

    Args:
        value: The explainer.
        error: What stopped it from being built.
    """

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value = value
        self._error = error
        self._build: Callable[[], Any] | None = None
        self._lock = threading.Lock()

    @classmethod
    def prepare(cls, build: Callable[[], Any]) -> ExplainerSlot:
        """Run ``build`` in the calling thread (the loader's) and keep its result or error."""
        try:
            return cls(value=build())
        except Exception as exc:  # noqa: BLE001 - reported to every explain request
            return cls(error=exc)

    @classmethod
    def deferred(cls, build: Callable[[], Any]) -> ExplainerSlot:
        """A slot that runs ``build`` on its first :meth:`get` and keeps its result or error."""
        slot = cls()
        slot._build = build
        return slot

    def _built(self) -> None:
        """Run the deferred build, once."""
        with self._lock:  # concurrent first requests wait for the one build
            build = self._build
            if build is None:  # built already (or prepared at load)
                return
            try:
                self._value = build()
            except Exception as exc:  # noqa: BLE001 - reported to every explain request
                self._error = exc
            self._build = None

    @property
    def status(self) -> str:
        """``"ready"``, ``"on_request"`` (built on the first explain request),
        ``"unsupported"`` (the model cannot be explained) or ``"unavailable"`` (building
        failed for another reason, such as a file that did not load)."""
        if self._build is not None:
            return "on_request"
        if self._error is None:
            return "ready"
        return "unsupported" if isinstance(self._error, ExplainError) else "unavailable"

    @property
    def reason(self) -> str | None:
        """Why there is no explainer (one line, for the card and metadata); ``None`` if ready."""
        if self._error is None:
            return None
        if isinstance(self._error, ConveyorError):
            return self._error.message
        return f"{type(self._error).__name__}: {self._error}"

    def get(self, subject: str = "this model") -> Any:
        """The explainer.

        Args:
            subject: The model named in the error (``name@version``).

        Raises:
            ExplainUnsupportedError: The model cannot be explained (501).
            ExplainerUnavailableError: Building the explainer failed otherwise (409).
        """
        self._built()
        if self._error is None:
            return self._value
        hint = self._error.hint if isinstance(self._error, ConveyorError) else None
        if self.status == "unsupported":
            raise ExplainUnsupportedError(
                f"Explanations are not supported for {subject}: {self.reason}",
                hint=hint or "Predictions are served; explain the model offline instead.",
                reason=self.reason,
            )
        raise ExplainerUnavailableError(
            f"The explainer of {subject} is not available: {self.reason}",
            hint=hint or "Check that the version's native model files load, then restart.",
            reason=self.reason,
        )


def explain_status(model: ServedModel) -> dict[str, str | None]:
    """Whether ``model`` can answer ``/v1/explain``, and why not (for metadata and cards).

    Returns:
        ``{"status": ..., "reason": ...}``: ``status`` is ``"ready"``, ``"unsupported"``,
        ``"unavailable"`` or ``"on_request"`` (no explainer prepared at load: it is built
        on the first request); ``reason`` is ``None`` unless ``status`` is an error.
    """
    slot = model.explainer
    if not isinstance(slot, ExplainerSlot):
        return {"status": "on_request", "reason": None}
    return {"status": slot.status, "reason": slot.reason}


def explainer_for(predictor: Any, model: ServedModel, rows: Any = None) -> Any:
    """Build the SHAP explainer of ``predictor`` with ``model``'s input example as background."""
    from conveyor.explain import Explainer

    return Explainer(predictor, _background(model, rows))


def explain(server: Server, model: ServedModel, rows: Rows) -> dict[str, Any]:
    """Per-row SHAP values of ``rows`` against the model's registered input example.

    The explainer comes from the version's :class:`ExplainerSlot` (prepared at load, on the
    native model); a version served without one gets one built on its first request.

    Raises:
        ExplainUnsupportedError: The model cannot be explained (501).
        ExplainerUnavailableError: Its explainer could not be prepared (409).
        PredictionFailedError: The model raised while explaining valid rows (500).
    """
    import pandas as pd

    from conveyor.serving._signature import validate_frame

    subject = f"{model.name}@{model.version}"
    frame = validate_frame(model, pd.DataFrame(rows.columns))
    if isinstance(model.explainer, ExplainerSlot):
        explainer = model.explainer.get(subject)
    else:
        explainer = server.explainers.get(model)
        if explainer is None:
            slot = ExplainerSlot.prepare(lambda: explainer_for(model.predictor, model, frame))
            explainer = slot.get(subject)
            server.explainers[model] = explainer
    try:
        result = explainer.explain(frame)
    except ExplainError as exc:
        raise ExplainUnsupportedError(
            f"Explaining rows of {subject} is not supported: {exc.message}",
            hint=exc.hint,
            reason=exc.message,
        ) from exc
    except Exception as exc:  # an explainer failure is reported, not a crash
        raise PredictionFailedError(
            f"Explaining rows of {subject} failed: {type(exc).__name__}: {exc}",
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
        rows = await server.rows(model, payload, v1_rows)
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
