"""Rollout rehearsal: replay a labelled traffic file through the router and controller.

:func:`simulate` runs the real :class:`~conveyor.rollout.Controller` (virtual clock, the
environment's strategy and analysis settings) and the real routing rule
:func:`~conveyor.deployments.choose_variant` on the registered model versions, but keeps
every deployment record in a scratch store and never moves the registry's ``champion``
alias, so rehearsing touches nothing users see. Labels arrive with each request, so the
metric test runs as it would once feedback flows. Latency is not rehearsed (every request
takes 1 ms): a laptop says nothing about production latency.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.config import EnvironmentConfig
from conveyor.deployments import (
    Deployment,
    DeploymentStore,
    choose_variant,
)
from conveyor.rollout._controller import Controller
from conveyor.rollout._errors import DeployRefusedError
from conveyor.rollout._plans import candidate_of, incumbent_of
from conveyor.rollout.analysis import METRICS, VariantStats, metric_values
from conveyor.store import open_store

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.workspace import Workspace

_LATENCY_MS = 1.0


@dataclass(frozen=True)
class SimulationReport:
    """What a rehearsed rollout did.

    Attributes:
        timeline: One dict per transition: ``t_s`` (virtual seconds), ``request`` (index
            in the traffic), ``action``, ``state``, ``weights`` by role, ``reason``.
        served: Requests answered per role (shadow copies not counted).
        outcome: ``promoted``, ``rolled_back``, ``undecided`` (traffic ran out) or the
            final state for strategies without analysis.
        worse_model_requests: Requests answered by the variant with the lower metric on
            the whole traffic file.
        metrics: Each role's metric on the whole traffic file.
    """

    timeline: list[dict[str, Any]]
    served: dict[str, int]
    outcome: str
    worse_model_requests: int
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)


class _Rehearsal(Controller):
    """The controller with the environment's settings overridden and alias moves recorded."""

    def __init__(self, ws: Workspace, cfg: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(ws, **kwargs)
        self._cfg = cfg
        self.alias_moves: list[str] = []

    def environment(self, env: str) -> EnvironmentConfig:
        super().environment(env)  # still refuse an environment that is not configured
        return self._cfg

    def move_champion(self, model: str, version: int, env: str) -> None:
        self.alias_moves.append(f"{model}@{version}")


def simulate(
    ws: Workspace,
    env: str,
    traffic: pd.DataFrame,
    *,
    challenger: str | None = None,
    champion: str | None = None,
    seed: int = 0,
    requests_per_second: float = 50.0,
    tick_every_s: float = 1.0,
    strategy_overrides: Mapping[str, Any] | None = None,
) -> SimulationReport:
    """Rehearse a rollout of ``challenger`` over ``champion`` in ``env`` on ``traffic``.

    Args:
        ws: The workspace (configuration and registered models; left unchanged).
        env: A configured environment whose settings drive the rollout.
        traffic: The model's input columns plus ``label``, one row per request, in order.
        challenger: The version to roll out (default: the candidate of the rollout in
            progress in ``env``).
        champion: The version serving before (default: what ``env`` serves now).
        seed: Seed of the routing draws.
        requests_per_second: Virtual traffic rate.
        tick_every_s: Virtual seconds between two controller evaluations.
        strategy_overrides: Fields of the environment's settings to replace, e.g.
            ``{"strategy": "canary", "min_requests": 50}``.

    Returns:
        The timeline, requests per variant, the outcome and the worse model's requests.

    Raises:
        DeployRefusedError: no ``label`` column, or nothing to roll out.
        EnvironmentNotFoundError, GateRejectedError, VersionNotReadyError: as ``deploy``.

    Example:
        >>> report = simulate(ws, "production", frame, challenger="churn@2")  # doctest: +SKIP
        >>> report.outcome  # doctest: +SKIP
        'promoted'
    """
    cfg = Controller(ws).environment(env)
    if strategy_overrides:
        cfg = EnvironmentConfig.model_validate({**cfg.model_dump(), **strategy_overrides})
    if "label" not in traffic.columns or len(traffic) == 0:
        raise DeployRefusedError(
            f"Traffic for simulate needs rows and a `label` column; it has columns "
            f"{list(traffic.columns)} and {len(traffic)} rows.",
            hint="Pass a CSV or Parquet file of the model's inputs plus a `label` column.",
        )
    champion, challenger = _refs(ws, env, champion, challenger)
    inputs = traffic.drop(columns=["label"]).reset_index(drop=True)
    labels = traffic["label"].to_numpy(dtype=object)
    with tempfile.TemporaryDirectory(prefix="conveyor-simulate-") as scratch:
        store = open_store(f"sqlite:///{Path(scratch) / 'simulate.db'}", actor=ws.actor)
        try:
            clock = [ws_now()]
            records = DeploymentStore(store, actor=ws.actor)
            ctl = _Rehearsal(ws, cfg, clock=lambda: clock[0], deployments=records)
            return _replay(
                ctl, env=env, cfg=cfg, champion=champion, challenger=challenger, inputs=inputs,
                labels=labels, clock=clock, seed=seed, rps=requests_per_second,
                tick_s=tick_every_s,
            )  # fmt: skip
        finally:
            store.close()


def ws_now() -> float:
    """Start of the virtual clock: now, so records look like a real rollout."""
    import time

    return time.time()


def _refs(ws: Workspace, env: str, champion: str | None, challenger: str | None) -> tuple[str, str]:
    current = ws.deployments.current(env)
    if challenger is None and current is not None and current.in_progress:
        candidate = candidate_of(current)
        challenger = None if candidate is None else candidate.ref
    if champion is None and current is not None:
        serving = current.by_role("champion") or incumbent_of(current)
        champion = None if serving is None else serving.ref
    if challenger is None or champion is None:
        raise DeployRefusedError(
            f"Nothing to rehearse in {env!r}: champion {champion!r}, challenger {challenger!r}.",
            hint="Name both versions, e.g. `conveyor simulate --env production --champion "
            "churn@1 --challenger churn@2 --traffic traffic.csv`.",
            environment=env,
        )
    return champion, challenger


def _replay(
    ctl: _Rehearsal,
    *,
    env: str,
    cfg: EnvironmentConfig,
    champion: str,
    challenger: str,
    inputs: pd.DataFrame,
    labels: np.ndarray[Any, Any],
    clock: list[float],
    seed: int,
    rps: float,
    tick_s: float,
) -> SimulationReport:
    start = clock[0]
    # A rehearsal asks what the rollout policy would do with these versions, also with one
    # the gate rejected; nothing is deployed, so the gate's refusal does not apply.
    reason = "rehearsal: gate decisions do not apply to a simulation"
    ctl.deploy(champion, env, strategy="replace", force_reason=reason)
    deployment = ctl.deploy(challenger, env, strategy=cfg.strategy, force_reason=reason)
    if deployment.state == "awaiting_approval":
        deployment = ctl.approve(env, reason="approved by the rehearsal")
    timeline = [_event(ctl, env, start, 0)]
    answers = {v.role: _predict(ctl.ws, v.ref, inputs) for v in deployment.variants}
    column = cfg.sticky_key or ""
    sticky = column[len("column:") :] if column.startswith("column:") else None
    rng = np.random.default_rng(seed)
    served: dict[str, int] = {}
    taken: dict[str, list[int]] = {role: [] for role in answers}
    next_tick = start + tick_s
    for index in range(len(inputs)):
        clock[0] = start + (index + 1) / rps
        key = None if sticky is None else str(inputs.at[index, sticky])
        variant = choose_variant(deployment, key, float(rng.random()))
        served[variant.role] = served.get(variant.role, 0) + 1
        taken.setdefault(variant.role, []).append(index)
        if deployment.shadow is not None:
            taken.setdefault("shadow", []).append(index)
        if clock[0] < next_tick:
            continue
        next_tick = clock[0] + tick_s
        after = ctl.tick(env, stats=_stats(taken, answers, labels)) or deployment
        if after.revision != deployment.revision:
            timeline.append(_event(ctl, env, start, index + 1))
            deployment = after
        if not deployment.in_progress:
            break
    metrics = {role: _metric(answers[role], labels, cfg) for role in answers}
    outcome = _outcome(deployment, timeline)
    worse = min(metrics, key=lambda role: metrics[role]) if len(set(metrics.values())) > 1 else None
    return SimulationReport(
        timeline=timeline,
        served=served,
        outcome=outcome,
        worse_model_requests=served.get(worse, 0) if worse is not None else 0,
        metrics=metrics,
    )


def _predict(
    ws: Workspace, ref: str, inputs: pd.DataFrame
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each row's answer and whether it failed; row by row only if the batch raises."""
    with ws.models.load(ref) as model:
        try:
            return np.asarray(model.predict(inputs), dtype=object), np.zeros(len(inputs), bool)
        except Exception:  # noqa: BLE001 - a model failing on some inputs is what we rehearse
            answers = np.empty(len(inputs), dtype=object)
            failed = np.zeros(len(inputs), bool)
            for index in range(len(inputs)):
                try:
                    answers[index] = np.asarray(model.predict(inputs.iloc[[index]]))[0]
                except Exception:  # noqa: BLE001 - counted as an error of that request
                    failed[index] = True
            return answers, failed


def _stats(
    taken: Mapping[str, list[int]],
    answers: Mapping[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    labels: np.ndarray[Any, Any],
) -> dict[str, VariantStats]:
    result = {}
    for role, rows in taken.items():
        if role not in answers:
            continue
        index = np.asarray(rows, dtype=int)
        predictions, failed = answers[role]
        ok = index[~failed[index]]
        result[role] = VariantStats(
            len(index), int(failed[index].sum()), np.full(len(index), _LATENCY_MS),
            predictions[ok], labels[ok],
        )  # fmt: skip
    return result


def _metric(
    answer: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    labels: np.ndarray[Any, Any],
    cfg: EnvironmentConfig,
) -> float:
    """The metric over the whole file, oriented so that larger is better."""
    predictions, failed = answer
    ok = ~failed
    stats = VariantStats(len(labels), int(failed.sum()), [], predictions[ok], labels[ok])
    values = metric_values(stats, cfg.analysis.metric)
    mean = float(values.mean()) if len(values) else float("nan")
    return mean if METRICS[cfg.analysis.metric][0] else -mean


def _event(ctl: Controller, env: str, start: float, request: int) -> dict[str, Any]:
    last = ctl.deployments.history(env)[-1]
    return {
        "t_s": round(last.at.timestamp() - start, 3),
        "request": request,
        "revision": last.revision,
        "action": last.action,
        "state": last.to_state,
        "weights": {v.role: v.weight for v in last.variants},
        "reason": last.reason,
    }


def _outcome(deployment: Deployment, timeline: list[dict[str, Any]]) -> str:
    if deployment.in_progress:
        return "undecided"
    action = timeline[-1]["action"]
    return {"promote": "promoted", "rollback": "rolled_back"}.get(action, deployment.state)
