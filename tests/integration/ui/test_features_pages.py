"""The features pages: every applied view and service, one view's spec, versions and
materializations, one service's features and the model versions served with it, on the
demo's project and on workspaces made in the test."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import markupsafe
import pandas as pd
import pytest

from conveyor.features import SERVICE_TAG
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


def _message(page: str) -> str:
    found = re.search(r'<p class="message">(.*?)</p>', page, re.S)
    assert found, page[-2000:]
    return found.group(1)


# -- hostile paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/features/..%2Fx", 400, "&#39;../x&#39;"),
        ("/features/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 400, "&lt;script&gt;alert(1)"),
        ("/features/" + "a" * 300, 400, "aaaaaaaaaa"),
        ("/features/%ff%fe", 400, "Invalid feature definition name"),
        ("/features/user_profile/versions", 400, "&#39;user_profile/versions&#39;"),
        ("/features/nope", 404, "&#39;nope&#39;"),
    ],
)
def test_bad_names_answer_an_escaped_error_page_naming_the_value(
    demo_ws: Workspace, path: str, status: int, named: str
) -> None:
    with local_ui(demo_ws) as client:
        response = client.get(path)
    assert response.status_code == status, response.text[-2000:]
    assert named in _message(response.text)
    assert "<script>alert" not in response.text


def test_an_unknown_name_lists_what_there_is(demo_ws: Workspace) -> None:
    with local_ui(demo_ws) as client:
        response = client.get("/features/nope")
    assert response.status_code == 404
    message = _text(_message(response.text))
    assert "'nope'" in message
    assert "user_profile" in message
    assert "recommender" in message


# -- the demo's project ------------------------------------------------------------------


def test_list_shows_every_view_and_service_with_its_version(demo_ws: Workspace) -> None:
    records = demo_ws.features.list()
    views = [r for r in records if r.kind == "view"]
    services = [r for r in records if r.kind == "service"]
    assert {v.name for v in views} == {"user_profile", "category_catalog"}
    assert [s.name for s in services] == ["recommender"]
    with local_ui(demo_ws) as client:
        page = client.get("/features")
    assert page.status_code == 200
    for view in views:
        row = _row(page.text, f"view-{view.name}")
        assert f'href="/features/{view.name}"' in row
        assert f"v{view.version}" in row
        last = demo_ws.features.records.materializations(view.name, limit=1)[0]
        text = _text(row)
        assert view.spec["dataset"] in text
        assert "committed" in text
        assert f"{last.rows:,}" in text
        for entity in view.spec["entities"]:
            assert entity["name"] in text
            assert all(key in text for key in entity["join_keys"])
    row = _row(page.text, "service-recommender")
    assert 'href="/features/recommender"' in row
    assert f"v{services[0].version}" in row
    text = _text(row)
    assert "error" in text  # on_missing
    for ref in services[0].spec["features"]:
        assert ref in text


def test_view_page_shows_its_spec_versions_and_committed_materializations(
    demo_ws: Workspace,
) -> None:
    history = demo_ws.features.show("user_profile")
    runs = demo_ws.features.records.materializations("user_profile")
    assert len(runs) >= 2
    with local_ui(demo_ws) as client:
        page = client.get("/features/user_profile")
    assert page.status_code == 200
    text = page.text
    assert _text(_row(text, "feature-user_segment")).split() == ["user_segment", "string", "none"]
    assert "int64" in _row(text, "feature-past_purchases")
    assert "users@latest" in _text(text)
    assert 'href="/datasets/users"' in text
    assert "event_timestamp" in _text(text)
    for record in history:
        row = _text(_row(text, f"definition-{record.version}"))
        assert record.definition_hash[:12] in row
        assert record.created_by in row
    for run in runs:
        row = _text(_row(text, f"materialization-{run.id}"))
        assert "committed" in row
        assert f"{run.rows:,}" in row
        assert f"v{run.view_version}" in row
    assert 'href="/features/recommender"' in text  # the services that use it


def test_service_page_links_the_model_versions_served_with_it(demo_ws: Workspace) -> None:
    tagged = [
        v
        for summary in demo_ws.models.list()
        for v in demo_ws.models.versions(summary.name)
        if str(v.tags.get(SERVICE_TAG, "")).partition("@")[0] == "recommender"
    ]
    assert tagged
    with local_ui(demo_ws) as client:
        page = client.get("/features/recommender")
        assert page.status_code == 200
        text = page.text
        for ref in demo_ws.features.show("recommender")[-1].spec["features"]:
            view, _, feature = ref.partition(":")
            row = _row(text, f"feature-{ref}")
            assert f'href="/features/{view}"' in row
            assert feature in _text(row)
        assert "user_segment" in _text(_row(text, "feature-user_profile:user_segment"))
        assert "string" in _text(_row(text, "feature-user_profile:user_segment"))
        for version in tagged:
            row = _row(text, f"model-{version.name}-{version.version}")
            assert f'href="/models/{version.name}/versions/{version.version}"' in row
            assert version.tags[SERVICE_TAG] in _text(row)
        linked = client.get(f"/models/{tagged[0].name}/versions/{tagged[0].version}")
        assert linked.status_code == 200


def test_model_version_page_names_its_feature_service(demo_ws: Workspace) -> None:
    version = next(
        v
        for summary in demo_ws.models.list()
        for v in demo_ws.models.versions(summary.name)
        if SERVICE_TAG in v.tags
    )
    ref = version.tags[SERVICE_TAG]
    with local_ui(demo_ws) as client:
        page = client.get(f"/models/{version.name}/versions/{version.version}")
    assert page.status_code == 200
    found = re.search(r'<p id="feature-service">(.*?)</p>', page.text, re.S)
    assert found, "no feature service on the version's page"
    assert f'href="/features/{ref.partition("@")[0]}"' in found.group(1)
    assert ref in _text(found.group(1))


# -- workspaces made here ---------------------------------------------------------------


def test_an_empty_project_shows_how_to_apply_features(fresh_ws: Workspace) -> None:
    with local_ui(fresh_ws) as client:
        page = client.get("/features")
        assert page.status_code == 200
        assert 'id="features-empty"' in page.text
        assert "conveyor features apply" in page.text
        missing = client.get("/features/user_profile")
    assert missing.status_code == 404
    assert "&#39;user_profile&#39;" in _message(missing.text)


_FEATURES_PY = """
from datetime import timedelta
from conveyor.features import Entity, FeatureService, FeatureView, transformation

