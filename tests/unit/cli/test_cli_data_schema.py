"""`conveyor data schema` infers and stores a dataset's schema for the `schema` check."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conveyor.cli import main


def test_schema_is_inferred_stored_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conveyor.yaml").write_text("project: {name: shop}\n", encoding="utf-8")
    pd.DataFrame({"price": [1.0, 2.5, 9.0], "country": ["DE", "FR", "DE"]}).to_csv(
        "orders.csv", index=False
    )
    assert main(["data", "add", "orders", "orders.csv"]) == 0
    capsys.readouterr()
    assert main(["data", "schema", "orders@1", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["schema_version"], first["unchanged"]) == (1, False)
    assert set(first["schema"]["pandera"]["columns"]) == {"price", "country"}
    assert main(["data", "schema", "orders@1"]) == 0
    assert "Schema v1 of orders unchanged" in capsys.readouterr().out


def test_schema_of_an_unknown_version_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conveyor.yaml").write_text("project: {name: shop}\n", encoding="utf-8")
    pd.DataFrame({"x": [1]}).to_csv("x.csv", index=False)
    main(["data", "add", "x", "x.csv"])
    capsys.readouterr()
    assert main(["data", "schema", "x@4"]) == 1
    assert "has no version 4" in capsys.readouterr().err


def test_schema_ranges_are_widened_by_default_and_exact_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen 1..9: the default widens by a quarter of the span each side (never below 0);
    `--tolerance 0` keeps the observed range."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conveyor.yaml").write_text("project: {name: shop}\n", encoding="utf-8")
    pd.DataFrame({"price": [1.0, 2.5, 9.0]}).to_csv("orders.csv", index=False)
    assert main(["data", "add", "orders", "orders.csv"]) == 0
    capsys.readouterr()

    def price_range(*extra: str) -> tuple[float, float]:
        assert main(["data", "schema", "orders@1", "--json", *extra]) == 0
        column = json.loads(capsys.readouterr().out)["schema"]["pandera"]["columns"]["price"]
        return column["in_range"]["min_value"], column["in_range"]["max_value"]

    assert price_range() == (0.0, 11.0)
    assert price_range("--tolerance", "0") == (1.0, 9.0)
