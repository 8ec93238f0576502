"""``conveyor predict NAME@REF --input FILE --output FILE``: scores a file, prints the result
(or JSON), and refuses bad input with one line, a hint and exit code 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from conveyor.cli import main
from conveyor.workspace import Workspace


@pytest.fixture(scope="module")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Pipeline]:
    """A project with penguins@1 (strings and missing values) and the data as Parquet,
    built once per module; each test works in its own copy (:func:`project`)."""
    tmp_path = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert main(["init"]) == 0
    frame = palmerpenguins.load_penguins()
    x, y = frame.drop(columns=["species"]), frame["species"]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]),
            (SimpleImputer(), ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]),
        ),
        LogisticRegression(max_iter=2000),
    ).fit(x, y)
    with Workspace.open(tmp_path) as ws:
        ws.models.register("penguins", model, input_example=x.iloc[[3, *range(0, 344, 9)]])
    x.to_parquet(tmp_path / "penguins.parquet")
    return tmp_path, model


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built_project: tuple[Path, Pipeline]
) -> tuple[Path, Pipeline]:
    """This test's own copy of :func:`built_project`, as the working directory."""
    built, model = built_project
    root = tmp_path / "project"
    shutil.copytree(built, root, symlinks=True)
    monkeypatch.chdir(root)
    return root, model


def test_predict_writes_the_output_and_prints_json(
    project: tuple[Path, Pipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    root, model = project
    capsys.readouterr()
    code = main(
        ["predict", "penguins@1", "--input", "penguins.parquet", "--output", "out.csv",
         "--batch-rows", "100", "--keep", "island", "--json"]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["model"], result["version"], result["rows"], result["batches"]) == (
        "penguins",
        1,
        344,
        4,
    )
    out = pd.read_csv(root / "out.csv")
    assert list(out.columns) == ["island", "prediction"]
    x = pd.read_parquet(root / "penguins.parquet")
    assert out["prediction"].tolist() == model.predict(x).tolist()


def test_predict_says_what_it_scored(
    project: tuple[Path, Pipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["predict", "penguins", "-i", "penguins.parquet", "-o", "out.parquet"]) == 0
    out = capsys.readouterr().out
    assert "Scored 344 rows in 1 batch(es) with penguins@1 (local" in out
    assert "out.parquet" in out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-o", "missing/out.parquet"], "does not exist"),
        (["-o", "penguins.parquet"], "is the input file"),
        (["-o", "out.parquet", "--keep", "nope"], "Column(s) to keep not in"),
        (["-o", "out.parquet", "--non-finite", "maybe"], "maybe"),
    ],
)
def test_predict_refuses_bad_arguments_with_exit_code_1(
    project: tuple[Path, Pipeline],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
) -> None:
    root, _ = project
    capsys.readouterr()
    assert main(["predict", "penguins@1", "-i", "penguins.parquet", *args]) == 1
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err
    assert not (root / "out.parquet").exists()


def test_predict_names_the_column_and_row_of_a_bad_value(
    project: tuple[Path, Pipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = project
    frame = pd.read_parquet(root / "penguins.parquet")
    frame["sex"] = frame["sex"].map({"male": 1, "female": 0})  # numbers in a string column
    frame.to_parquet(root / "coded.parquet")
    capsys.readouterr()
    assert main(["predict", "penguins@1", "-i", "coded.parquet", "-o", "out.parquet"]) == 1
    err = capsys.readouterr().err
    assert "coded.parquet, row 0: Column 'sex' expects string" in err


def test_predict_of_an_unknown_model_fails_cleanly(
    project: tuple[Path, Pipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["predict", "churn@1", "-i", "penguins.parquet", "-o", "out.parquet"]) == 1
    assert "churn" in capsys.readouterr().err
