"""Adding labelled live traffic to the training data before a retraining run."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pandas as pd

from conveyor.config import TrafficConfig
from conveyor.data import DatasetVersion

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

#: Prediction-log columns that hold the request's inputs carry this prefix.
INPUT_PREFIX = "in_"
#: Versions made here start their message with this, so the next one builds on the last
#: version that came from elsewhere and traffic is never counted twice.
MARK = "with labelled traffic:"


def include_traffic(ws: Workspace, env: str, config: TrafficConfig) -> DatasetVersion | None:
    """Add the labelled predictions of ``env`` to ``config.dataset`` as a new version.

    The new version is the rows of the dataset's newest version that did not come from here
    (the base), followed by one row per labelled, successful prediction in the log (inputs
    from the log, the label from feedback in column ``config.label``); dataset columns the
    traffic does not carry stay empty. Traffic is never counted twice, and the same traffic
    on the same base gives the same content, which ``data add`` records as unchanged.

    Returns:
        The version the retraining will read, or ``None`` when no labelled traffic exists.

    Raises:
        DatasetNotFoundError: ``config.dataset`` does not exist.
    """
    log = ws.predictions.read(environment=env, with_feedback=True)
    if log.empty or "label" not in log.columns:
        return None
    labelled = log[log["label"].notna()]
    if "status" in labelled.columns:
        labelled = labelled[labelled["status"].fillna("ok") == "ok"]
    if labelled.empty:
        return None
    # One row per request: a shadow copy logs the same request id a second time.
    labelled = labelled.drop_duplicates(subset="request_id", keep="first")
    inputs = {c: c[len(INPUT_PREFIX) :] for c in labelled.columns if c.startswith(INPUT_PREFIX)}
    rows = labelled[list(inputs)].rename(columns=inputs)
    rows[config.label] = labelled["label"].to_numpy()
    base = next(
        (v for v in ws.datasets.log(config.dataset) if not (v.message or "").startswith(MARK)),
        None,
    )
    if base is None:  # every version came from here: nothing else to build on
        return None
    current = ws.datasets.load(f"{config.dataset}@{base.version}")
    rows = rows.reindex(columns=current.columns)
    for column in current.columns:  # keep the dataset's types where the traffic allows
        if rows[column].notna().all():
            with contextlib.suppress(TypeError, ValueError):
                rows[column] = rows[column].astype(current[column].dtype)
    combined = pd.concat([current, rows], ignore_index=True)
    return ws.datasets.add(
        config.dataset,
        combined,
        message=f"{MARK} {config.dataset}@{base.version} plus {len(rows)} labelled "
        f"predictions from {env}",
    )
