"""The web UI at scale: page times over 10,000 runs, 500 model versions, 200 reports.

Builds a workspace (SQLite, in a temporary folder) with 10,000 top-level pipeline runs
(5 parameters and 5 metrics each; every 20th with a 100-step loss history, every 100th
with four step runs too, a few failed), 5 tuning studies of 40 trials, 500 versions of model
``churn`` (and a few of two smaller models) with aliases and gate decisions, a deployment
history of canary rollouts in ``staging`` and ``production`` and 200 monitoring reports
across both environments. Runs go through the run records (one ``create_run`` and one
``log_metrics`` batch per run; the records offer no bulk write); each model's first version
is registered with ``ws.models.register`` (a real scikit-learn model) and the others go
through the registry records' ``insert_version`` with the same artifact (content-addressed,
so identical models share it).

Then ``conveyor ui`` serves the workspace in its own process on 127.0.0.1 and each page is
requested 20 times after one warm-up: the ``server-timing: app;dur=`` header (the page's
handler and template, server side) and the client's wall time, median and p95. The aim is
under 300 ms server time for every page; the pages over it are listed. With Debian's
Chromium (``/usr/bin/chromium``, through playwright) four pages are loaded 5 times each:
time from navigation to the load event and to every chart drawn (``[data-figure]`` with
``data-drawn="true"``).

Baseline, in the same run: MLflow (``mlflow-skinny``, installed with conveyor's ``mlflow``
extra) over the same 10,000 runs, parameters and metrics in its SQLite tracking store:
``MlflowClient.search_runs`` for the first page of 50 ordered by a metric and by start time
(what MLflow's runs page asks its server for) and ``get_run`` (its run page's call). The
first 200 runs are logged through ``MlflowClient`` (``create_run``, ``log_batch``,
``set_terminated``); the rest are copies of those rows written with one SQLite transaction
into the tables MLflow's migrations created (logging 10,000 runs one ``log_batch`` at a time
takes about half an hour here). mlflow-skinny ships no web UI, so the comparison is of the
server-side calls, not of rendered pages.

``CONVEYOR_BENCH_SCALE`` scales the counts (never below 120 runs, 10 versions, 8 reports;
below 0.5, 3 requests per page and 1 browser load), ``--quick`` is scale 0.01, and
``CONVEYOR_BENCH_BASELINES=0`` skips MLflow, as for the other benchmarks.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks import external_baselines, scale
from conveyor.checks import Decision, GateDecision, Subject, record_decision
from conveyor.deployments import Variant
from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords
from conveyor.registry import NewVersion
from conveyor.tracking import MetricValue, Run
from conveyor.workspace import Workspace, init_project

#: Server time every page should stay under on this workspace.
AIM_MS = 300.0
#: A page slower than this (seconds) is asked 3 times only, so a slow page cannot stall the run.
SLOW_S = 2.0
#: Rows per page of the runs table.
PAGE_SIZE = 50
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
METRICS = ("roc_auc", "accuracy", "f1", "log_loss", "train_seconds")
FEATURES = (
    "tenure",
    "monthly_charges",
    "total_charges",
    "contract",
    "payment",
    "support_calls",
    "region",
    "age",
    "usage_gb",
    "plan",
)
CATEGORIES = {"contract": ["monthly", "yearly", "two-year"], "payment": ["card", "bank", "cash"]}
CATEGORIES |= {"region": ["north", "south", "east", "west"], "plan": ["basic", "plus", "pro"]}
ENVIRONMENTS = ("production", "staging")
FAILURE = "Traceback (most recent call last):\nValueError: NaN in column 'tenure'"
VERDICTS: tuple[Decision, ...] = ("PROMOTE", "HOLD", "REJECT")
MLFLOW_LOGGED = 200


@dataclass(frozen=True)
class Sizes:
    """How much to build and how often to ask."""

    runs: int
    versions: int
    reports: int
    requests: int
    loads: int
    onnx: bool

    @classmethod
    def at(cls, factor: float) -> Sizes:
        full = factor >= 0.5
        return cls(
            runs=max(120, round(10_000 * factor)),
            versions=max(10, round(500 * factor)),
            reports=max(8, round(200 * factor)),
            requests=20 if full else 3,
            loads=5 if full else 1,
            onnx=full,
        )


@dataclass
class Built:
    """What the benchmark needs to know about the workspace it built."""

    seconds: dict[str, float] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    history_runs: list[str] = field(default_factory=list)
    study: str = ""
    model: str = "churn"
    versions: int = 0
    report: int = 0


# -- building the workspace -----------------------------------------------------------------


def build(root: Path, sizes: Sizes, rng: random.Random) -> Built:
    """Fill a new project at ``root``; ``Built`` with the timings of each part."""
    init_project(root, name="uibench")
    built = Built()
    with Workspace.open(root, search_parents=False, actor="bench") as ws:
        for part, step in (
            ("runs", _build_runs),
            ("models", _build_models),
            ("deployments", _build_deployments),
            ("monitoring", _build_monitoring),
        ):
            start = time.perf_counter()
            step(ws, sizes, rng, built)
            built.seconds[part] = time.perf_counter() - start
    return built


def _run(name: str, kind: str, started: datetime, wall: float, **fields: Any) -> Run:
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "name": name,
        "kind": kind,
        "parent_id": None,
        "status": "completed",
        "pipeline_ref": f"pipelines:{name}",
        "params": {},
        "tags": {},
        "code_version": {"commit": uuid.uuid4().hex + "0" * 8, "dirty": False, "diff_hash": None},
        "environment": {"python": "3.11.2", "platform": "Linux-x86_64", "packages_hash": "ab" * 8},
        "executor": "local",
        "cache_key": None,
        "cached_from": None,
        "error": None,
        "started_at": started,
        "ended_at": started + timedelta(seconds=wall),
        "heartbeat_at": None,
        "host": "bench-host",
        "pid": 4242,
        "wall_s": wall,
        "cpu_s": wall * 0.8,
        "created_by": "bench",
    }
    values.update(fields)
    return Run(**values)


def _build_runs(ws: Workspace, sizes: Sizes, rng: random.Random, built: Built) -> None:
    records, actor = ws.runs.records, ws.actor
    first = datetime.now(UTC) - timedelta(days=90)
    gap = timedelta(days=90) / sizes.runs
    pipelines = ("training", "retrain", "nightly-eval", "feature-build")
    for i in range(sizes.runs):
        started = first + gap * i
        params = {
            "learning_rate": round(rng.uniform(0.01, 0.3), 4),
            "max_depth": rng.randint(2, 12),
            "n_estimators": rng.choice([100, 200, 400, 800]),
            "model": rng.choice(["gbm", "rf", "logreg"]),
            "data": f"customers@{1 + i // 500}",
        }
        failed = i % 37 == 5
        run = _run(
            pipelines[i % len(pipelines)],
            "pipeline",
            started,
            rng.uniform(20, 600),
            params=params,
            status="failed" if failed else "completed",
            error="Traceback (most recent call last):\nValueError: NaN in 'tenure'"
            if failed
            else None,
        )
        records.create_run(actor, run)
        auc = rng.uniform(0.6, 0.95)
        values = {
            "roc_auc": auc,
            "accuracy": auc - rng.uniform(0.0, 0.1),
            "f1": auc - rng.uniform(0.05, 0.2),
            "log_loss": rng.uniform(0.2, 0.7),
            "train_seconds": run.wall_s or 0.0,
        }
        batch: list[MetricValue] = [(k, v, None, started) for k, v in values.items()]
        if i % 20 == 0:
            built.history_runs.append(run.id)
            for step in range(100):
                at = started + timedelta(seconds=step)
                loss = 0.7 * math.exp(-step / 30) + rng.uniform(0, 0.03)
                batch += [("loss", loss, step, at), ("val_loss", loss + 0.05, step, at)]
        records.log_metrics(actor, run.id, batch)
        built.runs.append({"id": run.id, "start": started, "params": params, "metrics": values})
        if i % 100 == 20:  # every 5th run with a history also has steps
            _build_steps(ws, run, rng)
    for s in range(5):
        _build_study(ws, first + timedelta(days=10 + 15 * s), rng, built)


def _build_steps(ws: Workspace, parent: Run, rng: random.Random) -> None:
    for offset, step in enumerate(("load", "split", "train", "evaluate")):
        child = _run(
            step,
            "step",
            parent.started_at + timedelta(seconds=offset * 5),
            rng.uniform(1, 5),
            parent_id=parent.id,
            pipeline_ref=parent.pipeline_ref,
            status="cached" if step == "load" else "completed",
            cache_key=uuid.uuid4().hex * 2,
        )
        ws.runs.records.create_run(ws.actor, child)


def _build_study(ws: Workspace, started: datetime, rng: random.Random, built: Built) -> None:
    study = _run("tune-gbm", "tune", started, 1200.0, params={"n_trials": 40, "metric": "roc_auc"})
    ws.runs.records.create_run(ws.actor, study)
    built.study = study.id
    best = 0.0
    for t in range(40):
        params = {"learning_rate": rng.uniform(0.01, 0.3), "max_depth": rng.randint(2, 12)}
        trial = _run(
            f"trial-{t}",
            "trial",
            started + timedelta(seconds=30 * t),
            30.0,
            parent_id=study.id,
            params=params,
        )
        ws.runs.records.create_run(ws.actor, trial)
        value = rng.uniform(0.7, 0.93)
        best = max(best, value)
        ws.runs.records.log_metrics(ws.actor, trial.id, [("roc_auc", value, None, started)])
    ws.runs.records.log_metrics(ws.actor, study.id, [("best_roc_auc", best, None, started)])


def _training_frame(rng: random.Random) -> tuple[Any, Any]:
    import pandas as pd

    rows = 300
    frame = pd.DataFrame(
        {
            f: [rng.choice(CATEGORIES[f]) for _ in range(rows)]
            if f in CATEGORIES
            else [rng.uniform(0, 100) for _ in range(rows)]
            for f in FEATURES
        }
    )
    target = (frame["tenure"] + rng.uniform(-10, 10) > 50).astype(int)
    return frame, target


def _fitted_model(rng: random.Random) -> tuple[Any, Any]:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, target = _training_frame(rng)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), sorted(CATEGORIES)), remainder="passthrough"
        ),
        LogisticRegression(max_iter=500),
    )
    model.fit(frame, target)
    return model, frame.head(5)


def _build_models(ws: Workspace, sizes: Sizes, rng: random.Random, built: Built) -> None:
    model, example = _fitted_model(rng)
    counts = {
        "churn": sizes.versions,
        "fraud": max(2, sizes.versions // 25),
        "recommender": max(2, sizes.versions // 50),
    }
    pipeline_runs = built.runs
    # SHAP's first call compiles with numba for a minute: the copies get importance values
    # (and a quick run has no ONNX twin either).
    first = ws.models.register(
        "churn",
        model,
        input_example=example,
        run=pipeline_runs[0]["id"],
        explain=False,
        onnx=sizes.onnx,
    )
    importance = {f: round(rng.uniform(0.01, 0.4), 4) for f in FEATURES}
    manifest = ws.models.manifest(first)
    hashes = {first.content_hash} | {f["hash"] for f in manifest["files"].values()}
    hashes |= {f["hash"] for f in (manifest.get("onnx") or {}).get("files", {}).values()}
    _decide(ws, "churn", 1, None, rng)
    ws.models.set_alias("churn", 1, "champion", reason="first version")
    for name, count in counts.items():
        champion = 1 if name == "churn" else None
        for number in range(1 if name != "churn" else 2, count + 1):
            run = pipeline_runs[(number * 17) % len(pipeline_runs)]
            new = NewVersion(
                flavor=first.flavor,
                content_hash=first.content_hash,
                object_hashes=frozenset(hashes),
                signature=first.signature,
                input_example=first.input_example,
                metrics=run["metrics"],
                params=run["params"],
                tags={"team": "retention"},
                run_id=run["id"],
                lineage={"run_id": run["id"], "code_version": None, "datasets": []},
                evaluation={"metric_sources": dict.fromkeys(run["metrics"], "evaluate")},
                onnx=first.onnx,
                importance=importance,
            )
            ws.models.records.insert_version(ws.actor, name, new, model_description=None)
            verdict = _decide(ws, name, number, champion, rng)
            if verdict == "PROMOTE" and (champion is None or number % 3 == 0):
                ws.models.set_alias(name, number, "champion", reason="gate passed")
                champion = number
            elif number % 7 == 0:
                ws.models.set_alias(name, number, "staging", reason="try in staging")
        for number in range(2, count // 3, 2):
            if not ws.models.get(f"{name}@{number}").aliases:
                ws.models.archive(name, number, reason="superseded")
        if name == "churn":
            built.versions = count


def _decide(
    ws: Workspace, name: str, version: int, champion: int | None, rng: random.Random
) -> Decision:
    verdict = rng.choices(VERDICTS, weights=[6, 2, 2])[0]
    reasons = [f"min_metric roc_auc {'passed' if verdict == 'PROMOTE' else 'failed'}"]
    against = None if champion is None else f"{name}@{champion}"
    ws.models.record_decision(
        f"{name}@{version}", verdict=verdict, reasons=reasons, champion=against
    )
    subject = Subject("model", f"{name}@{version}")
    decision = GateDecision(verdict, tuple(reasons), subject, against, uuid.uuid4().hex)
    record_decision(ws, decision)
    return verdict


def _build_deployments(ws: Workspace, sizes: Sizes, rng: random.Random, built: Built) -> None:
    del sizes
    for env in ENVIRONMENTS:
        when = datetime.now(UTC) - timedelta(days=60)
        live = 1
        ws.deployments.transition(
            env,
            expected_revision=None,
            action="deploy",
            reason=f"deploy churn@{live} with canary: first deployment",
            at=when,
            strategy="canary",
            state="stable",
            variants=(Variant("churn", live, "champion", 100.0),),
            steps=(20, 100),
        )
        revision = 1
        for step in range(25):
            when += timedelta(days=2)
            candidate = min(built.versions, live + rng.randint(1, 20))
            forced = step % 6 == 5
            ws.deployments.transition(
                env,
                expected_revision=revision,
                action="deploy",
                reason=f"deploy churn@{candidate} with canary",
                at=when,
                details={"force_reason": "hotfix, gate overridden" if forced else None},
                state="progressing",
                variants=(
                    Variant("churn", live, "champion", 80.0),
                    Variant("churn", candidate, "challenger", 20.0),
                ),
                step_index=0,
                step_started_at=when,
            )
            revision += 1
            passed = rng.random() < 0.7
            analysis = {"verdict": "pass" if passed else "fail", "reasons": ["error rate ok"]}
            ws.deployments.transition(
                env,
                expected_revision=revision,
                action="promote" if passed else "rollback",
                reason="analysis passed" if passed else "analysis failed: accuracy worse",
                at=when + timedelta(minutes=30),
                details={"analysis": analysis},
                state="promoted" if passed else "rolled_back",
                variants=(Variant("churn", candidate if passed else live, "champion", 100.0),),
            )
            revision += 1
            live = candidate if passed else live


def _build_monitoring(ws: Workspace, sizes: Sizes, rng: random.Random, built: Built) -> None:
    records = ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
    start = datetime.now(UTC) - timedelta(days=40)
    for i in range(sizes.reports):
        env = ENVIRONMENTS[i % 5 == 4]
        window_start = start + timedelta(hours=4 * i)
        drift = _drift(rng, i)
        accuracy = rng.uniform(0.6, 0.8)
        performance = {
            "metric": "accuracy",
            "value": accuracy,
            "ci": [accuracy - 0.03, accuracy + 0.03],
            "confidence": 0.95,
            "labels": 1000,
            "method": "wilson",
            "reference": 0.72,
            "tolerance": 0.02,
            "degraded": accuracy < 0.7,
            "series": [
                {
                    "start": (window_start + timedelta(minutes=10 * k)).isoformat(),
                    "end": (window_start + timedelta(minutes=10 * k + 9)).isoformat(),
                    "value": accuracy + rng.uniform(-0.05, 0.05),
                    "labels": 100,
                }
                for k in range(10)
            ],
        }
        quality = {
            "columns": {f: {"status": "ok", "missing_share": 0.0} for f in FEATURES},
            "issues": [],
            "unexpected_columns": [],
        }
        verdict = "degraded" if accuracy < 0.7 else "drift" if drift["dataset_drift"] else "ok"
        reference = {"datasets": ["customers@3"], "metric": "accuracy", "registered_metric": 0.72}
        full = {"drift": drift, "performance": performance, "quality": quality}
        content = ws.artifacts.put_bytes(json.dumps(full, default=str).encode())
        report = records.add_report(
            ws.actor,
            environment=env,
            model="churn",
            version=1 + i * built.versions // sizes.reports,
            revision=1 + i // 4,
            window_start=window_start,
            window_end=window_start + timedelta(hours=2),
            rows=1000,
            labelled_rows=1000,
            verdict=verdict,
            message=f"{len(drift['drifted'])} of {len(FEATURES)} features drifted",
            reference=reference,
            drift=drift,
            performance=performance,
            quality=quality,
            content_hash=content.hash,
        )
        built.report = report.id
        if verdict != "ok":
            records.update_incident(
                ws.actor,
                incident_key=f"{env}:churn:{verdict}",
                kind=verdict,
                active=True,
                details={"environment": env, "model": "churn@1", "report": report.id},
            )


def _drift(rng: random.Random, i: int) -> dict[str, Any]:
    features: dict[str, Any] = {}
    for f in FEATURES:
        score = rng.random() ** (3 if i % 4 == 0 else 1)
        entry: dict[str, Any] = {
            "feature": f,
            "statistic": "p_value",
            "score": score,
            "threshold": 0.01,
            "drifted": score < 0.01,
            "window_size": 1000,
            "reference_size": 6000,
        }
        if f in CATEGORIES:
            n = len(CATEGORIES[f])
            entry |= {
                "test": "chi_square",
                "kind": "categorical",
                "overlay": {
                    "categories": CATEGORIES[f],
                    "reference": [1 / n] * n,
                    "window": [rng.random() for _ in range(n)],
                },
            }
        else:
            entry |= {
                "test": "ks",
                "kind": "numeric",
                "overlay": {
                    "edges": [5.0 * k for k in range(21)],
                    "reference": [1 / 22] * 22,
                    "window": [rng.random() / 11 for _ in range(22)],
                },
            }
        features[f] = entry
    drifted = [f for f, e in features.items() if e["drifted"]]
    share = len(drifted) / len(FEATURES)
    return {
        "features": features,
        "tested": len(FEATURES),
        "drifted": drifted,
        "share": share,
        "threshold_share": 0.3,
        "dataset_drift": share >= 0.3,
    }


# -- serving and timing ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """``conveyor ui`` over the project at ``root`` in its own process; its base URL."""
    port = _free_port()
    env = {**os.environ, "CONVEYOR_ACTOR": "bench"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "ui", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/audit", timeout=30)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"conveyor ui did not start: {err[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Timing:
    """Server and client times of one page (milliseconds)."""

    label: str
    path: str
    status: int
    server: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    size: int = 0


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def time_pages(base: str, pages: Sequence[tuple[str, str]], requests: int) -> list[Timing]:
    """Ask each page once to warm up, then ``requests`` times, one after the other.

    A page whose warm-up took over ``SLOW_S`` seconds is asked 3 times only.
    """
    out = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for label, path in pages:
            start = time.perf_counter()
            first = client.get(path)
            slow = time.perf_counter() - start > SLOW_S
            timing = Timing(label, path, first.status_code, size=len(first.content))
            if first.status_code == 200:
                for _ in range(min(requests, 3) if slow else requests):
                    start = time.perf_counter()
                    response = client.get(path)
                    timing.wall.append((time.perf_counter() - start) * 1000)
                    header = response.headers.get("server-timing", "")
                    if "dur=" in header:
                        timing.server.append(float(header.split("dur=")[1].split(",")[0]))
            out.append(timing)
    return out


_NAVIGATION = "() => performance.getEntriesByType('navigation')[0].toJSON()"
_ALL_DRAWN = """() => Array.from(document.querySelectorAll('[data-figure]'))
    .every(e => e.getAttribute('data-drawn') === 'true')"""


def time_browser(base: str, pages: Sequence[tuple[str, str]], loads: int) -> list[dict[str, Any]]:
    """Median time to the load event and to every chart drawn, per page (milliseconds)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as pw:
        # A short TMPDIR: Chromium's singleton socket lives there (Unix socket paths are
        # limited to 107 bytes; a test's tmp_path is longer).
        short = {**os.environ, "TMPDIR": "/tmp" if Path("/tmp").is_dir() else tempfile.gettempdir()}
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=short)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        for label, path in pages:
            times: dict[str, list[float]] = {"load": [], "drawn": [], "html": [], "scripts": []}
            charts, status = 0, 0
            for attempt in range(loads + 1):
                page = context.new_page()
                response = page.goto(base + path, wait_until="load", timeout=120_000)
                status = response.status if response is not None else 0
                page.wait_for_function(_ALL_DRAWN, timeout=120_000)
                now = page.evaluate("() => performance.now()")
                nav = page.evaluate(_NAVIGATION)
                charts = page.locator("[data-figure]").count()
                page.close()
                if attempt:  # the first load warms the cache (static files)
                    times["load"].append(float(nav["loadEventEnd"]))
                    times["drawn"].append(float(now))
                    times["html"].append(float(nav["responseEnd"]))
                    scripts = nav["domContentLoadedEventStart"] - nav["domInteractive"]
                    times["scripts"].append(float(scripts))
            row: dict[str, Any] = {"label": label, "status": status, "charts": charts}
            out.append(row | {k: statistics.median(v) for k, v in times.items()})
        browser.close()
    return out


