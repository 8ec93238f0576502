"""The model version page of the web UI: one version's card and lineage.

What the version is (metrics, signature, importance), how its gates decided, where it
serves and served, its monitoring reports, the run and datasets it came from, its
signatures, manifest and cost, and a lineage graph from datasets to monitoring.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from markupsafe import Markup

from conveyor.checks import CheckRecord, list_decisions, list_results
from conveyor.deployments import Transition
from conveyor.errors import ConveyorError
from conveyor.features import SERVICE_TAG
from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords
from conveyor.registry import ModelVersion
from conveyor.ui import _model_status as status
from conveyor.ui._graph import Edge, Node, render_svg
from conveyor.ui._render import segment
from conveyor.workspace import Workspace

__all__ = ["version_context"]

#: How many of the model's newest monitoring reports a version page looks through.
REPORTS_SCANNED = 200
#: Features drawn in the importance chart, largest first.
IMPORTANCE_SHOWN = 25


def version_context(ws: Workspace, v: ModelVersion) -> dict[str, Any]:
    """What the version page shows about ``v``."""
    histories = status.deployment_histories(ws)
    overrides = status.overrides(ws, v.name, histories).get((v.name, v.version), [])
    decision = (
        v.evaluation.get("decision") if isinstance(v.evaluation.get("decision"), dict) else None
    )
    decisions = list_decisions(ws, "model", v.ref)
    results = list_results(ws, "model", v.ref)
    by_suite: dict[str, list[CheckRecord]] = defaultdict(list)
    for r in results:
        by_suite[r.suite_id].append(r)
    gates = [
        {"decision": d, "results": by_suite.pop(d.suite_id, []), "index": i}
        for i, d in enumerate(reversed(decisions), start=1)
    ]
    other_suites = [{"suite_id": s, "results": rs} for s, rs in by_suite.items()]
    serving = [s for s in status.serving(ws).get(v.name, []) if s["version"] == v.version]
    past = _past_deployments(histories, v, {s["environment"] for s in serving})
    reports = _reports(ws, v)
    run, parent, run_error = _runs(ws, v.run_id)
    datasets = _datasets(ws, v)
    signatures, signature_error = _signatures(ws, v)
    manifest, manifest_error = _manifest(ws, v)
    cost, cost_error = _cost(ws, v)
    inputs = list((v.signature or {}).get("inputs") or [])
    outputs = list((v.signature or {}).get("outputs") or [])
    sources = v.evaluation.get("metric_sources")
    sources = sources if isinstance(sources, dict) else {}
    return {
        "v": v,
        "decision": decision,
        "state": status.state(decision.get("verdict") if decision else None, overrides),
        "overrides": overrides,
        "gates": gates,
        "other_suites": other_suites,
        "card_checks": v.evaluation.get("checks")
        if isinstance(v.evaluation.get("checks"), dict)
        else {},
        "metrics": [(k, v.metrics[k], sources.get(k)) for k in sorted(v.metrics)],
        "importance_chart": _importance_figure(v.importance),
        "importance_reason": v.evaluation.get("importance_reason"),
        "inputs": inputs,
        "outputs": outputs,
        "pii": [c.get("name") for c in inputs if c.get("pii") is True],
        "serving": serving,
        "past": past,
        "reports": reports,
        "run": run,
        "parent": parent,
        "run_error": run_error,
        "datasets": datasets,
        "signatures": signatures,
        "signature_error": signature_error,
        "manifest": manifest,
        "manifest_error": manifest_error,
        "lineage_svg": _lineage_svg(v, datasets, run, parent, serving, past, reports),
        "feature_service": _feature_service(v),
        "cost": cost,
        "cost_error": cost_error,
    }


def _feature_service(v: ModelVersion) -> dict[str, str] | None:
    """The feature service the version is served with (its ``conveyor.feature_service`` tag)."""
    ref = v.tags.get(SERVICE_TAG)
    if not isinstance(ref, str) or not ref:
        return None
    return {"ref": ref, "name": ref.partition("@")[0]}


def _past_deployments(
    histories: dict[str, list[Transition]], v: ModelVersion, current: set[str]
) -> list[dict[str, Any]]:
    """Environments that served the version before but do not now: the last revision."""
    out = []
    for env, transitions in sorted(histories.items()):
        if env in current:
            continue
        last = None
        for t in transitions:
            if any(x.model == v.name and x.version == v.version for x in t.variants):
                last = t
        if last is not None:
            ended = next((t for t in transitions if t.revision > last.revision), None)
            out.append(
                {
                    "environment": env,
                    "revision": last.revision,
                    "state": ended.to_state if ended is not None else last.to_state,
                    "action": ended.action if ended is not None else last.action,
                    "at": ended.at if ended is not None else last.at,
                }
            )
    return out


def _reports(ws: Workspace, v: ModelVersion) -> dict[str, dict[str, Any]]:
    """Environment -> the count and newest verdicts of the version's monitoring reports."""
    records = ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
    out: dict[str, dict[str, Any]] = {}
    for report in reversed(records.report_summaries(None, model=v.name, limit=REPORTS_SCANNED)):
        if report.version != v.version:
            continue
        entry = out.setdefault(report.environment, {"count": 0, "newest": []})
        entry["count"] += 1
        if len(entry["newest"]) < 3:
            entry["newest"].append(report)
    return dict(sorted(out.items()))


