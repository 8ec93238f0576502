"""``conveyor demo``: the case study played live, act by act, each act checking its outcome.

1. A fresh shop project; summer sessions versioned, their schema inferred and validated.
2. ``run_ci`` trains (Optuna, SHAP), registers and gates the first model; it is deployed.
3. The real server starts (``conveyor serve --env production``, which runs the controller)
   and serves days of summer traffic; purchases come back through ``/v1/feedback``.
4. Winter: monitoring finds the drift, the winter sessions are versioned, the agent
   retrains, the gate passes, and the server's controller canaries and promotes the model.
5. A broken candidate (shuffled labels) is forced past its gate; the canary rolls it back.
6. The timeline and the headline figures; 7. the HTML report.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console

from conveyor.demo import _render
from conveyor.demo._data import generate_catalog, generate_sessions, generate_users
from conveyor.demo._errors import expect
from conveyor.demo._project import ENV, FAST, FULL, LOOKED_UP, MODEL, TARGET, Pace, scaffold
from conveyor.demo._server import ServerProcess, Shop, free_port
from conveyor.demo._timeline import (
    Figures,
    TimelineEvent,
    accuracy_by_version,
    collect,
)

if TYPE_CHECKING:
    from conveyor.automation import Agent
    from conveyor.deployments import Deployment
    from conveyor.monitoring import MonitoringReport
    from conveyor.workspace import Workspace


@dataclass
class DemoResult:
    """What the demo did, for the caller (and the end-to-end test) to check.

    Attributes:
        directory: The demo folder.
        project: The shop project inside it.
        report: The HTML report.
        timeline: Every event, oldest first.
        figures: The headline figures.
        server_url: The server's address (still up with ``keep_serving``).
        server_pid: Its process id when left running.
        ui_url: The web UI's address (``conveyor ui``, started with ``keep_serving``).
        ui_pid: Its process id.
        seconds: Wall time of the whole story.
    """

    directory: Path
    project: Path
    report: Path
    timeline: list[TimelineEvent]
    figures: Figures
    server_url: str
    server_pid: int | None = None
    seconds: float = 0.0
    ui_url: str | None = None
    ui_pid: int | None = None


@dataclass
class _State:
    """What the acts hand each other."""

    marks: list[TimelineEvent] = field(default_factory=list)
    first: str = ""
    retrained: str = ""
    broken: str = ""
    shift_at: datetime | None = None
    drift: MonitoringReport | None = None
    baseline: MonitoringReport | None = None
    rollouts: list[tuple[str, Deployment]] = field(default_factory=list)
    agent: Agent | None = None

    def mark(self, source: str, what: str, reason: str) -> None:
        self.marks.append(TimelineEvent(datetime.now(UTC), source, what, reason))


def run_demo(
    directory: str | Path | None = None,
    *,
    fast: bool = False,
    keep_serving: bool = False,
    console: Console | None = None,
) -> DemoResult:
    """Play the case study in ``directory`` (a new temporary folder by default).

    Args:
        directory: Where the shop project, the server log and the report go.
        fast: Fewer rows, fewer trials and shorter canary steps (for tests).
        keep_serving: Leave the prediction server running at the end.
        console: Where progress and the timeline are printed.

    Returns:
        The timeline, the figures and where the report is.

    Raises:
        DemoFailed: A stage did not do what the story says (the message says which).
    """
    from conveyor.workspace import Workspace

    _require_extras()
    out = console or Console()
    started = time.perf_counter()
    pace = FAST if fast else FULL
    base = (
        Path(directory).resolve() if directory else Path(tempfile.mkdtemp(prefix="conveyor-demo-"))
    )
    base.mkdir(parents=True, exist_ok=True)
    out.rule("[bold]conveyor demo[/]: an e-commerce recommender, from data to a closed loop")
    root = scaffold(base, pace)
    state = _State()
    server = ServerProcess(root, base / "server.log")
    with Workspace.open(root) as ws:
        with _act(out, "Act 1: versioned, validated data"):
            _act_data(ws, root, pace, state, out)
        with _act(out, "Act 2: train, gate, register, deploy"):
            _act_first_model(ws, root, state, out)
        with _act(out, "Act 3: the real server starts"):
            server.start()
            state.mark("traffic", "server ready", f"conveyor serve --env {ENV} on {server.url}")
            out.print(f"   server on {server.url} (log: {server.log_path})")
            shop = Shop(server.url, rows_per_request=pace.rows_per_request)
        try:
            with _act(out, "Act 3: summer traffic, labels, monitoring"):
                _act_summer(ws, shop, pace, state, out)
            with _act(out, "Act 4: winter arrives; the loop closes"):
                _act_winter(ws, root, shop, pace, state=state, out=out)
            with _act(out, "Act 5: a broken candidate meets the canary"):
                _act_broken(ws, root, shop, pace, state=state, out=out)
            shop.send_labels()
            time.sleep(1.5)  # the server writes its prediction log in batches each second
            timeline = collect(ws, state.marks)
            figures = _figures(ws, shop, state, timeline)
            _render.print_story(out, timeline, figures)
            report = _render.write_report(
                base / "report.html",
                ws,
                timeline,
                figures,
                drift=state.drift,
                rollouts=state.rollouts,
            )
        finally:
            shop.close()
            if keep_serving:
                pid = server.pid
                server.detach()
            else:
                pid = None
                server.stop()
    ui_url, ui_pid = _start_ui(root, base) if keep_serving else (None, None)
    seconds = time.perf_counter() - started
    out.print(f"Report: [bold]{report}[/]")
    if keep_serving:
        _print_serving(out, server.url, pid, ui_url, ui_pid)
    out.rule(f"[green]demo passed[/] in {seconds:.0f} s  ({base})")
    return DemoResult(
        base, root, report, timeline, figures, server.url, pid, seconds, ui_url, ui_pid
    )


def _print_serving(
    out: Console, server_url: str, pid: int | None, ui_url: str | None, ui_pid: int | None
) -> None:
    out.print(f"The server keeps serving on {server_url} (pid {pid}); stop it with kill {pid}.")
    out.print(
        f"Follow the story in the web UI: [bold]{ui_url}/[/] (pid {ui_pid}); "
        f"stop it with kill {ui_pid}."
    )


def _start_ui(root: Path, base: Path) -> tuple[str, int | None]:
    """``conveyor ui`` over the shop, left running: its address and process id."""
    ui = ServerProcess(
        root,
        base / "ui.log",
        # a free port, not conveyor ui's default: a server already on that port would
        # answer the readiness probe for a child that could not bind it
        port=free_port(),
        args=("ui",),
        ready="/static/ui.css",
        name="web UI",
    )
    ui.start()
    pid = ui.pid
    ui.detach()
    return ui.url, pid


class _act:
    """Shows a spinner while an act runs and a tick when it is done."""

    def __init__(self, out: Console, title: str) -> None:
        self.out, self.title = out, title
        self._status: Any = None
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()
        self._status = self.out.status(f"[bold]{self.title}[/] ...")
        self._status.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._status.__exit__(*exc)
        if exc[0] is None:
            took = time.perf_counter() - self._started
            self.out.print(f"[green]done[/] {self.title} ({took:.1f} s)")


def _act_data(ws: Workspace, root: Path, pace: Pace, state: _State, out: Console) -> None:
    from conveyor.checks import CheckContext, CheckSpec, run_checks
    from conveyor.checks.data import infer_schema

    path = root / "data" / "sessions.csv"
    session_log(pace.training_rows, seed=7, season="summer").to_csv(path, index=False)
    summer = ws.datasets.add("sessions", path, message="summer sessions")
    expect(summer.version == 1, f"the summer sessions should be v1, got v{summer.version}")
    # Ranges widened by 1.5 spans: prices may rise next season and session ids keep
    # counting, but a column that changes type or category set must fail.
    schema = infer_schema(ws, summer.ref, tolerance=1.5)
    with CheckContext(ws, dataset=summer.ref, target=TARGET) as ctx:
        suite = run_checks(ctx, [CheckSpec("schema")])
    expect(all(r.passed for r in suite.results), "the summer sessions fail their own schema")
    state.mark("traffic", "summer season", f"{summer.row_count:,} sessions recorded")
    out.print(
        f"   sessions@{summer.version}: {summer.row_count:,} rows, profiled; schema "
        f"v{schema.version} inferred and validated"
    )
    applied = ws.features.apply()
    out.print(
        f"   feature store: {', '.join(a.ref for a in applied if a.kind != 'entity')} "
        "applied from features.py"
    )
    _season_features(ws, "summer", out)


def session_log(rows: int, *, seed: int, season: str) -> pd.DataFrame:
    """The shop's session log: what happened in each session. The user's profile is not in
    it: training looks it up in the feature store as it was at the session's time."""
    return generate_sessions(rows, seed=seed, season=season).drop(columns=list(LOOKED_UP))


