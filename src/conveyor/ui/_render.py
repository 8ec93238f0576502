"""Templates (Jinja2, autoescaped everywhere) and the small helpers pages share.

Charts are plotly figures given as plain dicts (``{"data": [...], "layout": {...}}``) and
drawn in the browser by the plotly.js that ships inside the installed ``plotly`` package:
building ``plotly.graph_objects`` figures validates every property and costs milliseconds
a page cannot spare. A figure travels as JSON inside ``<script type="application/json">``
(Jinja's ``tojson`` escapes ``<``, ``>``, ``&`` and quotes), read by ``static/ui.js``.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse, Response

__all__ = ["SECURITY_HEADERS", "Renderer", "fmt_number", "url"]

#: Sent with every page: no framing, no sniffing, no referrer, nothing cached, and
#: scripts and styles only from this server (plotly.js needs inline styles and eval for
#: some traces, so those two are allowed for styles and scripts it runs).
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def url(path: str, /, **query: Any) -> str:
    """``path`` with ``query`` (``None`` values left out), each value URL-quoted."""
    shown = {k: v for k, v in query.items() if v is not None and v != ""}
    if not shown:
        return path
    return path + "?" + urllib.parse.urlencode(shown, doseq=True)


def segment(value: Any) -> str:
    """``value`` quoted as one path segment (a name with ``/`` or ``?`` stays one)."""
    return urllib.parse.quote(str(value), safe="")


def fmt_number(value: Any, digits: int = 4) -> str:
    """A metric or parameter value, short: ``0.9123``, ``1.2e+06``, ``nan``, text as is."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.{max(digits - 1, 1)}e}"
        return (
            f"{value:.{digits}g}"
            if abs(value) >= 1
            else f"{value:.{digits}f}".rstrip("0").rstrip(".")
        )
    return str(value)


def fmt_time(value: Any) -> str:
    """A timestamp as ``2026-12-07 05:31:02`` (UTC); ISO strings are parsed first."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    return str(value)


def fmt_ago(value: Any) -> str:
    """How long ago ``value`` was: ``12 s``, ``5 min``, ``3 h``, ``2 d``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - value).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def fmt_duration(seconds: Any) -> str:
    """A duration in seconds, short: ``850 ms``, ``12.3 s``, ``4 min 2 s``."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


class Renderer:
    """The templates of ``conveyor/ui/templates``, compiled once, autoescaped."""

    def __init__(self) -> None:
        env = Environment(
            loader=PackageLoader("conveyor.ui", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        env.filters.update(
            num=fmt_number, time=fmt_time, ago=fmt_ago, duration=fmt_duration, seg=segment
        )
        env.globals.update(url=url, seg=segment)
        self.env = env

    def render(self, template: str, **context: Any) -> str:
        """``template`` rendered with ``context``."""
        return str(self.env.get_template(template).render(**context))

    def response(self, template: str, *, status: int = 200, **context: Any) -> Response:
        """``template`` as an HTML response with :data:`SECURITY_HEADERS`."""
        return HTMLResponse(
            self.render(template, **context), status_code=status, headers=dict(SECURITY_HEADERS)
        )
