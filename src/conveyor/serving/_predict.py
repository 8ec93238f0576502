"""Calling the model: inline or in a thread, micro-batched when enabled, and logged.

Small requests run on the event loop because a thread hop costs more than predicting a few
rows; large ones run in a worker thread so the loop keeps answering. With micro-batching on,
concurrent single-row requests on the array path wait up to ``micro_batch_max_wait_us`` for
companions and are predicted in one call.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import numpy as np
import numpy.typing as npt

from conveyor.serving._errors import PredictionFailedError, RequestError
from conveyor.serving._inputs import Rows
from conveyor.serving._metrics import ServerMetrics
from conveyor.serving._model import ServedModel
from conveyor.serving._recent import RecentIds
from conveyor.serving._settings import ServingSettings


def _failed(model: ServedModel, exc: BaseException) -> PredictionFailedError:
    return PredictionFailedError(
        f"Model {model.name}@{model.version} failed to predict: {type(exc).__name__}: {exc}",
        hint="Check that the input matches what the model was trained on.",
        name=model.name,
        version=model.version,
    )


def _as_list(result: Any) -> list[Any]:
    values: list[Any] = np.asarray(result).tolist()
    return values


def call_model(model: ServedModel, rows: Rows) -> list[Any]:
    """Predict ``rows`` with ``model`` (array path when possible) as JSON-ready values."""
    try:
        if rows.matrix is not None:
            return _as_list(model.predictor.predict_array(rows.matrix))  # type: ignore[attr-defined]
        frame = _frame(model, rows)
        return _as_list(model.predictor.predict(frame))
    except RequestError:
        raise
    except Exception as exc:  # any model failure becomes a 500 naming it
        raise _failed(model, exc) from exc


def call_proba(model: ServedModel, rows: Rows) -> list[list[float]]:
    """Class probabilities of ``rows`` (one list per row, in ``model.classes`` order)."""
    try:
        by_array = getattr(model.predictor, "predict_proba_array", None)
        if rows.matrix is not None and by_array is not None:
            result = by_array(rows.matrix)
        else:
            result = model.predictor.predict_proba(_frame(model, rows))  # type: ignore[attr-defined]
        values: list[list[float]] = np.asarray(result, dtype=np.float64).tolist()
    except RequestError:
        raise
    except Exception as exc:  # any model failure becomes a 500 naming it
        raise _failed(model, exc) from exc
    return values


def _frame(model: ServedModel, rows: Rows) -> Any:
    import pandas as pd

    from conveyor.serving._signature import validate_frame

    frame = pd.DataFrame(rows.columns)
    return validate_frame(model, frame)


class MicroBatcher:
    """Groups single rows for one model into one ``predict_array`` call (event loop only)."""

    def __init__(self, model: ServedModel, max_size: int, max_wait_s: float) -> None:
        self._model = model
        self._max_size = max_size
        self._max_wait_s = max_wait_s
        self._rows: list[npt.NDArray[np.float64]] = []
        self._futures: list[asyncio.Future[Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.on_batch: Any = None

    async def submit(self, row: npt.NDArray[np.float64]) -> Any:
        """Predict one row (shape 1 x columns) together with whatever arrives meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._rows.append(row)
        self._futures.append(future)
        if len(self._rows) >= self._max_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        rows, futures = self._rows, self._futures
        self._rows, self._futures = [], []
        if not rows:
            return
        try:
            values = _as_list(self._model.predictor.predict_array(np.vstack(rows)))  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - delivered to every waiting request
            error = _failed(self._model, exc)
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        if self.on_batch is not None:
            self.on_batch(self._model, len(rows))
        for future, value in zip(futures, values, strict=True):
            if not future.done():
                future.set_result(value)