# -- MLflow -----------------------------------------------------------------------------------

_MLFLOW_SCRIPT = r"""
import json, os, sqlite3, statistics, sys, time, uuid
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

db, spec_file, logged, requests = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
runs = json.load(open(spec_file))
client = MlflowClient(f"sqlite:///{db}")
exp = client.create_experiment("bench")
out = {"version": __import__("mlflow").__version__}

def points(spec):
    at = spec["start"]
    found = [Metric(k, v, at, 0) for k, v in spec["metrics"].items()]
    for step, loss in enumerate(spec.get("loss", [])):
        found.append(Metric("loss", loss, at + step, step))
        found.append(Metric("val_loss", loss + 0.05, at + step, step))
    return found

start = time.perf_counter()
ids = []
for spec in runs[:logged]:
    run = client.create_run(exp, start_time=spec["start"], run_name=spec["name"])
    params = [Param(k, str(v)) for k, v in spec["params"].items()]
    metrics = points(spec)
    for lo in range(0, max(len(metrics), 1), 1000):
        batch = metrics[lo:lo + 1000]
        client.log_batch(run.info.run_id, metrics=batch, params=params if lo == 0 else [])
    client.set_terminated(run.info.run_id, end_time=spec["end"])
    ids.append(run.info.run_id)
out["logged_s"] = time.perf_counter() - start
out["logged"] = len(ids)

# The other runs: copies of the logged rows (same columns, new ids, names, times, values).
con = sqlite3.connect(db)
def rows(table, run_id):
    cur = con.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (run_id,))
    return [d[0] for d in cur.description], cur.fetchall()
run_cols, (run_row,) = rows("runs", ids[0])
tag_cols, tag_rows = rows("tags", ids[0])
metric_cols, _ = rows("metrics", ids[0])
latest_cols, _ = rows("latest_metrics", ids[0])
param_cols, _ = rows("params", ids[0])
def insert(table, cols, values):
    marks = ", ".join("?" for _ in cols)
    con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", values)
start = time.perf_counter()
new_runs, new_tags, new_metrics, new_latest, new_params = [], [], [], [], []
old_id = ids[0]
for spec in runs[logged:]:
    rid = uuid.uuid4().hex
    row = dict(zip(run_cols, run_row))
    row.update(run_uuid=rid, name=spec["name"], start_time=spec["start"], end_time=spec["end"],
               artifact_uri=str(row["artifact_uri"]).replace(old_id, rid))
    new_runs.append([row[c] for c in run_cols])
    for tag in tag_rows:
        t = dict(zip(tag_cols, tag))
        t.update(run_uuid=rid, value=spec["name"] if t["key"] == "mlflow.runName" else t["value"])
        new_tags.append([t[c] for c in tag_cols])
    for k, v in spec["params"].items():
        new_params.append([{"key": k, "value": str(v), "run_uuid": rid}[c] for c in param_cols])
    latest = {}
    for m in points(spec):
        values = {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step,
                  "is_nan": False, "run_uuid": rid}
        new_metrics.append([values[c] for c in metric_cols])
        latest[m.key] = values
    for values in latest.values():
        new_latest.append([values[c] for c in latest_cols])
    ids.append(rid)
with con:
    insert("runs", run_cols, new_runs)
    insert("tags", tag_cols, new_tags)
    insert("params", param_cols, new_params)
    insert("metrics", metric_cols, new_metrics)
    insert("latest_metrics", latest_cols, new_latest)
con.close()
out["copied_s"] = time.perf_counter() - start
out["runs"] = len(ids)

def timed(call):
    t = time.perf_counter()
    call()
    slow = time.perf_counter() - t > 2.0  # a call slower than 2 s is timed 3 times only
    times = []
    for _ in range(min(requests, 3) if slow else requests):
        t = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - t) * 1000)
    return times, result

shown = {}
for label, order in (("metric", "metrics.roc_auc DESC"), ("start", "attributes.start_time DESC")):
    times, page = timed(lambda: client.search_runs([exp], order_by=[order], max_results=50))
    out[label] = times
    shown[label] = len(page)
history_run = ids[0]
out["get_run"], run = timed(lambda: client.get_run(history_run))
out["shown"] = shown
out["get_run_metrics"] = len(run.data.metrics)
print("RESULT " + json.dumps(out))
"""


