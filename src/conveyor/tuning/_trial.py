"""The :class:`Trial` handed to two-argument objectives, and per-trial summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna

from conveyor.tracking import RunTracker
from conveyor.tuning._space import SpaceSpec, suggest, to_distribution

__all__ = ["Trial", "TrialSummary"]


class Trial:
    """One trial of a :func:`~conveyor.tuning.tune` study, as seen by the objective.

    Reported values go to Optuna (for pruning) and to the trial's run as the metric
    ``"intermediate"`` at ``step``. Not shared between threads: each trial gets its own.

    Attributes:
        number: The trial's number in its study (0-based, unique across processes).
        run_id: The id of the run recording this trial.
        params: The parameters drawn so far (the space's, then any :meth:`suggest` adds).
        optuna_trial: The underlying :class:`optuna.Trial`, for features not wrapped here.

    Example:
        >>> def objective(params, trial):  # doctest: +SKIP
        ...     for epoch in range(10):
        ...         loss = train_one_epoch(params["lr"])
        ...         trial.report(loss, epoch)
        ...         if trial.should_prune():
        ...             raise conveyor.tuning.TrialPruned()
        ...     return loss
    """

    def __init__(
        self,
        optuna_trial: optuna.Trial,
        tracker: RunTracker,
        run_id: str,
        params: dict[str, Any],
    ) -> None:
        self.optuna_trial = optuna_trial
        self.number: int = optuna_trial.number
        self.run_id = run_id
        self.params = params
        self._tracker = tracker

    def report(self, value: float, step: int) -> None:
        """Report an intermediate objective value at ``step`` (an epoch, a fold, ...)."""
        self.optuna_trial.report(float(value), step)
        self._tracker.log_metric(self.run_id, "intermediate", float(value), step=step)

    def should_prune(self) -> bool:
        """True when the study's pruner says to stop this trial; then raise TrialPruned."""
        return bool(self.optuna_trial.should_prune())

    def suggest(self, name: str, spec: SpaceSpec) -> Any:
        """Draw a further parameter, e.g. one that only exists for some choices.

        The value is added to :attr:`params` and to the trial run's params.

        Raises:
            SearchSpaceError: ``spec`` is not a valid spec.
        """
        value = suggest(self.optuna_trial, name, to_distribution(name, spec))
        self.params[name] = value
        self._tracker.log_params(self.run_id, {name: value})
        return value


@dataclass(frozen=True)
class TrialSummary:
    """The outcome of one trial of a study.

    Attributes:
        number: The trial's number in the study.
        state: ``"complete"``, ``"pruned"``, ``"fail"`` or ``"running"``/``"waiting"``
            (trials of other processes still at work).
        value: The objective value (``None`` unless complete).
        params: The parameters drawn.
        run_id: The conveyor run recording it (``None`` for trials added outside conveyor).
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    @classmethod
    def from_frozen(cls, trial: optuna.trial.FrozenTrial) -> TrialSummary:
        """Summarise an Optuna trial (its run id is kept as a user attribute)."""
        value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None
        run_id = trial.user_attrs.get("conveyor_run_id")
        return cls(
            number=trial.number,
            state=trial.state.name.lower(),
            value=None if value is None or math.isnan(value) else float(value),
            params=dict(trial.params),
            run_id=run_id if isinstance(run_id, str) else None,
        )