def _season_features(ws: Workspace, season: str, out: Console) -> None:
    """Version the season's user profiles and catalog prices (appended to the earlier
    seasons'), materialize them to the online store, and check online matches offline."""
    from conveyor.features import feature_skew

    seasons = ["summer"] if season == "summer" else ["summer", "winter"]
    users = ws.datasets.add(
        "users", pd.concat([generate_users(s) for s in seasons], ignore_index=True)
    )
    catalog = ws.datasets.add(
        "catalog", pd.concat([generate_catalog(s) for s in seasons], ignore_index=True)
    )
    done = ws.features.materialize()
    written = ", ".join(f"{m.view} {m.rows:,}" for m in done)
    skew = feature_skew(ws.features, "recommender")
    expect(skew.passed, f"online features should match offline ones: {skew.explanation}")
    out.print(
        f"   {users.ref}, {catalog.ref} versioned; materialized online ({written} keys); "
        f"skew check: {skew.explanation}"
    )


def _act_first_model(ws: Workspace, root: Path, state: _State, out: Console) -> None:
    from conveyor.automation import Agent
    from conveyor.ci import run_ci
    from conveyor.rollout import Controller

    result = run_ci(ws, report_dir=root / "reports" / "ci-first")
    decision = result.decision
    expect(
        decision.decision == "PROMOTE",
        f"the first model should pass its gates, got {decision.decision}: {decision.reasons}",
    )
    state.first = result.model_version.ref
    deployment = Controller(ws).deploy(state.first, ENV)
    expect(
        deployment.strategy == "replace" and deployment.state == "stable",
        f"the first deployment should be a replace, got {deployment.describe()}",
    )
    # The agent's first look arms its triggers (the current data version is its baseline).
    # One agent for the whole story: it keeps the lease it takes here.
    state.agent = Agent(ws, holder="conveyor-demo")
    expect(state.agent.run_once().acted, "the agent should hold its lease")
    out.print(
        f"   {state.first}: {decision.decision} ({'; '.join(decision.reasons[:2])}); "
        f"deployed: {deployment.describe()}"
    )


