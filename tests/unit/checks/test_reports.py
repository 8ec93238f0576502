"""Reports: Markdown verdict first, JUnit parses, JSON strict, HTML self-contained with plots."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from checks_core_support import make_result, make_suite

from conveyor.checks import (
    SuiteResult,
    evaluate_gates,
    render_html,
    render_json,
    render_junit,
    render_markdown,
    write_reports,
)


@pytest.fixture
def suite() -> SuiteResult:
    return make_suite(
        make_result(
            "champion_comparison",
            details={
                "plot": {
                    "kind": "comparison",
                    "metric": "roc_auc",
                    "candidate": 0.95,
                    "champion": 0.93,
                    "delta": 0.02,
                    "ci": [0.001, 0.04],
                }
            },
        ),
        make_result(
            "calibration",
            "failed",
            severity="warning",
            value={"ece": 0.2, "brier": 0.1},
            threshold={"max_ece": 0.1},
            details={
                "plot": {
                    "kind": "calibration",
                    "mean_score": [0.1, 0.5, 0.9],
                    "positive_rate": [0.0, 0.6, 1.0],
                }
            },
        ),
        make_result(
            "slices",
            "error",
            value=None,
            details={
                "traceback": "Traceback: KeyError('age')",
                "plot": {
                    "kind": "bars",
                    "metric": "roc_auc",
                    "minimum": 0.8,
                    "segments": [{"column": "sex", "segment": "f", "value": 0.9}],
                },
            },
        ),
        make_result("min_metric", "failed", value=math.nan),
        make_result("latency", "skipped", value=None),
    )


def test_markdown_puts_the_verdict_first_then_table_then_details(suite: SuiteResult) -> None:
    decision = evaluate_gates(suite, has_champion=True)
    text = render_markdown(suite, decision)
    lines = text.splitlines()
    assert lines[0] == "**Gate: REJECT**"
    table = lines.index("| check | status | value | threshold | severity |")
    details = lines.index("### Details")
    assert 0 < table < details
    assert "| calibration | FAILED | ece=0.2, brier=0.1 | max_ece=0.1 | warning |" in lines
    assert "| min_metric | FAILED | NaN | 0.8 | error |" in lines
    assert "#### slices (ERROR, error)" in lines
    assert "#### latency" not in text  # only failures and errors get details


def test_junit_parses_with_one_testcase_per_check(suite: SuiteResult) -> None:
    root = ET.fromstring(render_junit(suite, evaluate_gates(suite, has_champion=True)))
    (testsuite,) = root.findall("testsuite")
    assert testsuite.get("tests") == "5"
    assert testsuite.get("failures") == "2"
    assert testsuite.get("errors") == "1"
    assert testsuite.get("skipped") == "1"
    cases = {case.get("name"): case for case in testsuite.findall("testcase")}
    assert list(cases) == [
        "champion_comparison",
        "calibration",
        "slices",
        "min_metric",
        "latency",
    ]
    failure = cases["calibration"].find("failure")
    assert failure is not None
    assert "calibration measured" in (failure.get("message") or "")
    error = cases["slices"].find("error")
    assert error is not None
    assert "KeyError('age')" in (error.text or "")
    assert cases["latency"].find("skipped") is not None
    passed = cases["champion_comparison"]
    assert passed.find("failure") is None
    assert passed.find("error") is None


def test_json_is_strict_and_carries_everything(suite: SuiteResult) -> None:
    decision = evaluate_gates(suite, has_champion=True)

    def refuse(name: str) -> None:
        raise AssertionError(f"non-strict JSON constant {name}")

    data = json.loads(render_json(suite, decision), parse_constant=refuse)
    assert data["decision"]["decision"] == "REJECT"
    results = data["suite"]["results"]
    assert [r["status"] for r in results] == ["passed", "failed", "error", "failed", "skipped"]
    assert results[3]["value"] is None  # NaN became null
    assert results[1]["value"] == {"ece": 0.2, "brier": 0.1}


def test_html_is_self_contained_and_has_the_plots(suite: SuiteResult) -> None:
    html = render_html(suite, evaluate_gates(suite, has_champion=True))
    external = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']?https?://""", html)
    assert external == []
    assert html.count("<script") >= 4
    assert "Plotly.newPlot" in html
    assert len(html) > 1_000_000  # plotly.js itself is inlined
    for div_id in ("plot-0-champion_comparison", "plot-1-calibration", "plot-2-slices"):
        assert f'id="{div_id}"' in html
    assert "Gate: REJECT" in html


def test_html_adds_distribution_plots_from_profiles(suite: SuiteResult) -> None:
    profile = {
        "columns": {
            "x": {"histogram": {"edges": [0.0, 1.0, 2.0], "counts": [3, 4]}},
            "c": {"top": [{"value": "a", "count": 2, "share": 1.0}]},
        }
    }
    html = render_html(suite, None, profiles={"current": profile, "reference": profile})
    assert 'id="dist-0"' in html
    assert 'id="dist-1"' in html


def test_write_reports_writes_all_four_formats(suite: SuiteResult, tmp_path: Path) -> None:
    paths = write_reports(suite, evaluate_gates(suite, has_champion=True), tmp_path / "r")
    assert sorted(paths) == ["html", "json", "junit", "markdown"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert paths["markdown"].read_text().startswith("**Gate: REJECT**")
