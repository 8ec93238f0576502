"""``tune``: an Optuna study on the workspace's database, every trial a recorded run.

What runs each trial (a child run around the objective) and reports its progress is in
:mod:`conveyor.tuning._trial_runner`.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import optuna

from conveyor.core import peak_rss_mb
from conveyor.core._progress import ProgressHook
from conveyor.tracking import Heartbeat, RunContext, RunTracker, current
from conveyor.tuning._errors import TuneError
from conveyor.tuning._space import SpaceSpec, to_distributions
from conveyor.tuning._storage import close_storage, open_storage, quiet_optuna
from conveyor.tuning._trial import TrialSummary
from conveyor.tuning._trial_runner import Objective, TrialReporter, TrialRunner
from conveyor.workspace import Workspace

_log = logging.getLogger("conveyor.tuning")

__all__ = ["TuneResult", "tune"]


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` found.

    Attributes:
        best_params: Parameters of the best complete trial of the whole study.
        best_value: Its objective value.
        best_trial: Its trial number.
        study_name: The Optuna study (in the workspace's metadata database).
        run_id: The ``kind="tune"`` run recording this call; trials are its children.
        direction: ``"minimize"`` or ``"maximize"``.
        trials: Every trial of the study, this call's and other processes', by number.
    """

    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    study_name: str
    run_id: str
    direction: str
    trials: tuple[TrialSummary, ...]

    @property
    def n_complete(self) -> int:
        """How many trials of the study completed."""
        return sum(t.state == "complete" for t in self.trials)

    @property
    def n_pruned(self) -> int:
        """How many trials of the study were pruned."""
        return sum(t.state == "pruned" for t in self.trials)


