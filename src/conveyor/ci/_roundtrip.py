"""Comparing a model's answers through the prediction server with its direct predictions.

The server is built in process from the registry's loaded model (the same object the
direct path uses) and called over httpx's ASGI transport with a ``/v1/predict`` request in
conveyor's own row format, so the whole serving path runs: JSON parsing, signature
validation, type coercion, the model call and the JSON answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Roundtrip:
    """What the server answered compared with direct prediction.

    Attributes:
        rows: Rows sent.
        mismatches: Rows whose served prediction differs from the direct one.
        max_abs_diff: Largest absolute difference over numeric predictions.
        status_code: HTTP status of the answer.
        error: The server's error message for a non-200 answer.
        examples: A few mismatching rows ``{"row", "served", "direct"}``.
    """

    rows: int
    mismatches: int = 0
    max_abs_diff: float = 0.0
    status_code: int = 200
    error: str | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)


def serve_and_compare(loaded: Any, frame: pd.DataFrame, *, tolerance: float = 0.0) -> Roundtrip:
    """Send ``frame`` to ``/v1/predict`` of an in-process server for ``loaded``; compare.

    Args:
        loaded: A :class:`~conveyor.registry.LoadedModel`.
        frame: Input rows (the serving columns only).
        tolerance: Allowed absolute difference for numeric predictions.

    Returns:
        The comparison; a non-200 answer is reported with its error, not raised.
    """
    import anyio
    import httpx

    from conveyor.serving import ModelHost, ServedModel, ServingSettings, create_app

    host = ModelHost()
    host.add(ServedModel.from_loaded(loaded))
    app = create_app(host, settings=ServingSettings())
    # to_json turns numpy scalars and NaN into plain JSON the way a client would send them.
    rows = json.loads(frame.to_json(orient="records", double_precision=15))

    async def post() -> httpx.Response:
        # No startup work to run: the model is already in the host and nothing is logged.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ci") as client:
            return await client.post("/v1/predict", json={"rows": rows})

    response = anyio.run(post)
    if response.status_code != 200:
        body = response.json() if response.content else {}
        message = body.get("error") if isinstance(body, dict) else None
        return Roundtrip(
            len(rows), len(rows), status_code=response.status_code, error=str(message or body)
        )
    served = list(response.json()["predictions"])
    direct = np.asarray(loaded.predict(frame)).tolist()
    return compare(served, direct, tolerance=tolerance)


def compare(served: list[Any], direct: list[Any], *, tolerance: float = 0.0) -> Roundtrip:
    """Row-by-row comparison of two prediction lists (numbers within ``tolerance``)."""
    if len(served) != len(direct):
        return Roundtrip(
            len(direct),
            len(direct),
            error=f"the server returned {len(served)} predictions for {len(direct)} rows",
        )
    mismatches = 0
    worst = 0.0
    examples: list[dict[str, Any]] = []
    for i, (a, b) in enumerate(zip(served, direct, strict=True)):
        same, diff = _same(a, b, tolerance)
        worst = max(worst, diff)
        if not same:
            mismatches += 1
            if len(examples) < 5:
                examples.append({"row": i, "served": a, "direct": b})
    return Roundtrip(len(direct), mismatches, worst, examples=examples)


def _same(a: Any, b: Any, tolerance: float) -> tuple[bool, float]:
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False, math.inf
        pairs = [_same(x, y, tolerance) for x, y in zip(a, b, strict=True)]
        return all(p[0] for p in pairs), max((p[1] for p in pairs), default=0.0)
    numeric = (int, float)
    if isinstance(a, numeric) and isinstance(b, numeric) and not isinstance(a, bool):
        if math.isnan(float(a)) and math.isnan(float(b)):
            return True, 0.0
        diff = abs(float(a) - float(b))
        return diff <= tolerance, diff
    return a == b, 0.0 if a == b else math.inf
