"""``ws.features.apply``: a version per definition change, audited, on SQLite and PostgreSQL;
features.py loading as a trust boundary; offline tables kept once per source version."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.features import (
    SERVICE_TAG,
    FeatureChangeRefusedError,
    FeatureDefinitionError,
    FeatureNotFoundError,
)
from conveyor.workspace import Workspace
from features_support import FEATURES_PY, gapminder, make_project


def test_apply_records_a_version_per_change_only(tmp_path: Path, metadata_url: str) -> None:
    root = make_project(tmp_path / "p", metadata_url)
    with Workspace.open(root, env={}, search_parents=False) as ws:
        first = {(a.kind, a.name): a for a in ws.features.apply()}
        assert {k: (a.version, a.changed) for k, a in first.items()} == {
            ("entity", "country"): (1, True),
            ("view", "country_gdp"): (1, True),
            ("view", "country_stats"): (1, True),
            ("service", "life"): (1, True),
        }
        again = ws.features.apply()
        assert all(not a.changed and a.version == 1 for a in again)

        (root / "features.py").write_text(FEATURES_PY.replace("/ 1e9", "/ 1e6"), encoding="utf-8")
        changed = {a.name: (a.version, a.changed) for a in ws.features.apply()}
        # Only the view whose transformation changed gets a new version.
        assert changed["country_gdp"] == (2, True)
        assert changed["country_stats"] == (1, False)
        assert changed["life"] == (1, False)
        assert [r.version for r in ws.features.show("country_gdp")] == [1, 2]
        applies = [e for e in ws.audit_log() if e.action == "features.apply"]
        assert len(applies) == 3
        assert applies[-1].details["changed"] == ["view:country_gdp@2"]
        assert ws.verify_audit().ok


def test_unknown_names_list_what_exists(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.features.apply()
        with pytest.raises(FeatureNotFoundError) as caught:
            ws.features.show("country_stat")
        assert "country_stats" in str(caught.value)
        with pytest.raises(FeatureNotFoundError) as caught:
            ws.features.resolve(["country_stats:gdp"])
        assert "lifeExp, pop, continent" in str(caught.value)
        with pytest.raises(FeatureNotFoundError, match="life"):
            ws.features.service_version("lif")


def test_a_view_changed_but_not_applied_is_not_used(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", gapminder())
        ws.features.apply()
        (root / "features.py").write_text(
            FEATURES_PY.replace("days=3653", "days=400"), encoding="utf-8"
        )
        ws.features.definitions(reload=True)
        with pytest.raises(FeatureNotFoundError, match="changed since it was applied"):
            ws.features.table("country_stats")


def test_offline_tables_are_computed_once_per_dataset_version(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", gapminder())
        ws.features.apply()
        table = ws.features.table("country_gdp")
        assert table.num_rows == len(gapminder())
        again = ws.features.table("country_gdp")
        assert again.equals(table)
        tables = [e for e in ws.audit_log() if e.action == "features.table"]
        assert len(tables) == 1
        frame = gapminder()
        ws.datasets.add("gapminder", frame[frame["event_timestamp"].dt.year < 2000])
        assert ws.features.table("country_gdp").num_rows < table.num_rows
        assert len([e for e in ws.audit_log() if e.action == "features.table"]) == 2
        # The kept tables survive garbage collection: they are referenced.
        ws.gc(grace=__import__("datetime").timedelta(0))
        assert ws.features.table("country_gdp").num_rows < table.num_rows


def test_changing_a_feature_a_registered_model_uses_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.features.apply()
        from sklearn.dummy import DummyClassifier

        model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
        ws.models.register(
            "life-model", model, tags={SERVICE_TAG: "life@1"}, explain=False, onnx=False
        )
        (root / "features.py").write_text(
            FEATURES_PY.replace('"pop": "int64", ', ""), encoding="utf-8"
        )
        with pytest.raises(FeatureChangeRefusedError) as caught:
            ws.features.apply()
        message = str(caught.value)
        assert "removes feature 'pop'" in message
        assert "life-model@1" in message
        assert [r.version for r in ws.features.show("country_stats")] == [1]
        # Adding a feature is no breaking change; forcing records the removal.
        (root / "features.py").write_text(
            FEATURES_PY.replace('"pop": "int64", ', '"pop": "float64", '), encoding="utf-8"
        )
        with pytest.raises(FeatureChangeRefusedError, match=r"int64 -> float64"):
            ws.features.apply()
        applied = {a.name: a.version for a in ws.features.apply(force=True)}
        assert applied["country_stats"] == 2


@pytest.mark.parametrize(
    ("definitions", "content", "needle"),
    [
        ("../outside.py", None, "outside the project"),
        ("/etc/passwd", None, "outside the project"),
        ("missing.py", None, "No feature definitions file"),
        ("features.py", "def broken(:\n", "SyntaxError"),
        ("features.py", "raise RuntimeError('bad import')\n", "RuntimeError: bad import"),
    ],
)
def test_the_definitions_file_is_a_trust_boundary(
    tmp_path: Path, definitions: str, content: str | None, needle: str
) -> None:
    root = make_project(tmp_path / "p", features=content or FEATURES_PY)
    (tmp_path / "outside.py").write_text("import os\n", encoding="utf-8")
    with (root / "conveyor.yaml").open("a", encoding="utf-8") as f:
        f.write(f"features:\n  definitions: {definitions!r}\n")
    with Workspace.open(root, env={}, search_parents=False) as ws:
        with pytest.raises(FeatureDefinitionError) as caught:
            ws.features.apply()
        assert needle in str(caught.value)
        assert caught.value.hint
