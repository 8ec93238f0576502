"""The web UI: the whole loop in a browser, over a local workspace or the control plane.

Server-rendered pages (Jinja2, autoescaped), no build step and nothing from a CDN: the
charts are drawn by the plotly.js bundled in the installed ``plotly`` package. Pages:
the overview (per environment what serves, the rollout in progress, the latest monitoring
verdict, the agent's last decision, recent events), datasets, runs (table, run, compare),
models (versions, card, lineage), deployments (live split, history, canary analysis and,
for deployers, actions), monitoring (drift over time, alerts) and the audit trail.

``conveyor ui`` serves them over a local workspace on loopback without sign-in
(:func:`create_ui_app`); ``conveyor server`` serves them at ``/`` behind sign-in with an
API token (:func:`add_ui`): a session cookie (HttpOnly, SameSite=Strict, Secure behind
TLS), a CSRF token in every form, and the API's roles on every action.
"""

from __future__ import annotations

from conveyor.ui._app import LOCAL_HOSTS, PAGE_GROUPS, add_ui, build_ui, create_ui_app
from conveyor.ui._core import SESSION_COOKIE, UI, FormError, PageRequest, Viewer

__all__ = [
    "FormError",
    "LOCAL_HOSTS",
    "PAGE_GROUPS",
    "PageRequest",
    "SESSION_COOKIE",
    "UI",
    "Viewer",
    "add_ui",
    "build_ui",
    "create_ui_app",
]