def mlflow_missing() -> str | None:
    """Why the MLflow baseline cannot run (``None`` when it can)."""
    try:
        import mlflow  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        return f"MLflow is not installed ({exc}); install conveyor's mlflow extra to compare."
    return None


def mlflow_has_ui() -> bool:
    """Whether the installed MLflow ships its web UI (mlflow-skinny does not)."""
    import mlflow

    return (Path(mlflow.__file__).parent / "server" / "js" / "build" / "index.html").is_file()


def bench_mlflow(
    work: Path, built: Built, requests: int, console: Console
) -> dict[str, Any] | None:
    """Time MLflow's calls over the same runs in a process of its own."""
    specs = []
    for i, run in enumerate(built.runs):
        start = int(run["start"].timestamp() * 1000)
        spec: dict[str, Any] = {
            "name": "training",
            "start": start,
            "end": start + int(run["metrics"]["train_seconds"] * 1000),
            "params": run["params"],
            "metrics": run["metrics"],
        }
        if i % 20 == 0:
            spec["loss"] = [0.7 * math.exp(-s / 30) for s in range(100)]
        specs.append(spec)
    spec_file = work / "mlflow_runs.json"
    spec_file.write_text(json.dumps(specs))
    script = work / "mlflow_bench.py"
    script.write_text(_MLFLOW_SCRIPT)
    logged = min(MLFLOW_LOGGED, len(specs))
    env = {**os.environ, "GIT_PYTHON_REFRESH": "quiet", "MLFLOW_TRACKING_URI": ""}
    command = [sys.executable, str(script), str(work / "mlflow.db"), str(spec_file)]
    done = subprocess.run(
        [*command, str(logged), str(requests)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        console.print(f"[yellow]MLflow benchmark failed:[/] {done.stderr.strip()[-1500:]}")
        return None
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


# -- report -----------------------------------------------------------------------------------


def _pages(built: Built, sizes: Sizes) -> list[tuple[str, str]]:
    last = (min(99, (sizes.runs - 1) // PAGE_SIZE)) * PAGE_SIZE
    compare = ",".join(built.history_runs[:3])
    return [
        ("overview /", "/"),
        ("runs, page 1", "/runs"),
        ("runs, sorted by roc_auc", "/runs?sort=metric:roc_auc"),
        (f"runs, page {last // PAGE_SIZE + 1}", f"/runs?offset={last}"),
        ("run with history + steps", f"/runs/{built.history_runs[1]}"),
        ("tuning study", f"/runs/{built.study}"),
        ("compare 3 runs", f"/runs/compare?ids={compare}"),
        ("models", "/models"),
        (f"model churn ({built.versions} versions)", f"/models/{built.model}"),
        ("model version", f"/models/{built.model}/versions/{built.versions}"),
        ("deployments", "/deployments"),
        ("deployments/production", "/deployments/production"),
        (f"monitoring ({sizes.reports} reports)", "/monitoring"),
        ("monitoring report", f"/monitoring/reports/{built.report}"),
        ("audit", "/audit"),
    ]


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def main(argv: Sequence[str] | None = None) -> None:
    """Build the workspace, time the pages, the browser and MLflow; print the figures."""
    args = list(argv or ())
    sizes = Sizes.at(0.01 if "--quick" in args else scale())
    console = Console()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-ui-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        built = build(work / "project", sizes, rng)
        build_s = time.perf_counter() - start
        parts = ", ".join(f"{k} {v:,.1f} s" for k, v in built.seconds.items())
        console.print(
            f"Built a workspace of {sizes.runs:,} runs, {built.versions:,} versions of churn, "
            f"{sizes.reports:,} monitoring reports in {build_s:,.1f} s ({parts})"
        )
        pages = _pages(built, sizes)
        loadavg = os.getloadavg()
        with serve(work / "project") as base:
            timings = time_pages(base, pages, sizes.requests)
            browser: list[dict[str, Any]] | str
            missing = _browser_missing()
            if missing is None:
                shown = [pages[i] for i in (1, 4, 8, 12)]
                browser = time_browser(base, shown, sizes.loads)
            else:
                browser = missing
        theirs = None
        skipped = mlflow_missing() if external_baselines() else "CONVEYOR_BENCH_BASELINES=0"
        if skipped is None:
            theirs = bench_mlflow(work, built, sizes.requests, console)
    load = ", ".join(f"{v:.1f}" for v in loadavg)
    console.print(f"Load average before timing (1, 5, 15 min; {os.cpu_count()} cores): {load}")
    _print_pages(console, timings, sizes)
    _print_browser(console, browser, sizes)
    if theirs is not None:
        _print_mlflow(console, theirs, timings)
    elif skipped is not None and external_baselines():
        console.print(f"[yellow]No MLflow baseline:[/] {skipped}")


def _browser_missing() -> str | None:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed at {CHROMIUM}: the browser timings are skipped."
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: the browser timings are skipped."
    return None


def _print_pages(console: Console, timings: Sequence[Timing], sizes: Sizes) -> None:
    table = Table(
        title=f"Web UI pages, {sizes.runs:,} runs: server time (n requests after a warm-up, ms)"
    )
    for column in ("page", "status", "n", "server p50", "server p95", "wall p50", "wall p95", "KB"):
        table.add_column(column, justify="left" if column == "page" else "right")
    over = []
    for t in timings:
        if not t.server:
            note = "not yet there" if t.status == 404 else "no server-timing"
            table.add_row(t.label, f"{t.status} ({note})", "-", "-", "-", "-", "-", "-")
            continue
        p50 = statistics.median(t.server)
        if p50 > AIM_MS or _p95(t.server) > AIM_MS:
            over.append(f"{t.label} ({t.path}): p50 {p50:,.0f} ms, p95 {_p95(t.server):,.0f} ms")
        table.add_row(
            t.label,
            str(t.status),
            str(len(t.server)),
            _ms(p50),
            _ms(_p95(t.server)),
            _ms(statistics.median(t.wall)),
            _ms(_p95(t.wall)),
            f"{t.size / 1024:,.0f}",
        )
    console.print(table)
    if over:
        console.print(f"Pages over {AIM_MS:.0f} ms server time: " + "; ".join(over))
    else:
        console.print(f"Every page that answered is under {AIM_MS:.0f} ms server time.")


def _print_browser(console: Console, browser: list[dict[str, Any]] | str, sizes: Sizes) -> None:
    if isinstance(browser, str):
        console.print(browser)
        return
    table = Table(title=f"Chromium, median of {sizes.loads} loads (ms)")
    columns = ("page", "status", "charts", "HTML in", "deferred scripts", "load event", "drawn")
    for column in columns:
        table.add_column(column, justify="left" if column == "page" else "right")
    for row in browser:
        table.add_row(
            row["label"],
            str(row["status"]),
            str(row["charts"]),
            *(_ms(row[k]) for k in ("html", "scripts", "load", "drawn")),
        )
    console.print(table)
    console.print(
        "Times from navigation start; deferred scripts: from the parsed page to "
        "DOMContentLoaded (running /static/plotly.min.js and ui.js, from the cache)."
    )


def _print_mlflow(console: Console, theirs: dict[str, Any], timings: Sequence[Timing]) -> None:
    by_label = {t.label: t for t in timings}
    version = theirs["version"]
    table = Table(
        title=f"conveyor pages vs MLflow {version} MlflowClient calls, same {theirs['runs']:,} "
        "runs (SQLite, ms)"
    )
    for column in ("what", "conveyor page p50", "MLflow call p50", "MLflow p95", "conveyor/MLflow"):
        table.add_column(column, justify="left" if column == "what" else "right")
    pairs = (
        ("first 50 by a metric", "runs, sorted by roc_auc", "metric", "search_runs"),
        ("first 50 by start time", "runs, page 1", "start", "search_runs"),
        ("one run", "run with history + steps", "get_run", "get_run"),
    )
    for what, label, key, call in pairs:
        ours = by_label.get(label)
        mine = statistics.median(ours.server) if ours is not None and ours.server else None
        them = statistics.median(theirs[key])
        table.add_row(
            f"{what} ({call})",
            "-" if mine is None else _ms(mine),
            _ms(them),
            _ms(_p95(theirs[key])),
            "-" if mine is None else f"{mine / them:,.2f}",
        )
    console.print(table)
    logged = theirs["logged"]
    console.print(
        f"MLflow store: {logged} runs logged through MlflowClient in {theirs['logged_s']:,.1f} s "
        f"({theirs['logged_s'] / logged * 1000:,.0f} ms a run), the other "
        f"{theirs['runs'] - logged:,} copied in {theirs['copied_s']:,.1f} s."
    )
    if not mlflow_has_ui():
        console.print(
            "mlflow-skinny has no web UI (`mlflow server` serves no pages without the full "
            "mlflow package): compared are conveyor's rendered pages (server time) with "
            "MLflow's server-side calls, not rendered pages."
        )


if __name__ == "__main__":
    main(sys.argv[1:])