def _runs(ws: Workspace, run_id: str | None) -> tuple[Any, Any, str | None]:
    if not run_id:
        return None, None, None
    try:
        run = ws.runs.get(run_id)
    except (ConveyorError, LookupError) as exc:
        return None, None, str(exc.args[0]) if exc.args else type(exc).__name__
    parent = None
    if run.parent_id:
        try:
            parent = ws.runs.get(run.parent_id)
        except (ConveyorError, LookupError):
            parent = None
    return run, parent, None


def _datasets(ws: Workspace, v: ModelVersion) -> list[dict[str, Any]]:
    """The lineage's dataset versions with their row counts and column profiles."""
    out = []
    source = ws.models.lineage
    for entry in v.lineage.get("datasets") or []:
        name, number = entry.get("name"), entry.get("version")
        facts = None
        if source is not None and isinstance(name, str) and isinstance(number, int):
            facts = source.dataset_version(name, number)
        columns = ((facts.profile or {}).get("columns") or {}) if facts is not None else {}
        out.append(
            {
                "name": str(name),
                "version": number,
                "content_hash": entry.get("content_hash") or "",
                "row_count": None if facts is None else facts.row_count,
                "columns": list(columns.items())[:50] if isinstance(columns, dict) else [],
                "recorded": facts is not None,
            }
        )
    return out


def _signatures(ws: Workspace, v: ModelVersion) -> tuple[Any, str | None]:
    try:
        keys = ws.settings.config.signing.public_keys
        return ws.models.verify_signatures(v.ref, keys), None
    except ConveyorError as exc:
        return None, exc.message


def _cost(ws: Workspace, v: ModelVersion) -> tuple[dict[str, Any] | None, str | None]:
    """The version's training and serving cost, formatted for the page (or why not)."""
    from conveyor.cost import amount, model_cost, money

    try:
        cost = model_cost(ws, v.ref)
    except ConveyorError as exc:
        return None, exc.message
    cur = cost.currency
    t = cost.training
    training = None
    if t is not None:
        training = {
            "root": t.root_run_id,
            "counts": f"{t.steps} step(s), {t.trials} trial(s), {t.cached_steps} cached",
            "use": f"{amount(t.cpu_s, 's')} CPU, {amount(t.gb_hours, 'GB-h')}, "
            f"wall {amount(t.wall_s, 's')}",
            "price": f"{money(t.cost, cur)} on demand, {money(t.spot_cost, cur)} on spot"
            if cost.priced
            else None,
        }
    serving = [
        {
            "environment": s.environment or "(direct)",
            "predictions": s.predictions,
            "cpu": amount(s.cpu_s, "s"),
            "busy": f"{s.busy_fraction:.1%}" if s.busy_fraction is not None else "-",
            "cost": money(s.cost, cur),
            "per_1000": money(s.per_1000, cur),
            "saving": money(s.scale_to_zero_saving, cur),
        }
        for s in cost.serving
    ]
    return {"training": training, "serving": serving, "notes": list(cost.notes)}, None


