"""What Optuna calls per trial of :func:`~conveyor.tuning.tune`, and its progress reports.

:class:`TrialRunner` records each trial as a child run of the tune run around the
objective (checking that the objective returned one number); :class:`TrialReporter` tells
a progress hook about each ended trial, with the best value so far.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import optuna

from conveyor.core import peak_rss_mb
from conveyor.core._progress import ProgressEvent, ProgressHook
from conveyor.tracking import RunContext, RunTracker, run_context
from conveyor.tuning._errors import TuneError
from conveyor.tuning._space import suggest
from conveyor.tuning._trial import Trial
from conveyor.workspace import Workspace

Objective = Callable[..., float]


class TrialRunner:
    """The function Optuna calls per trial: record a child run around the objective."""

    def __init__(
        self,
        *,
        objective: Objective,
        distributions: Mapping[str, optuna.distributions.BaseDistribution],
        pass_trial: bool,
        tracker: RunTracker,
        tune_run_id: str,
        study_name: str,
        workspace: Workspace,
        parent: RunContext | None,
        report: TrialReporter,
    ) -> None:
        self._report = report
        self._objective = objective
        self._distributions = distributions
        self._pass_trial = pass_trial
        self.tracker = tracker
        self.tune_run_id = tune_run_id
        self._study_name = study_name
        self._ws = workspace
        self._parent = parent

    def __call__(self, optuna_trial: optuna.Trial) -> float:
        params = {n: suggest(optuna_trial, n, d) for n, d in self._distributions.items()}
        name = f"{self._study_name}/trial-{optuna_trial.number}"
        run = self.tracker.start_run(
            name,
            kind="trial",
            parent_id=self.tune_run_id,
            params=params,
            tags={"study": self._study_name, "trial": optuna_trial.number},
            capture=False,  # the tune run holds code and environment for all its trials
            lazy=True,  # written with other finished trials in one batch
        )
        optuna_trial.set_user_attr("conveyor_run_id", run.id)
        started, cpu_started = time.perf_counter(), time.thread_time()
        status, state, error = "completed", "complete", None
        value: float | None = None
        try:
            ctx = RunContext(
                tracker=self.tracker,
                run_id=run.id,
                step_name=name,
                pipeline_run_id=self._parent.pipeline_run_id if self._parent else None,
                params=params,
                workspace_root=self._ws.root,
            )
            with run_context(ctx):
                if self._pass_trial:
                    raw = self._objective(params, Trial(optuna_trial, self.tracker, run.id, params))
                else:
                    raw = self._objective(params)
            value = as_value(raw, name)
            self.tracker.log_metric(run.id, "objective", value)
            return value
        except optuna.TrialPruned:
            state = "pruned"
            raise
        except BaseException:
            status, state, error = "failed", "fail", traceback.format_exc()
            raise
        finally:
            wall_s = time.perf_counter() - started
            self.tracker.finish_run(
                run.id,
                status,
                error=error,
                wall_s=wall_s,
                cpu_s=time.thread_time() - cpu_started,
                peak_rss_mb=peak_rss_mb(),
                tags={"state": state} if state == "pruned" else None,
            )
            self._report(name, optuna_trial.number, state, value, wall_s)


class TrialReporter:
    """Tells a progress hook about each ended trial, with the best value so far."""

    def __init__(
        self,
        hook: ProgressHook | None,
        *,
        direction: str,
        n_trials: int | None,
        step: str | None,
    ) -> None:
        self._hook = hook
        self._better = max if direction == "maximize" else min
        self._direction = direction
        self._n_trials = n_trials
        self._step = step
        self._best: float | None = None
        self._lock = threading.Lock()  # trials of n_jobs > 1 end in several threads

    def __call__(
        self, name: str, number: int, state: str, value: float | None, wall_s: float
    ) -> None:
        if self._hook is None:
            return
        with self._lock:
            if value is not None and math.isfinite(value):
                self._best = value if self._best is None else self._better(self._best, value)
            best = self._best
        shown = {"complete": "done", "pruned": "pruned"}.get(state, "failed")
        detail = {
            "number": number,
            "value": value,
            "best": best,
            "direction": self._direction,
            "n_trials": self._n_trials,
            "step": self._step,
        }
        self._hook(ProgressEvent("trial", name, shown, wall_s, detail))


def as_value(raw: Any, trial_name: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        try:
            return float(raw)  # numpy scalars and 0-d arrays
        except (TypeError, ValueError):
            raise TuneError(
                f"The objective of {trial_name} returned {raw!r} ({type(raw).__name__}); "
                "it must return one number.",
                hint="Return the score as a float, e.g. `return float(loss)`.",
                value=repr(raw),
            ) from None
    return float(raw)
