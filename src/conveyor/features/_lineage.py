"""What a training set built inside a run records on the run."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    from conveyor.features._store import FeatureStore

__all__ = ["PROFILE_ARTIFACT", "log_training_set"]

#: The run artifact holding the profile of a training set's looked-up columns.
PROFILE_ARTIFACT = "features-profile.json"


def log_training_set(
    store_: FeatureStore,
    lineage: Mapping[str, Any],
    result: pd.DataFrame,
    columns: builtins.list[Any],
) -> None:
    """Inside a run: log what the training set was built from (parameter ``features``),
    record the views' dataset versions on the run, and keep the profile of the looked-up
    columns (artifact ``features-profile.json``): monitoring's reference for them."""
    import json
    import tempfile

    from conveyor.data import compute_profile
    from conveyor.tracking import current

    ctx = current()
    if ctx is None:
        return
    ctx.tracker.log_params(ctx.run_id, {"features": dict(lineage)})
    for view in lineage["views"].values():
        version = store_.datasets.get(view["dataset"])
        ctx.tracker.record_dataset(ctx.run_id, version.name, version.version, version.content_hash)
    profile = compute_profile(
        pa.Table.from_pandas(result[columns].reset_index(drop=True), preserve_index=False)
    )
    with tempfile.TemporaryDirectory(prefix="conveyor-features-") as folder:
        path = Path(folder) / PROFILE_ARTIFACT
        path.write_text(json.dumps(profile, default=str), encoding="utf-8")
        ctx.tracker.log_artifact(ctx.run_id, path)