def _manifest(ws: Workspace, v: ModelVersion) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return ws.models.manifest(v), None
    except ConveyorError as exc:
        return None, exc.message


def _importance_figure(importance: dict[str, Any] | None) -> dict[str, Any] | None:
    values = [
        (str(k), float(x))
        for k, x in (importance or {}).items()
        if isinstance(x, int | float) and not isinstance(x, bool)
    ]
    if not values:
        return None
    values.sort(key=lambda kv: abs(kv[1]), reverse=True)
    shown = list(reversed(values[:IMPORTANCE_SHOWN]))
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [x for _, x in shown],
                "y": [k for k, _ in shown],
                "marker": {"color": "#4f7cac"},
            }
        ],
        "layout": {
            "margin": {"l": 150, "r": 20, "t": 10, "b": 40},
            "xaxis": {"title": {"text": "mean |SHAP value|"}},
            "height": max(160, 24 * len(shown) + 60),
        },
    }


def _lineage_svg(  # noqa: PLR0917 - one graph from every part of the page
    v: ModelVersion,
    datasets: list[dict[str, Any]],
    run: Any,
    parent: Any,
    serving: list[dict[str, Any]],
    past: list[dict[str, Any]],
    reports: dict[str, dict[str, Any]],
) -> Markup:
    """Datasets -> (pipeline run ->) run -> this version -> deployments -> monitoring."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    layer = 0
    for i, d in enumerate(datasets):
        nodes.append(
            Node(
                f"dataset-{i}",
                f"{d['name']}@{d['version']}",
                "dataset" + (f" · {d['row_count']:,} rows" if d["row_count"] is not None else ""),
                f"/datasets/{segment(d['name'])}/versions/{segment(d['version'])}",
                layer,
                "dataset",
            )
        )
    if datasets:
        layer += 1
    feeds = [n.id for n in nodes]
    if parent is not None:
        nodes.append(
            Node(
                "parent",
                parent.name,
                f"{parent.kind} run {parent.id[:8]}",
                f"/runs/{segment(parent.id)}",
                layer,
                "run",
            )
        )
        edges += [Edge(f, "parent") for f in feeds]
        feeds = ["parent"]
        layer += 1
    if v.run_id:
        label = run.name if run is not None else v.run_id[:12]
        sub = (
            f"{run.kind} run {run.id[:8]} · {run.status}" if run is not None else "run (not found)"
        )
        nodes.append(Node("run", label, sub, f"/runs/{segment(v.run_id)}", layer, "run"))
        edges += [Edge(f, "run") for f in feeds]
        feeds = ["run"]
        layer += 1
    nodes.append(
        Node(
            "model",
            v.ref,
            ", ".join(v.aliases) or v.status,
            f"/models/{segment(v.name)}/versions/{v.version}",
            layer,
            "model",
        )
    )
    edges += [Edge(f, "model") for f in feeds]
    layer += 1
    envs = [
        (s["environment"], f"rev {s['revision']} · {s['state']} · {s['role']} {s['weight']:g}%")
        for s in serving
    ]
    envs += [(p["environment"], f"was rev {p['revision']} · {p['state']}") for p in past]
    for env, sub in envs:
        node_id = f"deployment-{env}"
        nodes.append(Node(node_id, env, sub, f"/deployments/{segment(env)}", layer, "deployment"))
        edges.append(Edge("model", node_id))
    for env, entry in reports.items():
        verdicts = ", ".join(r.verdict for r in entry["newest"])
        node_id = f"monitoring-{env}"
        nodes.append(
            Node(
                node_id,
                f"monitoring · {env}",
                f"{entry['count']} report(s): {verdicts}",
                f"/monitoring?env={segment(env)}",
                layer + 1,
                "monitoring",
            )
        )
        source = f"deployment-{env}"
        edges.append(Edge(source if any(n.id == source for n in nodes) else "model", node_id))
    return render_svg(nodes, edges, id="lineage", title=f"Lineage of {v.ref}")
