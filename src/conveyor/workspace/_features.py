"""What a training set built inside a run records on the run (``ws.features`` calls it).

The feature store sits beside the dataset and run records; the workspace, which composes
them, joins them here: the lineage goes to the run, the views' dataset versions are recorded
on it, and the profile of the looked-up columns is kept as monitoring's reference.
"""

from __future__ import annotations

import builtins
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from conveyor.data import DatasetRegistry, compute_profile
from conveyor.features import PROFILE_ARTIFACT
from conveyor.tracking import current

__all__ = ["log_training_set"]


def log_training_set(
    datasets: DatasetRegistry,
    lineage: Mapping[str, Any],
    result: pd.DataFrame,
    columns: builtins.list[Any],
) -> None:
    """Inside a run: log what the training set was built from (parameter ``features``),
    record the views' dataset versions on the run, and keep the profile of the looked-up
    columns (artifact ``features-profile.json``): monitoring's reference for them."""
    ctx = current()
    if ctx is None:
        return
    ctx.tracker.log_params(ctx.run_id, {"features": dict(lineage)})
    for view in lineage["views"].values():
        version = datasets.get(view["dataset"])
        ctx.tracker.record_dataset(ctx.run_id, version.name, version.version, version.content_hash)
    profile = compute_profile(
        pa.Table.from_pandas(result[columns].reset_index(drop=True), preserve_index=False)
    )
    with tempfile.TemporaryDirectory(prefix="conveyor-features-") as folder:
        path = Path(folder) / PROFILE_ARTIFACT
        path.write_text(json.dumps(profile, default=str), encoding="utf-8")
        ctx.tracker.log_artifact(ctx.run_id, path)
