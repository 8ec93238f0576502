"""The cost of model versions: their training run tree and their serving records, priced."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.core import isoformat
from conveyor.cost._errors import CostError
from conveyor.cost._pricing import (
    cpu_hours,
    gb_hours,
    per_thousand,
    price,
    serving_bill,
    spot_saving,
)
from conveyor.cost._since import since_start
from conveyor.tracking import RunNotFoundError

if TYPE_CHECKING:
    from conveyor.config import CostConfig
    from conveyor.predictions import ServingUsage
    from conveyor.registry import ModelVersion
    from conveyor.tracking import Run
    from conveyor.workspace import Workspace

#: The most runs one training tree may hold before the report refuses (a runaway study).
MAX_TREE_RUNS = 100_000


@dataclass(frozen=True)
class RunUsage:
    """One run of a training tree and what it recorded (``None``: not measured).

    ``peak_rss_mb`` is the high-water mark of the process that ran it, which for a step run
    in-process includes what earlier steps of the same process used.
    """

    run_id: str
    parent_id: str | None
    name: str
    kind: str
    status: str
    wall_s: float | None
    cpu_s: float | None
    peak_rss_mb: float | None
    cached_from: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class TrainingCost:
    """The resources and price of the run tree that produced a version.

    Nested runs measure overlapping time (a pipeline run's CPU seconds include its
    in-process steps, a tuning run's include its trials), so the tree is billed once per
    level: a run costs the larger of its own measurement and the sum of its children's
    (computed the same way), for CPU seconds and for GB-seconds alike. A cached step costs
    nothing; what it saved is the billed use of the run whose outputs it reused.

    Attributes:
        root_run_id: The top of the tree (the pipeline run, or the producing run).
        runs: Every run of the tree, parents before children.
        recorded_cpu_s: The plain sum of the CPU seconds the runs recorded.
        cpu_s: CPU seconds billed (nested measurements counted once).
        cpu_hours: ``cpu_s / 3600``.
        gb_hours: GB-hours billed (peak memory times wall time, nested counted once).
        wall_s: Wall seconds of the root run.
        steps: Step runs executed (not cached).
        trials: Tuning trials.
        cached_steps: Step runs that reused a cached result.
        cached_saved_cpu_s: CPU seconds the cached steps did not spend again.
        cached_saved_gb_hours: GB-hours they did not spend again.
        cost: On-demand price (``None`` without prices).
        spot_cost: Price on spot capacity (``cost * (1 - spot_discount)``).
        spot_saving: ``cost - spot_cost``.
        cached_saving: Price of what the cached steps saved.
    """

    root_run_id: str
    runs: tuple[RunUsage, ...]
    recorded_cpu_s: float
    cpu_s: float
    cpu_hours: float
    gb_hours: float
    wall_s: float | None
    steps: int
    trials: int
    cached_steps: int
    cached_saved_cpu_s: float
    cached_saved_gb_hours: float
    cost: float | None
    spot_cost: float | None
    spot_saving: float | None
    cached_saving: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``runs`` as a list of dicts)."""
        out = asdict(self)
        out["runs"] = [r.to_dict() for r in self.runs]
        return out


@dataclass(frozen=True)
class ServingCost:
    """What the servers of one environment used for a version, priced.

    Attributes:
        environment: The environment served (``None``: ``conveyor serve NAME@REF``).
        processes: Server processes that recorded usage.
        predictions: Rows predicted.
        requests: Requests answered.
        wall_s: The version's share of the servers' uptime, in seconds.
        busy_s: Seconds spent answering for the version.
        cpu_s: The version's share of the servers' CPU seconds.
        peak_rss_mb: The largest peak memory of those processes, in MiB.
        cpu_hours: CPU hours billed (see :func:`~conveyor.cost.serving_bill`).
        gb_hours: GB-hours billed.
        cost: On-demand price with replicas always on (``None`` without prices).
        per_1000: ``cost`` per 1,000 predictions (``None`` without prices or predictions).
        cpu_s_per_1000: CPU seconds per 1,000 predictions (``None`` without predictions).
        busy_fraction: ``busy_s / wall_s`` (``None`` when no uptime was recorded).
        scale_to_zero_cost: Price if replicas had run only while busy.
        scale_to_zero_saving: ``cost - scale_to_zero_cost``.
    """

    environment: str | None
    processes: int
    predictions: int
    requests: int
    wall_s: float
    busy_s: float
    cpu_s: float
    peak_rss_mb: float
    cpu_hours: float
    gb_hours: float
    cost: float | None
    per_1000: float | None
    cpu_s_per_1000: float | None
    busy_fraction: float | None
    scale_to_zero_cost: float | None
    scale_to_zero_saving: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class ModelCost:
    """The cost of one model version: training (its run tree) and serving (by environment).

    Attributes:
        model: Model name.
        version: Version number.
        currency: The currency of every price (``cost.currency``).
        priced: Whether any price is set (``cost.cpu_hour`` or ``cost.gb_hour``); when not,
            every price is ``None`` and only the resource use is reported.
        since: Start of the serving window (``None``: every record).
        training: The training cost, or ``None`` when the version records no run.
        serving: One entry per environment that served the version in the window.
        notes: Sentences explaining what is missing or assumed.
    """

    model: str
    version: int
    currency: str
    priced: bool
    since: datetime | None
    training: TrainingCost | None
    serving: tuple[ServingCost, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.model}@{self.version}"

    @property
    def predictions(self) -> int:
        """Predictions served in the window, every environment together."""
        return sum(s.predictions for s in self.serving)

    @property
    def total(self) -> float | None:
        """Training plus serving, on demand (``None`` without prices)."""
        if not self.priced:
            return None
        training = self.training.cost if self.training is not None else 0.0
        return (training or 0.0) + sum(s.cost or 0.0 for s in self.serving)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: every field, ``ref``, ``predictions`` and ``total``."""
        return {
            "ref": self.ref,
            "model": self.model,
            "version": self.version,
            "currency": self.currency,
            "priced": self.priced,
            "since": isoformat(self.since) if self.since is not None else None,
            "training": self.training.to_dict() if self.training is not None else None,
            "serving": [s.to_dict() for s in self.serving],
            "predictions": self.predictions,
            "total": self.total,
            "notes": list(self.notes),
        }


def model_cost(
    ws: Workspace, ref: str, *, since: str | timedelta | datetime | None = None
) -> ModelCost:
    """The training and serving cost of one model version.

    Args:
        ws: An open workspace (its ``cost:`` section holds the prices).
        ref: The version (``churn@3``, ``churn@champion``).
        since: Serving records of processes active in this window (``"30d"``, a
            ``timedelta`` or a start time); ``None``: all of them. Training is always the
            whole run tree.

    Returns:
        The :class:`ModelCost`.

    Raises:
        ModelNotFoundError: no such model or version.
        InvalidSinceError: ``since`` is not a positive window of at most ten years.

    Example:
        >>> model_cost(ws, "churn@champion", since="30d").to_dict()["total"]  # doctest: +SKIP
        0.42
    """
    start = since_start(since)
    return _cost_of(ws, ws.models.get(ref), start)


def cost_report(
    ws: Workspace, *, env: str | None = None, since: str | timedelta | datetime | None = None
) -> list[ModelCost]:
    """The cost of every version active in ``env``, or of every recent version.

    Args:
        ws: An open workspace.
        env: An environment of the configuration: the versions its current deployment
            serves. ``None``: every version registered in the window or served in it
            (every version when ``since`` is ``None``).
        since: The window, as for :func:`model_cost`.

    Returns:
        One :class:`ModelCost` per version, by model name then version.

    Raises:
        CostError: ``env`` is not an environment of the configuration.
        InvalidSinceError: ``since`` is not a positive window of at most ten years.
    """
    start = since_start(since)
    refs: set[tuple[str, int]] = set()
    if env is not None:
        configured = ws.settings.config.environments
        if env not in configured:
            raise CostError(
                f"Environment {env!r} is not in the configuration; configured: "
                f"{', '.join(sorted(configured)) or 'none'}.",
                hint="Pass one of those to --env, or leave --env out for every recent version.",
                environment=env,
            )
        current = ws.deployments.current(env)
        for variant in current.variants if current is not None else ():
            refs.add((variant.model, variant.version))
    else:
        for summary in ws.models.list():
            for version in ws.models.versions(summary.name):
                if start is None or version.created_at >= start:
                    refs.add((version.name, version.version))
        for usage in ws.predictions.records.usage(since=start):
            refs.add((usage.model, usage.version))
    costs = []
    for name, number in sorted(refs):
        costs.append(_cost_of(ws, ws.models.get(f"{name}@{number}"), start, env=env))
    return costs


def _cost_of(
    ws: Workspace, version: ModelVersion, start: datetime | None, *, env: str | None = None
) -> ModelCost:
    prices = ws.settings.config.cost
    notes: list[str] = []
    if not prices.priced:
        notes.append(
            "No prices are set: resource use only. Set cpu_hour and gb_hour under `cost:` "
            "in conveyor.yaml to price it."
        )
    run_id = version.run_id or version.lineage.get("run_id")
    training = None
    if run_id:
        try:
            training = _training(ws, str(run_id), prices)
        except RunNotFoundError:
            notes.append(f"The training run {str(run_id)[:8]} is no longer recorded.")
    else:
        notes.append("No training run is recorded for this version (registered outside a run).")
    records = ws.predictions.records.usage(
        model=version.name, version=version.version, environment=env, since=start
    )
    serving = tuple(_serving(env_name, group, prices) for env_name, group in _by_env(records))
    if not serving:
        notes.append(
            "Never served"
            + (f" in {env}" if env is not None else "")
            + (" in the window" if start is not None else "")
            + ": no serving usage is recorded, so there is no cost per 1,000 predictions."
        )
    elif all(s.predictions == 0 for s in serving):
        notes.append("Served but no prediction was made: no cost per 1,000 predictions.")
    return ModelCost(
        model=version.name,
        version=version.version,
        currency=prices.currency,
        priced=prices.priced,
        since=start,
        training=training,
        serving=serving,
        notes=tuple(notes),
    )


# -- training ----------------------------------------------------------------------------


def _training(ws: Workspace, run_id: str, prices: CostConfig) -> TrainingCost:
    tracker = ws.runs
    root = tracker.get(run_id)
    while root.parent_id is not None:
        root = tracker.get(root.parent_id)
    runs, children = _tree(ws, root)
    cpu_s, gb_s = _billed(root, children)
    saved_cpu = saved_gb_s = 0.0
    cached = [r for r in runs if r.status == "cached" and r.cached_from]
    for run in cached:
        original = tracker.get(str(run.cached_from))
        o_cpu, o_gb = _billed(original, _tree(ws, original)[1])
        saved_cpu += o_cpu
        saved_gb_s += o_gb
    gb_h = gb_s / 3600.0
    saved_gb_h = saved_gb_s / 3600.0
    cost = price(prices, cpu_hours(cpu_s), gb_h) if prices.priced else None
    saving = spot_saving(prices, cost) if cost is not None else None
    return TrainingCost(
        root_run_id=root.id,
        runs=tuple(_usage(r) for r in runs),
        recorded_cpu_s=sum(r.cpu_s or 0.0 for r in runs),
        cpu_s=cpu_s,
        cpu_hours=cpu_hours(cpu_s),
        gb_hours=gb_h,
        wall_s=root.wall_s,
        steps=sum(1 for r in runs if r.kind == "step" and r.status != "cached"),
        trials=sum(1 for r in runs if r.kind == "trial"),
        cached_steps=len(cached),
        cached_saved_cpu_s=saved_cpu,
        cached_saved_gb_hours=saved_gb_h,
        cost=cost,
        spot_cost=cost - saving if cost is not None and saving is not None else None,
        spot_saving=saving,
        cached_saving=price(prices, cpu_hours(saved_cpu), saved_gb_h) if prices.priced else None,
    )


def _tree(ws: Workspace, root: Run) -> tuple[list[Run], dict[str, list[Run]]]:
    """Every run under ``root`` (itself first, then level by level) and each one's children."""
    runs = [root]
    children: dict[str, list[Run]] = defaultdict(list)
    frontier = [root.id]
    while frontier:
        found = [child for parent in frontier for child in ws.runs.children(parent)]
        for child in found:
            children[child.parent_id or ""].append(child)
        runs.extend(found)
        frontier = [child.id for child in found]
        if len(runs) > MAX_TREE_RUNS:
            raise CostError(
                f"The run tree of {root.short_id} holds more than {MAX_TREE_RUNS} runs.",
                hint="Report the cost of a version produced by a smaller run tree.",
                run_id=root.id,
            )
    return runs, children


def _own(run: Run) -> tuple[float, float]:
    """A run's own CPU seconds and GB-seconds (a cached run did no work: zero)."""
    if run.status == "cached":
        return 0.0, 0.0
    cpu = run.cpu_s or 0.0
    gb_s = gb_hours(run.peak_rss_mb or 0.0, run.wall_s or 0.0) * 3600.0
    return cpu, gb_s


def _billed(run: Run, children: dict[str, list[Run]]) -> tuple[float, float]:
    """The larger of a run's own use and the sum of its children's, per resource."""
    own_cpu, own_gb = _own(run)
    sub_cpu = sub_gb = 0.0
    for child in children.get(run.id, ()):
        cpu, gb_s = _billed(child, children)
        sub_cpu += cpu
        sub_gb += gb_s
    return max(own_cpu, sub_cpu), max(own_gb, sub_gb)


def _usage(run: Run) -> RunUsage:
    return RunUsage(
        run_id=run.id,
        parent_id=run.parent_id,
        name=run.name,
        kind=run.kind,
        status=run.status,
        wall_s=run.wall_s,
        cpu_s=run.cpu_s,
        peak_rss_mb=run.peak_rss_mb,
        cached_from=run.cached_from,
    )


# -- serving -----------------------------------------------------------------------------


def _by_env(records: Iterable[ServingUsage]) -> list[tuple[str | None, list[ServingUsage]]]:
    groups: dict[str | None, list[ServingUsage]] = defaultdict(list)
    for record in records:
        groups[record.environment].append(record)
    return sorted(groups.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))


