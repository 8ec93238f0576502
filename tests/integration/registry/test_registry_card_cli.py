"""Model cards (Markdown and self-contained HTML) and the ``conveyor models`` commands."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conveyor.cli._models import app
from conveyor.registry import ModelRegistry, PreparedModel


@pytest.fixture
def card_version(registry: ModelRegistry, make_saved: Callable[..., PreparedModel]) -> str:
    prepared = make_saved()
    registry.record(
        "churn",
        PreparedModel(
            **{
                **prepared.__dict__,
                "importance": {"tenure": 0.4, "age": 0.1},
                "onnx": {
                    "hash": "a" * 64,
                    "parity": {"passed": True, "max_abs_diff": 1e-7, "rows": 201},
                },
            }
        ),
        description="Score churn risk <b>for</b> retention | offers.",
        metrics={"auc": 0.875},
        tags={"checks": {"drift": "passed"}},
    )
    return "churn@1"


def test_card_markdown_has_every_section(registry: ModelRegistry, card_version: str) -> None:
    card = registry.card(card_version)
    md = card.markdown
    for heading in (
        "## Intended use",
        "## Training data",
        "## Metrics",
        "## Check results",
        "## Global feature importance",
        "## Signature",
        "## Lineage",
    ):
        assert heading in md
    assert "Score churn risk" in md
    assert "| auc | 0.875 |" in md
    assert md.index("| tenure |") < md.index("| age |")  # largest importance first
    assert "ONNX twin parity: passed on 201 rows" in md
    assert "drift: passed" in md


def test_card_html_is_self_contained_and_escapes_markup(
    registry: ModelRegistry, card_version: str
) -> None:
    html = registry.card(card_version).html
    assert html.startswith("<!DOCTYPE html>")
    assert "<table>" in html
    assert "&lt;b&gt;for&lt;/b&gt;" in html  # the description cannot inject markup
    for external in ("<script", "<link", "src=", "http://", "https://"):
        assert external not in html


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    from conveyor.workspace import init_project

    root = tmp_path / "ws"
    init_project(root)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(cwd)


def test_cli_list_show_alias_history_and_card(workspace: Path) -> None:
    from conveyor.cli._models import _registry
    from conveyor.registry import prepare_files
    from conveyor.workspace import Workspace

    with Workspace.open(workspace) as ws:
        registry = _registry(ws)
        for i in range(2):
            folder = workspace.parent / f"m{i}"
            folder.mkdir()
            (folder / "model.bin").write_bytes(bytes([i]))
            registry.record(
                "churn", prepare_files(ws.artifacts, folder, flavor="raw", flavor_meta={})
            )
    runner = CliRunner()
    result = runner.invoke(app, ["alias", "churn@2", "champion", "--reason", "best", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"name": "churn", "alias": "champion", "version": 2}
    listed = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert listed[0]["aliases"] == {"champion": 2}
    shown = json.loads(runner.invoke(app, ["show", "churn@champion", "--json"]).output)
    assert shown["version"] == 2
    assert shown["aliases"] == ["champion"]
    every = json.loads(runner.invoke(app, ["show", "churn", "--json"]).output)
    assert [v["version"] for v in every] == [2, 1]
    history = json.loads(runner.invoke(app, ["history", "churn", "--json"]).output)
    assert [h["kind"] for h in history] == ["registered", "registered", "alias.set"]
    assert history[-1]["reason"] == "best"
    out = workspace / "card.html"
    assert runner.invoke(app, ["card", "churn@champion", "-o", str(out)]).exit_code == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert "# Model card: churn v2" in runner.invoke(app, ["card", "churn@2"]).output
    assert "champion" in runner.invoke(app, ["list"]).output
    missing = runner.invoke(app, ["show", "churn@9"])
    assert missing.exit_code != 0
    assert "no version 9. Versions: 1-2" in str(missing.exception)
