"""Per-variant statistics of a rollout, read from the prediction log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.rollout.analysis._stats import VariantStats

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.workspace import Workspace


def stats_from_log(
    ws: Workspace, env: str, revision: int, *, since: datetime
) -> dict[str, VariantStats]:
    """Statistics of every variant of a rollout, from its logged predictions.

    Reads the predictions logged in ``env`` at or after ``since`` by deployment revisions
    ``revision`` and later, and keeps, for each variant of the deployment at ``revision``,
    the rows of that role served by that model version (so a later rollout reusing a role
    name is not mixed in). Failed requests (``status == "error"``) count as errors and carry
    no prediction; labels sent through feedback come aligned with the predictions.

    Args:
        ws: The workspace (its prediction log and deployment records).
        env: The environment.
        revision: The revision that started the rollout.
        since: When the rollout started (aware).

    Returns:
        ``{role: VariantStats}`` for every variant of the deployment at ``revision``
        (empty stats for a variant that served nothing).

    Raises:
        DeploymentNotFoundError: ``env`` has no such revision.

    Example:
        >>> stats = stats_from_log(ws, "production", 7, since=started)  # doctest: +SKIP
        >>> stats["challenger"].requests  # doctest: +SKIP
        412
    """
    deployment = ws.deployments.get(env, revision)
    frame = ws.predictions.read(environment=env, since=since)
    if len(frame) and "revision" in frame:
        served = frame["revision"]
        frame = frame[served.isna() | (served >= revision)]
    result: dict[str, VariantStats] = {}
    for variant in deployment.variants:
        rows = (
            frame[
                (frame["variant"] == variant.role)
                & (frame["model"] == variant.model)
                & (frame["version"] == variant.version)
            ]
            if len(frame)
            else frame
        )
        result[variant.role] = _variant_stats(rows)
    return result


def _variant_stats(rows: pd.DataFrame) -> VariantStats:
    if len(rows) == 0:
        return VariantStats.empty()
    failed = (
        (rows["status"] == "error").to_numpy() if "status" in rows else np.zeros(len(rows), bool)
    )
    ok = rows[~failed]
    labels: Any = ok["label"].to_numpy(dtype=object) if "label" in ok else None
    return VariantStats(
        requests=len(rows),
        errors=int(failed.sum()),
        latencies_ms=rows["latency_ms"].to_numpy(dtype=float),
        predictions=ok["prediction"].to_numpy(),
        labels=labels,
    )