def tune(
    objective: Objective,
    space: Mapping[str, SpaceSpec],
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    direction: Literal["minimize", "maximize"] = "minimize",
    study_name: str | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    sampler: optuna.samplers.BaseSampler | None = None,
    n_jobs: int = 1,
    seed: int | None = None,
    enqueue: Sequence[Mapping[str, Any]] = (),
    workspace: Workspace | str | os.PathLike[str] | None = None,
    progress: ProgressHook | None = None,
) -> TuneResult:
    """Search ``space`` for the parameters that minimise (or maximise) ``objective``.

    The study lives in the workspace's own metadata database, so several processes (or
    Ray workers) calling ``tune`` with the same ``study_name`` share its trials. A remote
    workspace (records on a team server, no database of its own) has nowhere to keep the
    study, so ``tune`` refuses it rather than falling back to a study in memory, which
    other processes could not share. This call
    is recorded as a run (``kind="tune"``, a child of the current run inside a pipeline
    step) and each trial as its child run (``kind="trial"``) with the trial's params, its
    value as metric ``"objective"`` and reported values as metric ``"intermediate"``.
    Inside the objective, :func:`conveyor.log_metric` logs to the trial's run. A trial's
    run is written once the trial ended, with other ended trials in one batch (within
    about a second), or as soon as the trial stores something (logged values that are
    flushed, params, files), so short trials cost Optuna's bookkeeping and little more. Pruned
    trials finish ``completed`` with the tag ``state: pruned``. The best parameters and
    value are logged on the tune run.

    Args:
        objective: ``objective(params) -> float``, or ``objective(params, trial)`` to report
            intermediate values for pruning (see :class:`Trial`).
        space: Parameter name -> :class:`Float`, :class:`Int`, :class:`Categorical` or an
            Optuna distribution.
        n_trials: Trials to run in this call (across its ``n_jobs`` threads).
        timeout: Stop starting trials after this many seconds.
        direction: ``"minimize"`` or ``"maximize"``.
        study_name: Name of the (possibly existing) study; default a fresh unique name.
        pruner: An Optuna pruner (e.g. ``optuna.pruners.MedianPruner()``).
        sampler: An Optuna sampler; default TPE seeded with ``seed``.
        n_jobs: Trials run concurrently in threads.
        seed: Seed of the default sampler.
        enqueue: Parameter sets to try first (partial sets are completed by the sampler).
        workspace: A workspace or project folder; default the current run's project, else
            the current directory.
        progress: Called with a :class:`~conveyor.core._progress.ProgressEvent`
            (``kind="trial"``) as each trial of this call ends (``done``, ``pruned`` or
            ``failed``), with its value and the best value so far in ``detail``. Default:
            the current run's hook (a pipeline run with a progress hook, local executor).

    Returns:
        The best trial of the study and a summary of every trial.

    Raises:
        TuneError: Bad arguments, or no trial of the study completed.
        SearchSpaceError: A space entry is invalid (the message names it).

    Example:
        >>> from conveyor.tuning import Float, tune
        >>> result = tune(lambda p: (p["x"] - 2) ** 2, {"x": Float(-10, 10)},
        ...               n_trials=30, seed=0)  # doctest: +SKIP
        >>> round(result.best_params["x"])  # doctest: +SKIP
        2
    """
    distributions = to_distributions(space)
    _check_arguments(n_trials, timeout, direction, n_jobs)
    name = study_name or f"tune-{uuid.uuid4().hex[:12]}"
    parent = current()
    with _workspace(workspace, parent) as ws:
        tracker: RunTracker = ws.runs
        run = tracker.start_run(
            name,
            kind="tune",
            parent_id=parent.run_id if parent else None,
            params={
                "study": name,
                "direction": direction,
                "n_trials": n_trials,
                "timeout": timeout,
                "n_jobs": n_jobs,
                "seed": seed,
                "space": {k: repr(v) for k, v in space.items()},
            },
            tags={"study": name},
        )
        with _recorded(tracker, run.id):
            runner = TrialRunner(
                objective=objective,
                distributions=distributions,
                pass_trial=_wants_trial(objective),
                tracker=tracker,
                tune_run_id=run.id,
                study_name=name,
                workspace=ws,
                parent=parent,
                report=TrialReporter(
                    progress or (parent.progress if parent else None),
                    direction=direction,
                    n_trials=n_trials,
                    step=parent.step_name if parent else None,
                ),
            )
            study = _Study(
                name=name,
                direction=direction,
                pruner=pruner,
                sampler=sampler or optuna.samplers.TPESampler(seed=seed),
                enqueue=tuple(enqueue),
            )
            result = _optimize(ws, study, runner, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs)
            tracker.log_params(
                run.id, {"best_params": result.best_params, "best_trial": result.best_trial}
            )
            tracker.log_metric(run.id, "best_value", result.best_value)
        return result


@dataclass(frozen=True)
class _Study:
    """How the Optuna study of one ``tune`` call is created."""

    name: str
    direction: Literal["minimize", "maximize"]
    pruner: optuna.pruners.BasePruner | None
    sampler: optuna.samplers.BaseSampler
    enqueue: tuple[Mapping[str, Any], ...]


