"""The models pages of the web UI: every model, one model's versions, one version's card.

Reads go through the workspace's registry, check records, deployments and monitoring
records. A model page reads one page of its versions (``versions_page``); whether
a version is signed comes from the audit trail (``model.sign`` events, one query), and a
gate overridden by a forced deployment from the deployments' histories (one query per
environment), so no page makes a query per version shown. Those shared reads (where
versions serve, overridden gates, newest decisions, signatures) are in
:mod:`conveyor.ui._model_status`; what the version page shows is gathered in
:mod:`conveyor.ui._model_version`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from conveyor.core import validate_name, validate_version
from conveyor.registry import ModelRef, ModelVersion, validate_alias
from conveyor.ui import _model_status as status
from conveyor.ui._core import UI, FormError, PageRequest
from conveyor.ui._model_version import version_context
from conveyor.workspace import Workspace

__all__ = ["add_pages", "model_ref"]

#: Versions shown per page of a model.
PAGE_SIZE = 50
#: Metric columns of a model's versions table (the most common names).
METRIC_COLUMNS = 6


def add_pages(ui: UI) -> None:
    """Add the models pages to ``ui``."""

    @ui.page("/models", name="models.list")
    def models_page(page: PageRequest) -> Response:
        ws = page.ws
        summaries = ws.models.list()
        serving = status.serving(ws)
        newest = status.newest_decisions(ws)
        overrides = status.overrides(ws)
        rows = []
        for s in summaries:
            decision = newest.get(s.name)
            state = None
            if decision is not None:
                forced = overrides.get((s.name, decision["version"]), [])
                state = status.state(decision["verdict"], forced)
            rows.append(
                {
                    "summary": s,
                    "serving": serving.get(s.name, []),
                    "decision": decision,
                    "state": state,
                }
            )
        return ui.render(page, "models.html.j2", rows=rows)

    @ui.page("/models/{name}", name="models.show")
    def model_page(page: PageRequest, name: str) -> Response:
        ws = page.ws
        name = validate_name(name, kind="model name")
        offset = page.query_int("offset", 0)
        limit = page.query_int("limit", PAGE_SIZE, low=1, high=500)
        total, shown = ws.models.versions_page(name, offset=offset, limit=limit)
        if offset and offset >= total:
            raise FormError(
                f"Query parameter 'offset' is {offset}; model {name!r} has {total} "
                f"version(s), so it must be below {total}.",
                hint="Open the first page of the versions.",
                parameter="offset",
            )
        serving = status.serving(ws).get(name, [])
        overrides = status.overrides(ws, name)
        signed = status.signed_versions(ws, name)
        metric_names = _metric_columns(shown)
        rows = [
            _version_row(v, serving, overrides.get((name, v.version), []), signed) for v in shown
        ]
        history = ws.models.alias_history(name)
        history.reverse()
        aliases = _aliases(ws, name)
        return ui.render(
            page,
            "models_show.html.j2",
            name=name,
            rows=rows,
            metric_names=metric_names,
            pager={"offset": offset, "limit": limit, "total": total},
            query={"limit": None if limit == PAGE_SIZE else limit},
            aliases=dict(sorted(aliases.items())),
            serving=serving,
            history=history,
            total=total,
        )

    @ui.page("/models/{name}/versions/{version}", name="models.version")
    def version_page(page: PageRequest, name: str, version: str) -> Response:
        ws = page.ws
        v = ws.models.get(model_ref(name, version))
        return ui.render(page, "model_version.html.j2", **version_context(ws, v))


def model_ref(name: str, version: str) -> ModelRef:
    """The reference of path parameters: a version number, an alias or ``latest``.

    Raises:
        InvalidNameError, InvalidVersionError: the name, number or alias is malformed.
    """
    name = validate_name(name, kind="model name")
    selector = validate_name(version, kind="model version or alias")
    if selector.lower() == "latest":
        return ModelRef(name)
    if selector.isascii() and selector.isdigit():
        return ModelRef(name, version=validate_version(selector, kind="model version", name=name))
    return ModelRef(name, alias=validate_alias(selector))


# -- one model's versions ----------------------------------------------------------------


def _aliases(ws: Workspace, name: str) -> dict[str, int]:
    """Alias -> version of model ``name``, sorted by alias."""
    for summary in ws.models.list():
        if summary.name == name:
            return dict(sorted(summary.aliases.items()))
    return {}


def _metric_columns(versions: Iterable[ModelVersion]) -> list[str]:
    counts: Counter[str] = Counter()
    for v in versions:
        counts.update(k for k in v.metrics if not k.startswith("shap."))
    return sorted(k for k, _ in counts.most_common(METRIC_COLUMNS))


def _version_row(
    v: ModelVersion,
    serving: list[dict[str, Any]],
    overrides: list[status.Override],
    signed: Counter[int],
) -> dict[str, Any]:
    decision = v.evaluation.get("decision")
    decision = decision if isinstance(decision, dict) else None
    return {
        "v": v,
        "serving": [s for s in serving if s["version"] == v.version],
        "decision": decision,
        "state": status.state(decision.get("verdict") if decision else None, overrides),
        "overrides": overrides,
        "signed": signed.get(v.version, 0),
    }
