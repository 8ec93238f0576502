"""Test support: a real uvicorn server on 127.0.0.1 in a thread, and small real models."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression

from conveyor.registry.flavors import Signature, infer_signature
from conveyor.serving import ServedModel
from server_support import free_port, serve_app

__all__ = ["free_port", "running"]  # free_port re-exported for the serving tests


class LinearPredictor:
    """A fitted scikit-learn model behind the flavors' Predictor protocol."""

    def __init__(self, model: LogisticRegression) -> None:
        self.model = model

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict(frame.to_numpy(dtype=np.float64)))

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict(x))


def training_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 200), "spend": rng.uniform(0, 100, 200)})
    return frame, (frame["spend"] > 50).astype(int)


def linear_model(name: str = "churn", version: int = 1) -> ServedModel:
    frame, target = training_frame()
    fitted = LogisticRegression().fit(frame.to_numpy(), target)
    signature: Signature = infer_signature(frame)
    return ServedModel.from_signature(
        name, version, LinearPredictor(fitted), signature, flavor="sklearn"
    )


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    with serve_app(app) as (url, _):
        yield url


class RaisingPredictor:
    """Raises on rows whose ``age`` is below ``below``; otherwise predicts like ``inner``."""

    def __init__(self, inner: LinearPredictor, below: float) -> None:
        self.inner = inner
        self.below = below

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return self.predict_array(frame.to_numpy(dtype=np.float64))

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if (x[:, 0] < self.below).any():
            raise ValueError(f"age below {self.below}")
        return self.inner.predict_array(x)


class BlockingPredictor:
    """Predicts like ``inner`` once ``release`` is set (waiting at most ``wait_s``); then
    sets ``finished``."""

    def __init__(self, inner: LinearPredictor, *, wait_s: float = 5.0) -> None:
        self.inner = inner
        self.wait_s = wait_s
        self.release = threading.Event()
        self.finished = threading.Event()

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return self.predict_array(frame.to_numpy(dtype=np.float64))

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        try:
            self.release.wait(self.wait_s)
            return self.inner.predict_array(x)
        finally:
            self.finished.set()


def wrapped_model(version: int, wrap: Any, name: str = "churn") -> ServedModel:
    """A served model whose predictor is ``wrap(LinearPredictor)``."""
    base = linear_model(name, version)
    predictor = wrap(base.predictor)
    return ServedModel.from_signature(name, version, predictor, base.signature, flavor="test")


class MemoryLog:
    """An in-memory prediction log (what ``PredictionLogger`` writes batches to)."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self._lock = threading.Lock()

    def write(self, records: Any, *, idempotent: bool = False) -> object:
        with self._lock:
            self.records.extend(records)
        return None

    def wait_for(self, predicate: Any, timeout_s: float = 20.0) -> list[Any]:
        """The records once ``predicate(records)`` holds (fails after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                current = list(self.records)
            if predicate(current):
                return current
            if time.monotonic() > deadline:
                raise AssertionError(f"log never satisfied the condition: {current!r}")
            time.sleep(0.01)


def wait_ready(client: Any, timeout_s: float = 120.0) -> Any:
    """Poll readiness until 200 (or the deadline); return the last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get("/v2/health/ready")
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


#: Content types of Arrow IPC stream and Parquet request bodies.
ARROW = {"content-type": "application/vnd.apache.arrow.stream"}
PARQUET = {"content-type": "application/vnd.apache.parquet"}
#: The rows of ``valid()``.
AGES = [30.0, 45.5, 61.0]
SPENDS = [90.0, 10.0, 55.0]


def ipc(table: pa.Table, compression: str | None = None) -> bytes:
    """``table`` as an Arrow IPC stream body, its buffers compressed with ``compression``."""
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue()


def parquet(table: pa.Table, **options: Any) -> bytes:
    """``table`` as a Parquet body; ``options`` go to ``pyarrow.parquet.write_table``."""
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def valid() -> pa.Table:
    """Three valid rows for ``linear_model``: ``AGES`` and ``SPENDS``."""
    return pa.table({"age": AGES, "spend": SPENDS})