@contextmanager
def _recorded(tracker: RunTracker, run_id: str) -> Iterator[None]:
    """Finish the tune run ``completed`` when the body returns, ``failed`` when it raises."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        yield
    except BaseException:
        tracker.finish_run(
            run_id,
            "failed",
            error=traceback.format_exc(),
            wall_s=time.perf_counter() - started,
            cpu_s=time.process_time() - cpu_started,
            peak_rss_mb=peak_rss_mb(),
        )
        raise
    tracker.finish_run(
        run_id,
        "completed",
        wall_s=time.perf_counter() - started,
        cpu_s=time.process_time() - cpu_started,
        peak_rss_mb=peak_rss_mb(),
    )


def _optimize(
    ws: Workspace,
    study: _Study,
    runner: TrialRunner,
    *,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
) -> TuneResult:
    """Create (or load) the study in the workspace's database and run its trials.

    Trials count as alive while their tune run beats (the tracker's stale check looks up
    live ancestors), so one heartbeat serves every trial.
    """
    storage = _study_storage(ws)
    try:
        with quiet_optuna(), Heartbeat(runner.tracker, runner.tune_run_id):
            optuna_study = optuna.create_study(
                storage=storage,
                study_name=study.name,
                direction=study.direction,
                pruner=study.pruner,
                sampler=study.sampler,
                load_if_exists=True,
            )
            for params in study.enqueue:
                optuna_study.enqueue_trial(dict(params), skip_if_exists=True)
            optuna_study.optimize(runner, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs)
            return _result(optuna_study, study.name, runner.tune_run_id, study.direction)
    finally:
        close_storage(storage)


def _check_arguments(
    n_trials: int | None, timeout: float | None, direction: str, n_jobs: int
) -> None:
    if direction not in ("minimize", "maximize"):
        raise TuneError(
            f"direction must be 'minimize' or 'maximize', got {direction!r}.",
            hint="Pass direction='maximize' for scores such as accuracy.",
            direction=direction,
        )
    if n_trials is None and timeout is None:
        raise TuneError(
            "tune needs n_trials or timeout; with neither it would never stop.",
            hint="Pass n_trials=50 or timeout=600 (seconds).",
        )
    if n_trials is not None and (isinstance(n_trials, bool) or n_trials < 1):
        raise TuneError(
            f"n_trials must be a positive integer, got {n_trials!r}.",
            hint="Pass n_trials=50, or leave it out and set timeout.",
            n_trials=n_trials,
        )
    if timeout is not None and not timeout > 0:
        raise TuneError(
            f"timeout must be a positive number of seconds, got {timeout!r}.",
            hint="Pass timeout=600, or leave it out and set n_trials.",
            timeout=timeout,
        )
    if n_jobs < 1:
        raise TuneError(
            f"n_jobs must be >= 1, got {n_jobs!r}.",
            hint="Pass n_jobs=os.cpu_count() to run one trial per core.",
            n_jobs=n_jobs,
        )


def _wants_trial(objective: Objective) -> bool:
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):  # builtins without a signature take params only
        return False
    positional = 0
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional += 1
    if positional == 0:
        raise TuneError(
            f"The objective {objective!r} takes no positional argument.",
            hint="Define it as objective(params) or objective(params, trial).",
        )
    return positional >= 2


def _result(study: optuna.Study, name: str, run_id: str, direction: str) -> TuneResult:
    trials = tuple(TrialSummary.from_frozen(t) for t in study.get_trials(deepcopy=False))
    complete = [t for t in trials if t.state == "complete" and t.value is not None]
    if not complete:
        raise TuneError(
            f"No trial of study {name!r} completed ({len(trials)} trials: "
            f"{sum(t.state == 'pruned' for t in trials)} pruned).",
            hint="Run more trials, or make the pruner less aggressive (n_warmup_steps).",
            study=name,
        )
    pick = max if direction == "maximize" else min
    best = pick(complete, key=lambda t: t.value if t.value is not None else 0.0)
    assert best.value is not None
    return TuneResult(
        best_params=dict(best.params),
        best_value=best.value,
        best_trial=best.number,
        study_name=name,
        run_id=run_id,
        direction=direction,
        trials=trials,
    )


def _study_storage(ws: Workspace) -> optuna.storages.BaseStorage:
    """Optuna's storage in the workspace's metadata database, where the study lives.

    A remote workspace has no database: its study is kept in memory for this call (the
    trials are still recorded as runs on the server), so a study cannot be shared by
    several processes or resumed by name there.
    """
    if ws.is_remote:
        _log.info("Remote workspace: the Optuna study is kept in memory for this call.")
        return optuna.storages.InMemoryStorage()
    return open_storage(ws.store.engine, busy_timeout_s=_busy_timeout(ws))


def _busy_timeout(ws: Workspace) -> float:
    return float(ws.settings.config.store.busy_timeout_s)


@contextmanager
def _workspace(
    workspace: Workspace | str | os.PathLike[str] | None, parent: RunContext | None
) -> Iterator[Workspace]:
    if isinstance(workspace, Workspace):
        yield workspace
        return
    root: str | os.PathLike[str] = "."
    if workspace is not None:
        root = workspace
    elif parent is not None:
        root = parent.workspace_root
    with Workspace.open(root) as ws:
        yield ws