def _act_summer(ws: Workspace, shop: Shop, pace: Pace, state: _State, out: Console) -> None:
    from conveyor.monitoring import monitor_run

    for day in (1, 2):
        sessions = traffic(pace.day_requests * pace.rows_per_request, seed=100 + day)
        shop.day(sessions)
        state.mark("traffic", f"summer day {day}", f"{len(sessions):,} sessions served, labelled")
    _wait_logged(ws, shop.stats.rows)
    report = monitor_run(ws, ENV, window=pace.drift_window)
    state.baseline = report
    share = float(report.drift.get("share", 0.0))
    expect(share < 0.3, f"summer traffic should not drift, got share {share:.0%}", report=report.id)
    out.print(
        f"   {shop.stats.rows:,} rows served; monitoring: {report.verdict} "
        f"(drifted share {share:.0%})"
    )


def _act_winter(
    ws: Workspace, root: Path, shop: Shop, pace: Pace, *, state: _State, out: Console
) -> None:
    from conveyor.monitoring import monitor_run

    state.shift_at = datetime.now(UTC)
    sessions = traffic(pace.drift_window, seed=200, season="winter")
    shop.day(sessions)
    state.mark("traffic", "winter day 1", f"{len(sessions):,} winter sessions served, labelled")
    _wait_logged(ws, shop.stats.rows)
    report = monitor_run(ws, ENV, window=pace.drift_window)
    state.drift = report
    share = float(report.drift.get("share", 0.0))
    drifted = list(report.drift.get("drifted", []))
    expect(share >= 0.3, f"winter traffic should drift, got share {share:.0%}", report=report.id)
    out.print(f"   monitoring: {report.verdict}; drifted: {', '.join(drifted)} ({share:.0%})")

    path = root / "data" / "sessions.csv"
    session_log(pace.training_rows, seed=8, season="winter").to_csv(path, index=False)
    winter = ws.datasets.add("sessions", path, message="winter sessions")
    expect(winter.version == 2, f"the winter sessions should be v2, got v{winter.version}")
    out.print(f"   sessions@2: {winter.row_count:,} winter rows versioned")
    _season_features(ws, "winter", out)

    assert state.agent is not None
    tick = state.agent.run_once()
    expect(bool(tick.fired), f"the agent should retrain on the drift; skipped: {tick.skipped}")
    outcome = tick.outcomes[-1]
    expect(
        outcome.details.get("result") == "deployed",
        f"the retrained model should be deployed, got: {outcome.reason}",
    )
    deployment = ws.deployments.current(ENV)
    assert deployment is not None
    candidate = next(v for v in deployment.variants if v.role == "challenger")
    state.retrained = f"{candidate.model}@{candidate.version}"
    out.print(f"   agent: {', '.join(tick.fired)} fired; {outcome.reason}")
    final = _drive_rollout(ws, shop, pace, state, season="winter", seed=300)
    expect(
        final.state == "promoted",
        f"the retrained model should be promoted by the canary, got {final.describe()}",
    )
    out.print(f"   canary: {final.describe()}")