user = Entity("user", join_keys=["user_id"])

@transformation("users@latest")
def doubled(frame):
    return frame.assign(twice=frame["spend"] * 2)

spend = FeatureView("spend", entities=[user], source="users@latest",
                    schema={"spend": "float64", HOSTILE: "string"}, ttl=timedelta(days=2))
derived = FeatureView("derived", entities=[user], source=doubled, schema={"twice": "float64"})
svc = FeatureService("svc", [spend, "derived:twice"], on_missing="default")
"""


def test_pages_read_the_records_alone_and_escape_hostile_feature_names(
    fresh_ws: Workspace,
) -> None:
    """A features.py that no longer imports breaks no page; a hostile column comes out
    escaped."""
    frame = pd.DataFrame(
        {
            "user_id": [1, 2],
            "event_timestamp": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
            "spend": [1.5, 2.5],
            HOSTILE: ["a", "b"],
        }
    )
    fresh_ws.datasets.add("users", frame)
    (fresh_ws.root / "features.py").write_text(
        f"HOSTILE = {HOSTILE!r}\n{_FEATURES_PY}", encoding="utf-8"
    )
    assert {a.ref for a in fresh_ws.features.apply()} >= {"spend@1", "derived@1", "svc@1"}
    (fresh_ws.root / "features.py").write_text("raise RuntimeError('broken')\n")
    with local_ui(fresh_ws) as client:
        listing = client.get("/features")
        spend = client.get("/features/spend")
        derived = client.get("/features/derived")
        svc = client.get("/features/svc")
    for page in (listing, spend, derived, svc):
        assert page.status_code == 200, page.text[-2000:]
        assert "<script>alert" not in page.text
    assert "never materialized" in _text(_row(listing.text, "view-spend"))
    assert "2 days" in _text(_row(listing.text, "view-spend"))
    assert str(markupsafe.escape(HOSTILE)) in spend.text
    derived_text = _text(derived.text)
    assert "doubled" in derived_text
    assert "users@latest" in derived_text
    assert 'id="materializations-empty"' in derived.text
    assert "default" in _text(_row(listing.text, "service-svc"))
    assert 'id="models-empty"' in svc.text
