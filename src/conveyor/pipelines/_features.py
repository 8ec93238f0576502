"""``load_features``: the built-in step that joins a feature service to an entity frame,
point-in-time correct, inside a pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from conveyor.pipelines._step import Step

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


def _load_features(
    entities: pd.DataFrame, features: str, timestamp_column: str = "event_timestamp"
) -> pd.DataFrame:
    """``entities`` with the features of ``features`` as of each row's timestamp."""
    from conveyor.tracking import current
    from conveyor.workspace import Workspace

    context = current()
    root = context.workspace_root if context is not None else Path(".")
    with Workspace.open(root) as ws:
        return ws.features.historical(entities, features, timestamp_column=timestamp_column)


#: ``load_features(entities, "service")``: inside a pipeline, a step whose output is the
#: entity frame joined with a feature service's (or ``view:feature`` list's) values as of
#: each row's ``event_timestamp`` (``ws.features.historical``). Its cache key covers the
#: entity frame and the versions the features would be read from (each view's definition
#: and dataset version), so new feature data re-runs it and everything downstream; the
#: step run's parameters record what it read (``features``), and a model registered from
#: the pipeline run is tagged with the service it was trained with.
load_features = Step(_load_features, name="load_features")


def is_features_step(step: Step) -> bool:
    """True for the built-in ``load_features`` step."""
    return step is load_features


def features_pin(ws: Workspace, arguments: dict[str, Any]) -> dict[str, Any]:
    """The part of a ``load_features`` node's cache key that the arguments do not show."""
    return ws.features.pin(str(arguments.get("features")))


def features_used(ws: Workspace, run_id: str) -> dict[str, Any] | None:
    """The feature lineage a pipeline run's steps recorded (``historical`` inside a step
    logs it as the step run's ``features`` parameter), or ``None``.

    Several steps reading features merge their views; the service is the first named.
    ``profile_run`` is the step run that logged the profile of the looked-up columns.
    """
    found: dict[str, Any] | None = None
    for step in ws.runs.children(run_id):
        # A cached step logged nothing: the run it was cached from did.
        child = ws.runs.get(step.cached_from) if step.cached_from else step
        used = (child.params or {}).get("features")
        if not isinstance(used, dict):
            continue
        if found is None:
            found = {
                "service": used.get("service"),
                "views": dict(used.get("views") or {}),
                "profile_run": child.id,
            }
        else:
            found["service"] = found["service"] or used.get("service")
            found["views"].update(used.get("views") or {})
    return found
