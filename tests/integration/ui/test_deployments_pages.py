"""The deployments pages: the live split, the revision timeline, the canary analysis and
the actions, on the demo's project and on private copies of it (local UI and server)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape

from conveyor.deployments import Variant
from conveyor.rollout import Controller
from conveyor.workspace import Workspace, init_project
from server_support import control_plane
from ui_support import csrf_of, demo_folder, local_ui, shop_copy

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]

ENV = "production"


def _figure(page: str, chart_id: str) -> dict[str, Any]:
    match = re.search(
        rf'<script type="application/json" id="{re.escape(chart_id)}-data">(.*?)</script>',
        page,
        re.S,
    )
    assert match, f"no chart {chart_id!r} on the page"
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def _timeline_revisions(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li id="revision-(\d+)"', page)]


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return Workspace.open(demo_folder())


def _start_canary(ws: Workspace) -> None:
    """A canary of recommender@3 in production (the demo's gate rejected it)."""
    Controller(ws).deploy(
        "recommender@3", ENV, strategy="canary", force_reason="try it again on 20 %"
    )


def test_overview_shows_every_environment_with_its_split(demo: Workspace) -> None:
    current = demo.deployments.current(ENV)
    assert current is not None
    with local_ui(demo) as client:
        page = client.get("/deployments")
        assert page.status_code == 200
        text = page.text
        assert 'id="deployments-table"' in text
        assert 'class="split"' in text
        assert f'href="/deployments/{ENV}"' in text
        assert current.state in text
        assert current.strategy in text
        for variant in current.live:
            assert f'data-ref="{variant.ref}"' in text
            assert f'data-weight="{variant.weight}"' in text
        # The link resolves.
        assert client.get(f"/deployments/{ENV}").status_code == 200


def test_history_shows_the_promoted_canary_and_the_automatic_rollback(demo: Workspace) -> None:
    history = demo.deployments.history(ENV)
    actions = [t.action for t in history]
    assert "promote" in actions
    assert "rollback" in actions
    with local_ui(demo) as client:
        text = client.get(f"/deployments/{ENV}").text
    # Every transition, newest first, with its reason (escaped), actor and states.
    assert _timeline_revisions(text) == [t.revision for t in reversed(history)]
    for transition in history:
        assert str(escape(transition.reason)) in text
        assert f'data-action="{transition.action}"' in text
    promoted = next(t for t in history if t.action == "promote")
    rolled_back = next(t for t in reversed(history) if t.action == "rollback")
    assert promoted.reason.startswith("analysis passed")
    assert rolled_back.reason.startswith("analysis failed")
    # Nothing is in progress: the newest rollout (the automatic rollback) is analysed.
    assert 'id="analysis-decision"' in text
    decision = text[text.index('id="analysis-decision"') :]
    assert "status-rollback" in decision[:200]
    assert str(escape(rolled_back.reason)) in decision


def test_analysis_chart_holds_the_recorded_steps(demo: Workspace) -> None:
    history = demo.deployments.history(ENV)
    analysed = [t for t in history if "analysis" in t.details]
    assert len(analysed) >= 3
    seen: set[int] = set()
    with local_ui(demo) as client:
        for transition in analysed:
            text = client.get(f"/deployments/{ENV}?revision={transition.revision}").text
            figure = _figure(text, "analysis-chart")
            steps = {s["revision"]: s for s in figure["steps"]}
            assert transition.revision in steps
            step = steps[transition.revision]
            measured = transition.details["analysis"]["measures"]
            assert step["metric"]["difference"] == pytest.approx(measured["metric"]["difference"])
            assert step["metric"]["lower"] == pytest.approx(measured["metric"]["rollback_lower"])
            assert step["metric"]["upper"] == pytest.approx(measured["metric"]["promote_upper"])
            assert step["verdict"] == transition.details["analysis"]["verdict"]
            assert step["requests"] == measured["requests"]
            # The chart draws the difference with its band for each step.
            metric_trace = figure["data"][0]
            assert measured["metric"]["difference"] in metric_trace["y"]
            requests = _figure(text, "requests-chart")
            challenger = next(t for t in requests["data"] if t["name"] == "challenger")
            assert measured["requests"]["challenger"] in challenger["y"]
            seen.update(steps)
    assert seen == {t.revision for t in analysed}
    # A revision outside any rollout says so.
    with local_ui(demo) as client:
        text = client.get(f"/deployments/{ENV}?revision=1").text
    assert "was not part of a rollout" in text


def test_bad_parameters_answer_error_pages(demo: Workspace) -> None:
    with local_ui(demo) as client:
        missing = client.get("/deployments/staging")
        assert missing.status_code == 404
        assert "&#39;staging&#39; is not configured" in missing.text
        bad = client.get("/deployments/%3Cscript%3E")
        assert bad.status_code == 400
        assert "&lt;script&gt;" in bad.text
        assert "<script>" not in bad.text.split("<main>")[1][:400]
        revision = client.get(f"/deployments/{ENV}?revision=999")
        assert revision.status_code == 404
        assert "no revision 999" in revision.text
        word = client.get(f"/deployments/{ENV}?revision=abc")
        assert word.status_code == 400
        assert "&#39;abc&#39;" in word.text
        # A viewer of the local UI may do anything: posting to a missing environment is
        # an error page naming it, and nothing is recorded.
        csrf = csrf_of(client.get(f"/deployments/{ENV}").text)
        posted = client.post("/deployments/staging/rollback", data={"csrf": csrf})
        assert posted.status_code == 404
        assert "staging" in posted.text


def test_rollback_from_the_page_is_recorded_with_its_reason(tmp_path: Path) -> None:
    ws = Workspace.open(shop_copy(tmp_path))
    _start_canary(ws)
    before = ws.deployments.history(ENV)
    reason = "<script>alert(1)</script> latency looks off"
    with local_ui(ws) as client:
        text = client.get(f"/deployments/{ENV}").text
        for shown in ("promote", "rollback", "pause"):
            assert f'id="action-{shown}"' in text
        for hidden in ("resume", "approve"):
            assert f'id="action-{hidden}"' not in text
        assert "recommender@3 at 20%" in text
        csrf = csrf_of(text)

        missing = client.post(f"/deployments/{ENV}/rollback", data={"reason": reason})
        wrong = client.post(
            f"/deployments/{ENV}/rollback", data={"csrf": "forged", "reason": reason}
        )
        assert missing.status_code == 403
        assert wrong.status_code == 403
        assert "security token" in wrong.text
        assert ws.deployments.history(ENV) == before

        done = client.post(f"/deployments/{ENV}/rollback", data={"csrf": csrf, "reason": reason})
        assert done.status_code == 303
        assert done.headers["location"] == f"/deployments/{ENV}"
        after = ws.deployments.history(ENV)
        assert len(after) == len(before) + 1
        last = after[-1]
        assert last.action == "rollback"
        assert last.reason == reason
        assert last.actor == ws.actor.name

        shown_page = client.get(done.headers["location"]).text
        assert str(escape(reason)) in shown_page
        assert reason not in shown_page
        assert 'id="action-promote"' not in shown_page

        # Nothing is in progress any more: promoting is a state conflict (409).
        refused = client.post(f"/deployments/{ENV}/promote", data={"csrf": csrf})
        assert refused.status_code == 409
        assert "Nothing to promote in &#39;production&#39;" in refused.text
        assert len(ws.deployments.history(ENV)) == len(after)


def test_pause_resume_and_pagination(tmp_path: Path) -> None:
    ws = Workspace.open(shop_copy(tmp_path))
    _start_canary(ws)
    with local_ui(ws) as client:
        csrf = csrf_of(client.get(f"/deployments/{ENV}").text)
        for _ in range(8):
            assert client.post(f"/deployments/{ENV}/pause", data={"csrf": csrf}).status_code == 303
            page = client.get(f"/deployments/{ENV}").text
            assert 'id="action-resume"' in page
            assert 'id="action-pause"' not in page
            assert client.post(f"/deployments/{ENV}/resume", data={"csrf": csrf}).status_code == 303
        history = ws.deployments.history(ENV)
        assert len(history) > 20
        assert history[-1].reason == "resumed"
        assert history[-2].reason == "paused"
        first = client.get(f"/deployments/{ENV}").text
        assert _timeline_revisions(first) == [t.revision for t in reversed(history)][:20]
        assert 'rel="next"' in first
        older = client.get(f"/deployments/{ENV}?offset=20").text
        assert _timeline_revisions(older) == [t.revision for t in reversed(history)][20:]
        # The rollout still in progress: its decision is to continue.
        assert "no decision yet" in first


def _sign_in(client: httpx.Client, secret: str) -> None:
    form = client.get("/login")
    assert form.status_code == 200
    assert form.cookies["conveyor_login_csrf"]  # the client sends it back to /login
    signed = client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "token": secret, "next": f"/deployments/{ENV}"},
    )
    assert signed.status_code == 303, signed.text


