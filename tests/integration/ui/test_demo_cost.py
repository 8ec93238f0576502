"""`conveyor cost` on the demo: every model the demo trained is priced from its run tree, and
the versions its prediction server answered for have a serving cost per 1,000 predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.cli import main
from conveyor.workspace import Workspace
from ui_support import demo_folder

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]


def test_cost_reports_the_demos_models(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Path(demo_folder())
    with Workspace.open(folder) as ws:
        versions = {
            f"{v.name}@{v.version}" for m in ws.models.list() for v in ws.models.versions(m.name)
        }
    monkeypatch.chdir(folder)
    capsys.readouterr()
    assert main(["cost", "--json"]) == 0
    report = {c["ref"]: c for c in json.loads(capsys.readouterr().out)}
    assert versions <= set(report), "every registered version is reported"
    for ref, cost in report.items():
        assert cost["priced"], ref  # the demo's conveyor.yaml sets prices
        training = cost["training"]
        assert training is not None, f"{ref}: {cost['notes']}"
        assert training["cpu_s"] > 0
        assert training["cost"] > 0
        assert training["spot_cost"] < training["cost"]  # spot_discount 0.7
    served = [s for c in report.values() for s in c["serving"] if s["predictions"] > 0]
    assert served, "the demo's server answered for at least one version"
    assert all(s["per_1000"] > 0 for s in served)