def _act_broken(
    ws: Workspace, root: Path, shop: Shop, pace: Pace, *, state: _State, out: Console
) -> None:
    from conveyor.ci import run_ci
    from conveyor.rollout import Controller

    result = run_ci(ws, report_dir=root / "reports" / "ci-broken", params={"broken": True})
    state.broken = result.model_version.ref
    expect(
        result.decision.decision == "REJECT",
        f"the broken candidate should fail its gate, got {result.decision.decision}",
    )
    reason = "demo: show the canary catching a model the gate rejected"
    Controller(ws).deploy(state.broken, ENV, force_reason=reason)
    out.print(f"   {state.broken}: gate REJECT; deployed anyway (force reason recorded)")
    final = _drive_rollout(ws, shop, pace, state, season="winter", seed=400)
    expect(
        final.state == "rolled_back",
        f"the canary should roll the broken model back, got {final.describe()}",
    )
    champion = ws.models.get(f"{MODEL}@champion")
    expect(
        champion.ref == state.retrained,
        f"the champion should stay {state.retrained}, got {champion.ref}",
    )
    last = ws.deployments.history(ENV)[-1]
    out.print(f"   canary: {last.action} -> {final.describe()}: {last.reason}")


def _drive_rollout(
    ws: Workspace, shop: Shop, pace: Pace, state: _State, *, season: str, seed: int
) -> Deployment:
    """Keep traffic (and delayed labels) flowing until the server's controller decides."""
    current = ws.deployments.current(ENV)
    assert current is not None
    started = current
    deadline = time.monotonic() + pace.rollout_timeout_s
    for round_no, sessions in enumerate(_endless(pace, season, seed)):
        shop.day(sessions)
        current = ws.deployments.current(ENV)
        assert current is not None
        if not current.in_progress:
            state.rollouts.append((season, started))
            return current
        expect(
            time.monotonic() < deadline,
            f"the rollout did not finish within {pace.rollout_timeout_s:.0f} s: "
            f"{current.describe()} after {round_no + 1} rounds of traffic",
        )
    raise AssertionError("unreachable")  # pragma: no cover - the generator never ends


def _endless(pace: Pace, season: str, seed: int) -> Iterator[pd.DataFrame]:
    n = 0
    while True:
        rows = 8 * pace.rows_per_request
        yield traffic(rows, seed=seed + n, season=season)
        n += 1


def traffic(rows: int, *, seed: int, season: str = "summer") -> pd.DataFrame:
    """``rows`` sessions of a day's traffic: drawn from a large population of users, so that
    a day's shoppers are mostly different people (as in a real shop's traffic)."""
    return generate_sessions(rows * 20, seed=seed, season=season).head(rows)


def _wait_logged(ws: Workspace, rows: int, *, timeout_s: float = 20.0) -> None:
    """Wait until the server has written ``rows`` predictions to the log (it batches)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ws.predictions.count(environment=ENV) >= rows:
            return
        time.sleep(0.3)
    expect(False, f"the server logged fewer than {rows} predictions in {timeout_s:.0f} s")


def _figures(ws: Workspace, shop: Shop, state: _State, timeline: list[TimelineEvent]) -> Figures:
    log = ws.predictions.read(environment=ENV)
    names = {
        int(state.first.split("@")[1]): f"old {state.first}",
        int(state.retrained.split("@")[1]): f"new {state.retrained}",
    }
    assert state.shift_at is not None
    accuracy = accuracy_by_version(log, state.shift_at, names)
    broken_version = int(state.broken.split("@")[1])
    broken_rows = int((log["version"] == broken_version).sum()) if len(log) else 0
    winter = ws.datasets.get("sessions@2")
    promoted = [
        e.at
        for e in timeline
        if e.source == "deployment" and "promote" in e.what and state.retrained in e.what
    ]
    to_serving = (promoted[0] - winter.created_at).total_seconds() if promoted else None
    expect(broken_rows > 0, "the broken model should have answered some canary traffic")
    return Figures(to_serving, shop.stats.requests, shop.stats.rows, accuracy, broken_rows)


def _require_extras() -> None:
    """The story explains models with SHAP and watches errors with river: say so up front
    rather than failing half-way through."""
    import importlib.util

    from conveyor.errors import ConveyorError

    missing = [name for name in ("shap", "river") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConveyorError(
            f"The demo needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'}"
            " not installed.",
            hint="Install the demo extra: pip install 'conveyor-ml[demo]' (make demo does).",
            missing=missing,
        )
