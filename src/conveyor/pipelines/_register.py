"""``conveyor.register_model``: register a model from inside a pipeline step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError
from conveyor.tracking import current
from conveyor.workspace import Workspace

if TYPE_CHECKING:
    from conveyor.registry import ModelVersion


def register_model(name: str, model: Any, **kwargs: Any) -> ModelVersion:
    """Register ``model`` in the current run's workspace, with the run as its lineage.

    The version records the step run, hence the dataset versions the pipeline read and the
    code version it ran, and (unless ``metrics`` is given) the metrics logged so far. Takes
    the keyword arguments of :meth:`conveyor.registry.ModelRegistry.register`.

    Raises:
        ConveyorError: called outside a run (use ``ws.models.register`` there).

    Example:
        >>> @conveyor.step  # doctest: +SKIP
        ... def publish(model: LogisticRegression, X: pd.DataFrame) -> int:
        ...     return conveyor.register_model("churn", model, input_example=X.head(5)).version
    """
    ctx = current()
    if ctx is None:
        raise ConveyorError(
            f"register_model({name!r}) was called outside a pipeline run.",
            hint="Call it inside a @conveyor.step, or use ws.models.register(...) directly.",
            name=name,
        )
    ctx.tracker.flush(ctx.run_id)  # the version reads the run's metrics from the store
    kwargs.setdefault("run", ctx.run_id)
    with Workspace.open(ctx.workspace_root, search_parents=False) as ws:
        return ws.models.register(name, model, **kwargs)
