"""Without a ``cost:`` section the report shows resource use only and says no prices are
set; an unknown environment is refused with the configured ones named."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from conveyor.cost import CostError, cost_report, model_cost
from conveyor.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))
from cli_in_process import in_process

CONFIG = """\
project: {name: unpriced}
environments:
  staging: {strategy: replace}
"""


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "conveyor.yaml").write_text(CONFIG, encoding="utf-8")
    frame = load_diabetes(as_frame=True).frame
    with Workspace.open(tmp_path, env={}, search_parents=False) as ws:
        ws.models.register(
            "progression", Ridge().fit(frame.drop(columns=["target"]), frame["target"])
        )
    return tmp_path


def test_without_prices_every_price_is_none_and_a_note_says_so(root: Path) -> None:
    with Workspace.open(root, env={}, search_parents=False) as ws:
        cost = model_cost(ws, "progression@1")
    assert not cost.priced
    assert cost.total is None
    assert cost.to_dict()["total"] is None
    assert any("No prices are set" in n and "`cost:`" in n for n in cost.notes)
    assert any("Never served" in n for n in cost.notes)


def test_an_environment_not_configured_is_refused_naming_the_configured_ones(root: Path) -> None:
    with (
        Workspace.open(root, env={}, search_parents=False) as ws,
        pytest.raises(CostError, match=r"'prod' is not in the configuration; configured: staging"),
    ):
        cost_report(ws, env="prod")


def test_an_environment_without_a_deployment_has_nothing_to_report(root: Path) -> None:
    with Workspace.open(root, env={}, search_parents=False) as ws:
        assert cost_report(ws, env="staging") == []


def test_the_cli_says_no_prices_are_set_and_refuses_bad_windows(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_process(monkeypatch, capsys)
    done = run(root, "cost")
    assert done.returncode == 0, done.stderr
    assert "progression@1" in done.stdout
    assert "No prices are set" in done.stdout
    for bad, words in (("-3d", "must be positive"), ("99999d", "3650d"), ("banana", "banana")):
        refused = run(root, "cost", "--since", bad)
        assert refused.returncode == 1
        assert words in refused.stderr
    unknown = run(root, "cost", "--model", "nosuch@1")
    assert unknown.returncode != 0
    assert "nosuch" in unknown.stderr
