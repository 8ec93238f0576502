"""The features pages of the web UI.

``/features`` lists the applied feature views (entities, source, features, ttl and their
last materialization) and services; ``/features/{name}`` shows one view, service or entity:
its recorded spec, its versions and, for a view, its materializations, for a service the
model versions tagged with it. The pages read the feature records alone and never import
the project's ``features.py``, so a definitions file that no longer loads breaks no page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from conveyor.core import validate_name
from conveyor.features import SERVICE_TAG, DefinitionRecord
from conveyor.ui._core import UI, PageRequest
from conveyor.workspace import Workspace

__all__ = ["add_pages", "service_rows", "ttl_text", "view_row"]

#: Materializations shown on a view's page, newest first.
MATERIALIZATIONS_SHOWN = 50
#: Newest versions of each model scanned for the tag of a service.
MODEL_VERSIONS_SCANNED = 200
#: The kind of name ``/features/{name}`` takes, for error messages.
_KIND = "feature definition name"


def add_pages(ui: UI) -> None:
    """Add the features pages to ``ui``."""

    @ui.page("/features", name="features.list")
    def features_page(page: PageRequest) -> Response:
        records = page.ws.features.list()
        views = [view_row(r) for r in records if r.kind == "view"]
        for view in views:
            last = page.ws.features.records.materializations(view["name"], limit=1)
            view["last"] = last[0] if last else None
        return ui.render(
            page,
            "features.html.j2",
            views=views,
            services=service_rows([r for r in records if r.kind == "service"], {}),
            entities=[r for r in records if r.kind == "entity"],
        )

    @ui.page("/features/{name}", name="features.show")
    def feature_page(page: PageRequest, name: str) -> Response:
        name = validate_name(name, kind=_KIND)
        history = page.ws.features.show(name)
        latest = history[-1]
        context: dict[str, Any] = {"record": latest, "history": list(reversed(history))}
        records = page.ws.features.records
        if latest.kind == "view":
            context["view"] = view_row(latest)
            context["materializations"] = records.materializations(
                name, limit=MATERIALIZATIONS_SHOWN
            )
            context["services"] = [
                s
                for s in service_rows(records.latest("service"), {})
                if any(f["view"] == name for f in s["features"])
            ]
        elif latest.kind == "service":
            views = {r.name: view_row(r) for r in records.latest("view")}
            context["service"] = service_rows([latest], views)[0]
            context["models"] = _tagged_versions(page.ws, name)
        return ui.render(page, "feature_show.html.j2", **context)

    @ui.page("/features/{rest:path}", name="features.unknown")
    def unknown_page(page: PageRequest, rest: str) -> Response:
        validate_name(rest, kind=_KIND)  # refuses '../etc' and other paths
        raise LookupError(f"No page at /features/{rest}: open a view or service from /features.")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def ttl_text(seconds: Any) -> str:
    """A view's ``ttl_s`` for people: ``2 days``, ``6 h``, ``90 s``; ``none`` when unset."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        return "none"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {'day' if unit == 'days' and count == 1 else unit}"
    return f"{seconds:g} s"


def view_row(record: DefinitionRecord) -> dict[str, Any]:
    """What the pages show of a view's recorded spec (read defensively: it is JSON)."""
    spec = record.spec
    transform = spec.get("transformation")
    dataset = _text(spec.get("dataset"))
    return {
        "name": record.name,
        "version": record.version,
        "record": record,
        "entities": [
            {
                "name": _text(e.get("name")),
                "join_keys": [_text(k) for k in e.get("join_keys") or [] if k is not None],
            }
            for e in _mappings(spec.get("entities"))
        ],
        "dataset": dataset,
        "dataset_name": dataset.partition("@")[0],
        "transformation": (
            {
                "name": _text(transform.get("name")),
                "source_hash": _text(transform.get("source_hash")),
            }
            if isinstance(transform, Mapping)
            else None
        ),
        "features": [
            {
                "name": _text(f.get("name")),
                "dtype": _text(f.get("dtype")),
                "default": f.get("default"),
            }
            for f in _mappings(spec.get("schema"))
        ],
        "ttl": ttl_text(spec.get("ttl_s")),
        "timestamp_field": _text(spec.get("timestamp_field")),
    }


def service_rows(
    records: list[DefinitionRecord], views: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """What the pages show of services: each feature ``view:feature`` with its type and
    default when ``views`` (name -> :func:`view_row`) holds its view."""
    out = []
    for record in records:
        features = []
        refs = record.spec.get("features")
        for ref in refs if isinstance(refs, list) else []:
            view, _, feature = _text(ref).partition(":")
            declared: Mapping[str, Any] = next(
                (f for f in views.get(view, {}).get("features", []) if f["name"] == feature), {}
            )
            features.append(
                {
                    "ref": _text(ref),
                    "view": view,
                    "feature": feature,
                    "dtype": declared.get("dtype"),
                    "default": declared.get("default"),
                }
            )
        out.append(
            {
                "name": record.name,
                "version": record.version,
                "record": record,
                "features": features,
                "on_missing": _text(record.spec.get("on_missing", "error")),
            }
        )
    return out


def _tagged_versions(ws: Workspace, service: str) -> list[dict[str, Any]]:
    """The model versions (newest of each model first) tagged with ``service``."""
    out = []
    for summary in ws.models.list():
        _, versions = ws.models.versions_page(summary.name, limit=MODEL_VERSIONS_SCANNED)
        for v in versions:
            tag = v.tags.get(SERVICE_TAG)
            if isinstance(tag, str) and tag.partition("@")[0] == service:
                out.append({"version": v, "service": tag})
    return out