class Predictor:
    """Runs predictions for the server and hands them to the prediction logger."""

    def __init__(
        self, settings: ServingSettings, metrics: ServerMetrics, logger: Any | None
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._logger = logger if settings.log_predictions else None
        self._batchers: weakref.WeakKeyDictionary[ServedModel, MicroBatcher] = (
            weakref.WeakKeyDictionary()
        )
        self._record_type: Any = None
        self._batch_type: Any = None
        #: Counts each answered request for the server's usage record (``UsageMeter``).
        self.usage: Any | None = None
        #: Request ids answered lately (feedback for them is accepted before they are logged).
        self.recent = RecentIds(settings.recent_ids if self._logger is not None else 0)
        if self._logger is not None:
            from conveyor.predictions import PredictionBatch, PredictionRecord

            self._record_type = PredictionRecord
            self._batch_type = PredictionBatch

    async def run(self, model: ServedModel, rows: Rows) -> list[Any]:
        """Predict ``rows``; one JSON-ready value per row."""
        settings = self._settings
        if settings.micro_batch and rows.n == 1 and rows.matrix is not None:
            batcher = self._batchers.get(model)
            if batcher is None:
                batcher = MicroBatcher(
                    model, settings.micro_batch_max_size, settings.micro_batch_max_wait_us / 1e6
                )
                batcher.on_batch = self._observe_batch
                self._batchers[model] = batcher
            return [await batcher.submit(rows.matrix)]
        if rows.n <= settings.inline_max_rows:
            values = call_model(model, rows)
        else:
            values = await anyio.to_thread.run_sync(call_model, model, rows)
        self._observe_batch(model, rows.n)
        return values

    async def proba(self, model: ServedModel, rows: Rows) -> list[list[float]]:
        """Class probabilities of ``rows`` (the model must have ``predict_proba``)."""
        if rows.n <= self._settings.inline_max_rows:
            return call_proba(model, rows)
        return await anyio.to_thread.run_sync(call_proba, model, rows)

    def _observe_batch(self, model: ServedModel, n: int) -> None:
        self._metrics.batch(model.name, str(model.version), model.variant, n)

    def log_failure(
        self, model: ServedModel, request_id: str, error: str, latency_ms: float
    ) -> None:
        """Queue one error record for a request whose rows are unknown (a timed-out copy)."""
        if self.usage is not None:
            self.usage.observe(model.name, model.version, rows=0, seconds=latency_ms / 1000.0)
        logger = self._logger
        if logger is None:
            return
        logger.submit(
            self._record_type(
                request_id=request_id,
                at=datetime.now(UTC),
                model=model.name,
                version=model.version,
                inputs={},
                prediction=None,
                latency_ms=latency_ms,
                environment=self._settings.environment,
                variant=model.variant or None,
                revision=int(model.revision) if model.revision else None,
                status="error",
                error=error,
            )
        )

    def log(
        self,
        model: ServedModel,
        request_id: str,
        rows: Rows,
        predictions: list[Any] | None,
        latency_ms: float,
        *,
        error: str | None = None,
    ) -> None:
        """Queue the request's rows as one batch (row ``i`` of several is ``<id>:<i>``).

        The columns are queued as they are (lists or 1-D arrays): nothing is made per row
        on the request path; the logger's writer thread turns batches into Parquet.

        Args:
            model: The version that answered (its variant and revision are recorded).
            request_id: The request's id.
            rows: The validated input rows.
            predictions: One value per row; ``None`` when the model failed.
            latency_ms: Time spent answering.
            error: What failed; the rows then have status ``"error"``.
        """
        if self.usage is not None:
            served = rows.n if error is None else 0
            self.usage.observe(model.name, model.version, rows=served, seconds=latency_ms / 1000.0)
        logger = self._logger
        if logger is None:
            return
        if predictions is None:
            predictions = [None] * rows.n
        self.recent.add(request_id, rows.n)
        if rows.n < 1:
            return
        logger.submit(
            self._batch_type(
                request_id=request_id,
                at=datetime.now(UTC),
                model=model.name,
                version=model.version,
                columns=rows.columns,
                predictions=predictions,
                latency_ms=latency_ms,
                environment=self._settings.environment,
                variant=model.variant or None,
                revision=int(model.revision) if model.revision else None,
                status="ok" if error is None else "error",
                error=error,
                rows=rows.n,
            )
        )
