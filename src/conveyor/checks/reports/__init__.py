"""Reports of a check suite and its gate decision: Markdown, JUnit XML, JSON and HTML.

Markdown is ready to post as a pull-request comment (verdict first, then a table of checks,
then details of what failed); JUnit XML makes every check a test case any CI system shows;
JSON carries everything as strict JSON; HTML is one self-contained file with plotly.js
inlined, so its plots (champion comparison, slice bars, calibration curve, per-feature
distributions) work offline. :func:`write_reports` writes all four.
"""

from __future__ import annotations

from conveyor.checks.reports._html import render_html
from conveyor.checks.reports._text import (
    REPORT_FILES,
    render_json,
    render_junit,
    render_markdown,
    write_reports,
)

__all__ = [
    "REPORT_FILES",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "write_reports",
]
