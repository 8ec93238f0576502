"""The models pages: every model, one model's versions (paged), one version's card with
its gate, checks and lineage, on the demo's project and on workspaces made in the test."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.checks import GateDecision, Subject, list_decisions, list_results, record_decision
from conveyor.checks import record_suite as store_suite
from conveyor.registry import ModelRef
from conveyor.testing.records._checks import sample_result, sample_suite
from conveyor.testing.records._registry import sample_signature, sample_version
from conveyor.workspace import Workspace, init_project
from ui_support import demo_folder, local_ui

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]

HOSTILE = '<script>alert("owned")</script>'


@pytest.fixture(scope="module")
def demo_ws() -> Iterator[Workspace]:
    with Workspace.open(demo_folder()) as ws:
        yield ws


@pytest.fixture
def fresh_ws(tmp_path: Path) -> Iterator[Workspace]:
    init_project(tmp_path / "project")
    with Workspace.open(tmp_path / "project") as ws:
        yield ws


def _row(page: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, f"no row {row_id!r} on the page"
    return match.group(1)


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)))


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    end = page.find("</section>", start)
    return page[start:end]


# -- the demo's project ------------------------------------------------------------------


def test_models_list_shows_each_model_with_its_aliases_and_where_it_serves(
    demo_ws: Workspace,
) -> None:
    with local_ui(demo_ws) as client:
        response = client.get("/models")
    assert response.status_code == 200
    page = response.text
    assert 'id="models-table"' in page
    serving = {
        (v.model, v.version, d.environment)
        for d in demo_ws.deployments.environments()
        for v in d.variants
    }
    for summary in demo_ws.models.list():
        row = _text(_row(page, f"model-{summary.name}"))
        assert summary.name in row
        assert f"v{summary.latest_version}" in row
        for alias, version in summary.aliases.items():
            assert f"{alias} → v{version}" in row
        for model, version, env in serving:
            if model == summary.name:
                assert f"{env} : v{version}" in row


def test_model_page_lists_every_version_with_its_real_aliases_metrics_and_run(
    demo_ws: Workspace,
) -> None:
    versions = demo_ws.models.versions("recommender")
    with local_ui(demo_ws) as client:
        response = client.get("/models/recommender")
    assert response.status_code == 200
    page = response.text
    numbers = [int(n) for n in re.findall(r'<tr id="version-(\d+)"', page)]
    assert numbers == [v.version for v in versions]  # newest first
    for v in versions:
        row = _row(page, f"version-{v.version}")
        shown = set(re.findall(r'<span class="badge ">([^<]+)</span>', row))
        assert shown == set(v.aliases), (v.ref, shown)
        assert f'href="/runs/{v.run_id}"' in row
        accuracy = v.metrics.get("accuracy")
        assert accuracy is not None
        assert f"{accuracy:.4g}".rstrip("0") in _text(row)
        verdict = v.evaluation["decision"]["verdict"]
        assert f'href="/models/recommender/versions/{v.version}#gate"' in row
        states = {"PROMOTE": ["pass"], "REJECT": ["reject", "overridden"]}[verdict]
        assert any(state in _text(row).split() for state in states), (v.ref, _text(row))
    history = _text(page[page.index('id="alias-history"') :])
    for entry in demo_ws.models.history("recommender"):
        if entry.alias is not None:
            assert entry.alias in history
    assert "moved v1 → v2" in history


def test_champion_page_shows_its_gate_check_outcomes_and_resolving_lineage(
    demo_ws: Workspace,
) -> None:
    champion = demo_ws.models.get("recommender@champion")
    decisions = list_decisions(demo_ws, "model", champion.ref)
    results = list_results(demo_ws, "model", champion.ref)
    assert decisions
    assert results
    with local_ui(demo_ws) as client:
        response = client.get("/models/recommender/versions/champion")
        assert response.status_code == 200
        page = response.text
        assert f">{champion.ref}" in page
        gate = _text(_section(page, "gate"))
        assert "PROMOTE" in gate
        for reason in champion.evaluation["decision"]["reasons"]:
            assert _text(html.escape(reason)) in gate
        checks = _text(_section(page, "checks"))
        for record in results:
            assert record.result.name in checks
            assert _text(html.escape(record.result.explanation)) in checks
        assert decisions[-1].suite_id[:12] in checks
        # The card's facts come from the version record.
        assert f'<code id="content-hash">{champion.content_hash}</code>' in page
        assert 'id="importance-chart"' in page
        for column in (champion.signature or {}).get("inputs", []):
            assert column["name"] in _text(_section(page, "signature"))
        # The lineage: dataset -> run -> this version -> deployment -> monitoring.
        svg = page[page.index('<svg class="graph" id="lineage"') : page.index("</svg>")]
        links = [html.unescape(h) for h in re.findall(r'<a href="([^"]+)"', svg)]
        datasets = champion.lineage["datasets"]
        assert f"/datasets/{datasets[0]['name']}/versions/{datasets[0]['version']}" in links
        assert f"/runs/{champion.run_id}" in links
        assert f"/models/recommender/versions/{champion.version}" in links
        assert "/deployments/production" in links
        for link in links:
            followed = client.get(link)
            assert followed.status_code == 200, (link, followed.status_code)


def test_the_overridden_gate_of_the_broken_model_shows_with_its_reason(
    demo_ws: Workspace,
) -> None:
    forced = [
        t
        for t in demo_ws.deployments.history("production")
        if t.action == "deploy" and t.details.get("force_reason")
    ]
    assert forced, "the demo deploys a rejected model with a reason"
    transition = forced[-1]
    variant = next(v for v in transition.variants if v.role == "challenger")
    version = demo_ws.models.get(f"{variant.model}@{variant.version}")
    assert version.evaluation["decision"]["verdict"] == "REJECT"
    reason = transition.details["force_reason"]
    with local_ui(demo_ws) as client:
        page = client.get(f"/models/{variant.model}/versions/{variant.version}").text
        listing = client.get(f"/models/{variant.model}").text
    gate = _text(_section(page, "gate"))
    assert "overridden" in gate
    assert reason in gate
    assert f"revision {transition.revision}" in gate
    row = _text(_row(listing, f"version-{variant.version}"))
    assert "overridden" in row
    assert reason in row


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/models/nope", 404, "'nope'"),
        ("/models/recommender/versions/99999", 404, "no version 99999"),
        ("/models/recommender/versions/no-such-alias", 404, "'no-such-alias'"),
        ("/models/recommender/versions/-1", 400, "'-1'"),
        ("/models/recommender/versions/0", 400, "'0'"),
        ("/models/a..b", 400, "'a..b'"),
        ("/models/a..b/versions/1", 400, "'a..b'"),
        ("/models/recommender?offset=x", 400, "'offset'"),
    ],
)
def test_bad_paths_answer_an_error_page_naming_the_value(
    demo_ws: Workspace, path: str, status: int, named: str
) -> None:
    with local_ui(demo_ws) as client:
        response = client.get(path)
    assert response.status_code == status
    found = re.search(r'<p class="message">(.*?)</p>', response.text, re.S)
    assert found, response.text[-2000:]
    assert named in _text(found.group(1))


# -- workspaces made here ---------------------------------------------------------------


def test_an_empty_workspace_lists_no_model(fresh_ws: Workspace) -> None:
    with local_ui(fresh_ws) as client:
        response = client.get("/models")
    assert response.status_code == 200
    assert 'id="models-empty"' in response.text


def test_hostile_text_of_versions_checks_and_aliases_comes_out_escaped(
    fresh_ws: Workspace,
) -> None:
    records = fresh_ws.models.records
    actor = fresh_ws.actor
    records.insert_version(
        actor,
        "churn",
        sample_version(
            "a",
            description=HOSTILE,
            tags={HOSTILE: HOSTILE},
            params={"C": HOSTILE},
            metrics={HOSTILE: 0.5},
            signature={"inputs": [{"name": HOSTILE, "type": "double", "pii": True}]},
            importance={HOSTILE: 0.7},
        ),
        model_description=HOSTILE,
    )
    fresh_ws.models.set_alias("churn", 1, "champion", reason=HOSTILE)
    fresh_ws.models.record_decision("churn@1", verdict="REJECT", reasons=[HOSTILE])
    subject = Subject("model", "churn@1")
    store_suite(
        fresh_ws,
        sample_suite(
            "s1",
            sample_result(HOSTILE, subject, "failed", explanation=HOSTILE, value=HOSTILE),
            subject=subject,
        ),
    )
    record_decision(
        fresh_ws,
        GateDecision("REJECT", (HOSTILE,), subject, champion_ref=None, suite_id="s1"),
    )
    with local_ui(fresh_ws) as client:
        pages = [
            client.get("/models"),
            client.get("/models/churn"),
            client.get("/models/churn/versions/1"),
            client.get("/models/churn/versions/champion"),
        ]
    for response in pages:
        assert response.status_code == 200, response.text[-2000:]
        assert "<script>alert" not in response.text
    version_page = pages[2].text
    assert version_page.count("&lt;script&gt;alert(") >= 6
    # The checks' message and the signature's personal-data flag are shown.
    assert "&lt;script&gt;" in _section(version_page, "checks")
    assert "pii" in _section(version_page, "signature")
    # The model files were never stored: the page says so instead of failing.
    assert "message error" in _section(version_page, "artifacts")


def test_a_model_of_500_versions_pages_its_versions_and_flags_signed_ones(
    fresh_ws: Workspace,
) -> None:
    records = fresh_ws.models.records
    for i in range(500):
        records.insert_version(
            fresh_ws.actor, "big", sample_version(format(i % 16, "x")), model_description=None
        )
    records.add_signature(fresh_ws.actor, ModelRef("big", version=480), sample_signature())
    fresh_ws.models.set_alias("big", 480, "champion")
    with local_ui(fresh_ws) as client:
        first = client.get("/models/big")
        second = client.get("/models/big?offset=50")
        last = client.get("/models/big?offset=450&limit=100")
        beyond = client.get("/models/big?offset=500")
    assert first.status_code == second.status_code == last.status_code == 200
    shown = [int(n) for n in re.findall(r'<tr id="version-(\d+)"', first.text)]
    assert shown == list(range(500, 450, -1))
    assert "1\u201350 of 500" in first.text
    assert 'href="/models/big?offset=50" rel="next"' in first.text
    second_shown = [int(n) for n in re.findall(r'<tr id="version-(\d+)"', second.text)]
    assert second_shown == list(range(450, 400, -1))
    signed = _text(_row(first.text, "version-480"))
    assert "signed" in signed
    assert "champion" in signed
    assert "no" in _text(_row(first.text, "version-479")).split()
    assert [int(n) for n in re.findall(r'<tr id="version-(\d+)"', last.text)] == list(
        range(50, 0, -1)
    )
    assert beyond.status_code == 400
    assert "&#39;offset&#39; is 500" in beyond.text