def _serving(env: str | None, records: list[ServingUsage], prices: CostConfig) -> ServingCost:
    cpu_h = gb_h = cost = zero_cost = 0.0
    for record in records:
        bill = serving_bill(
            prices,
            cpu_s=record.cpu_s,
            wall_s=record.wall_s,
            busy_s=record.busy_s,
            peak_rss_mb=record.peak_rss_mb,
        )
        cpu_h += bill.cpu_hours
        gb_h += bill.gb_hours
        cost += bill.cost
        zero_cost += bill.scale_to_zero_cost
    predictions = sum(r.predictions for r in records)
    wall = sum(r.wall_s for r in records)
    busy = sum(r.busy_s for r in records)
    cpu = sum(r.cpu_s for r in records)
    priced = prices.priced
    return ServingCost(
        environment=env,
        processes=len({r.process_id for r in records}),
        predictions=predictions,
        requests=sum(r.requests for r in records),
        wall_s=wall,
        busy_s=busy,
        cpu_s=cpu,
        peak_rss_mb=max((r.peak_rss_mb for r in records), default=0.0),
        cpu_hours=cpu_h,
        gb_hours=gb_h,
        cost=cost if priced else None,
        per_1000=per_thousand(cost, predictions) if priced else None,
        cpu_s_per_1000=per_thousand(cpu, predictions),
        busy_fraction=min(busy / wall, 1.0) if wall > 0 else None,
        scale_to_zero_cost=zero_cost if priced else None,
        scale_to_zero_saving=cost - zero_cost if priced else None,
    )