def test_roles_decide_the_buttons_and_the_actions_on_the_server(tmp_path: Path) -> None:
    ws = Workspace.open(shop_copy(tmp_path))
    _start_canary(ws)
    before = ws.deployments.history(ENV)
    with control_plane(ws) as server:
        viewer = server.token("watcher", "viewer")
        deployer = server.token("shipper", "deployer")
        with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
            if client.get("/login").status_code == 404:
                pytest.skip("the control plane serves no UI")
            _sign_in(client, viewer)
            page = client.get(f"/deployments/{ENV}")
            assert page.status_code == 200
            assert 'id="action-' not in page.text
            assert "recommender@3 at 20%" in page.text
            refused = client.post(
                f"/deployments/{ENV}/rollback",
                data={"csrf": csrf_of(page.text), "reason": "not mine to do"},
            )
            assert refused.status_code == 403
            assert ws.deployments.history(ENV) == before
        with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
            _sign_in(client, deployer)
            page = client.get(f"/deployments/{ENV}")
            assert 'id="action-rollback"' in page.text
            done = client.post(
                f"/deployments/{ENV}/rollback",
                data={"csrf": csrf_of(page.text), "reason": "the canary is too slow"},
            )
            assert done.status_code == 303
    last = ws.deployments.history(ENV)[-1]
    assert last.action == "rollback"
    assert last.reason == "the canary is too slow"
    assert last.actor == server.actor("shipper").name


def test_an_empty_workspace_renders(tmp_path: Path) -> None:
    init_project(tmp_path / "empty", name="empty")
    ws = Workspace.open(tmp_path / "empty")
    with local_ui(ws) as client:
        page = client.get("/deployments")
        assert page.status_code == 200
        for env in ws.settings.config.environments:
            shown = client.get(f"/deployments/{env}")
            assert shown.status_code == 200
            assert "Never deployed" in shown.text
            assert 'id="action-' not in shown.text


def _long_history(ws: Workspace, rollouts: int) -> None:
    """``rollouts`` canary rollouts (deploy, advance, promote) after a first deployment."""
    ws.deployments.transition(
        ENV,
        expected_revision=None,
        action="deploy",
        reason="first",
        strategy="canary",
        state="stable",
        variants=(Variant("churn", 1, "champion", 100.0),),
        steps=(10, 100),
    )
    revision = 1
    for n in range(rollouts):
        champion, challenger = (
            Variant("churn", n + 1, "champion", 90.0),
            Variant("churn", n + 2, "challenger", 10.0),
        )
        for action, state, details, changes in (
            ("deploy", "progressing", {}, {"variants": (champion, challenger)}),
            ("advance", "progressing", {"analysis": {"verdict": "pass", "step": n}}, {}),
            (
                "promote",
                "promoted",
                {"analysis": {"verdict": "pass", "step": n}},
                {"variants": (Variant("churn", n + 2, "champion", 100.0),)},
            ),
        ):
            ws.deployments.transition(
                ENV,
                expected_revision=revision,
                action=action,
                reason=f"{action} churn@{n + 2}",
                details=details,
                state=state,
                **changes,
            )
            revision += 1


def test_a_long_history_is_read_a_page_and_a_rollout_at_a_time(tmp_path: Path) -> None:
    """Old revisions still find their rollout; pages count from the newest."""
    init_project(tmp_path / "long", name="long")
    ws = Workspace.open(tmp_path / "long")
    _long_history(ws, 50)
    history = ws.deployments.history(ENV)
    assert len(history) == 151
    with local_ui(ws) as client:
        newest = client.get(f"/deployments/{ENV}").text
        assert _timeline_revisions(newest) == list(range(151, 131, -1))
        assert "Rollout of revisions 149\u2013151." in newest
        last = client.get(f"/deployments/{ENV}?offset=140").text
        assert _timeline_revisions(last) == list(range(11, 0, -1))
        old = client.get(f"/deployments/{ENV}?revision=3").text
        assert "Rollout of revisions 2\u20134, selected by revision 3." in old
        steps = {s["revision"] for s in _figure(old, "analysis-chart")["steps"]}
        assert steps == {3, 4}
        middle = client.get(f"/deployments/{ENV}?revision=76").text
        assert "Rollout of revisions 74\u201376, selected by revision 76." in middle
        beyond = client.get(f"/deployments/{ENV}?revision=152")
        assert beyond.status_code == 404
        assert "its revisions are 1 to 151" in beyond.text
        past = client.get(f"/deployments/{ENV}?offset=151")
        assert past.status_code == 400
        assert "from 0 to 150" in past.text
