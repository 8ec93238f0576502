"""Batch scoring of Parquet and CSV files with registered models: hostile inputs refused
first (named, nothing written), then predictions equal to the model's own on mixed data
(strings, missing values), bounded memory and an audited run."""

from __future__ import annotations

import shutil
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import palmerpenguins
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conveyor.errors import ConveyorError
from conveyor.serving import BatchInputError, InvalidValueError, MissingColumnsError, predict_file
from conveyor.workspace import Workspace

CATEGORICAL = ["island", "sex"]


def penguins() -> pd.DataFrame:
    """The penguins with strings, integers and missing values (species included)."""
    return palmerpenguins.load_penguins()


def _classifier(x: pd.DataFrame) -> Pipeline:
    numeric = [c for c in x.columns if c not in CATEGORICAL]
    pre = make_column_transformer(
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            CATEGORICAL,
        ),
        (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
    )
    return make_pipeline(pre, LogisticRegression(max_iter=1000))


@pytest.fixture(scope="module")
def built_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """A workspace with penguins@1 (a classifier on mixed columns) and diabetes@1 (a ridge
    regression), built once per module; each test gets its own copy (:func:`models`)."""
    frame = penguins()
    x, y = frame.drop(columns=["species"]), frame["species"]
    example = x.iloc[[3, *range(0, 344, 9)]]  # row 3: measurements and sex missing
    diabetes = load_diabetes(as_frame=True)
    root = tmp_path_factory.mktemp("models") / "ws"
    with Workspace.open(root) as ws:
        classifier = _classifier(x).fit(x, y)
        ws.models.register("penguins", classifier, input_example=example)
        ridge = Ridge().fit(diabetes.data, diabetes.target)
        ws.models.register("diabetes", ridge, input_example=diabetes.data.head(20))
    return root, classifier, ridge


@pytest.fixture
def models(
    tmp_path: Path, built_models: tuple[Path, Any, Any]
) -> Iterator[tuple[Workspace, Any, Any]]:
    """A copy of :func:`built_models` of this test's own, opened."""
    built, classifier, ridge = built_models
    shutil.copytree(built, tmp_path / "ws", symlinks=True)
    with Workspace.open(tmp_path / "ws") as ws:
        yield ws, classifier, ridge


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def _parquet(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size
    )
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- hostile input first ---------------------------------------------------------------


def test_a_csv_that_is_not_utf8_is_refused_naming_the_file(models: Any, data: Path) -> None:
    ws, *_ = models
    bad = data / "latin1.csv"
    text = penguins().drop(columns=["species"]).head(20).to_csv(index=False)
    bad.write_bytes(text.replace("Torgersen", "Torg\xe9rsen").encode("latin-1"))
    with pytest.raises(BatchInputError, match=r"Cannot read .*latin1\.csv.*UTF-?8") as caught:
        predict_file(ws, "penguins@1", bad, data / "out.parquet")
    assert "UTF-8" in str(caught.value.hint)
    assert not (data / "out.parquet").exists()
    assert _leftovers(data) == []


def test_a_corrupt_parquet_file_is_refused(models: Any, data: Path) -> None:
    ws, *_ = models
    good = _parquet(penguins(), data / "good.parquet")
    bad = data / "bad.parquet"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(BatchInputError, match=r"Cannot read .*bad\.parquet"):
        predict_file(ws, "penguins@1", bad, data / "out.parquet")
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(BatchInputError, match=r"Cannot read .*bad\.parquet"):
        predict_file(ws, "penguins@1", bad, data / "out.parquet")
    assert not (data / "out.parquet").exists()


def test_a_column_of_the_wrong_type_names_column_row_and_value(models: Any, data: Path) -> None:
    ws, *_ = models
    frame = penguins()
    frame["bill_length_mm"] = frame["bill_length_mm"].astype(str)  # "39.1": text, not numbers
    source = _parquet(frame, data / "typed.parquet")
    with pytest.raises(InvalidValueError) as caught:
        predict_file(ws, "penguins@1", source, data / "out.parquet", batch_rows=50)
    message = caught.value.message
    assert "typed.parquet, row 0: Column 'bill_length_mm' expects double" in message
    assert "'39.1'" in message
    assert caught.value.fields["column"] == "bill_length_mm"
    assert not (data / "out.parquet").exists()


def test_a_bad_value_mid_file_names_its_row_and_leaves_no_output(models: Any, data: Path) -> None:
    """Batches before it were written already: the temporary file is removed, the output
    never appears."""
    ws, *_ = models
    frame = penguins()
    frame.loc[123, "bill_depth_mm"] = float("inf")
    source = _parquet(frame, data / "inf.parquet")
    with pytest.raises(InvalidValueError) as caught:
        predict_file(ws, "penguins@1", source, data / "out.parquet", batch_rows=50)
    assert caught.value.message.startswith(f"{source}, row 123: Column 'bill_depth_mm' got inf")
    assert not (data / "out.parquet").exists()
    assert _leftovers(data) == []


def test_a_csv_value_that_does_not_parse_names_its_column(models: Any, data: Path) -> None:
    ws, *_ = models
    frame = penguins().drop(columns=["species"]).astype({"flipper_length_mm": object})
    frame.loc[7, "flipper_length_mm"] = "n/a?"
    source = data / "bad.csv"
    frame.to_csv(source, index=False)
    with pytest.raises(BatchInputError, match=r"column 'flipper_length_mm'") as caught:
        predict_file(ws, "penguins@1", source, data / "out.csv")
    assert "n/a?" in caught.value.message
    assert caught.value.fields["column"] == "flipper_length_mm"


def test_a_missing_column_is_listed(models: Any, data: Path) -> None:
    ws, *_ = models
    source = _parquet(penguins().drop(columns=["sex"]), data / "nosex.parquet")
    with pytest.raises(MissingColumnsError, match=r"nosex\.parquet, rows 0-343: .*sex"):
        predict_file(ws, "penguins@1", source, data / "out.parquet", batch_rows=1000)


@pytest.mark.parametrize(
    ("output", "match"),
    [
        ("folder", r"is a folder"),
        ("missing/out.parquet", r"folder of output .* does not exist"),
        ("in.parquet", r"is the input file"),
        ("out.json", r"neither \.parquet nor \.csv"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_scoring(
    models: Any, data: Path, output: str, match: str
) -> None:
    ws, *_ = models
    (data / "folder").mkdir()
    source = _parquet(penguins(), data / "in.parquet")
    before = source.read_bytes()
    with pytest.raises(BatchInputError, match=match):
        predict_file(ws, "penguins@1", source, data / output)
    assert source.read_bytes() == before
    assert not (data / "missing").exists()
    assert ws.audit_log(action="model.batch_predict") == []


def test_an_input_that_does_not_exist_or_is_not_tabular_is_refused(models: Any, data: Path) -> None:
    ws, *_ = models
    with pytest.raises(BatchInputError, match=r"does not exist"):
        predict_file(ws, "penguins@1", data / "nope.parquet", data / "out.parquet")
    (data / "x.json").write_text("{}")
    with pytest.raises(BatchInputError, match=r"neither Parquet nor CSV"):
        predict_file(ws, "penguins@1", data / "x.json", data / "out.parquet")
    with pytest.raises(BatchInputError, match=r"No file matches"):
        predict_file(ws, "penguins@1", str(data / "*.parquet"), data / "out.parquet")


def test_an_unknown_model_is_a_conveyor_error(models: Any, data: Path) -> None:
    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    with pytest.raises(ConveyorError, match="nosuch"):
        predict_file(ws, "nosuch@1", source, data / "out.parquet")
    with pytest.raises(ConveyorError, match="staging"):
        predict_file(ws, "penguins@staging", source, data / "out.parquet")


# --- behaviour -------------------------------------------------------------------------


def test_parquet_predictions_equal_the_models_own(models: Any, data: Path) -> None:
    """Mixed strings and missing values, 7 batches: every input column passed through,
    predictions equal to the fitted pipeline's on the same rows."""
    ws, classifier, _ = models
    frame = penguins()
    source = _parquet(frame, data / "in.parquet", row_group_size=64)
    result = predict_file(ws, "penguins@1", source, data / "out.parquet", batch_rows=50)
    assert (result.rows, result.batches, result.version) == (344, 7, 1)
    assert result.content_hash == ws.models.get("penguins@1").content_hash
    out = pd.read_parquet(data / "out.parquet")
    assert list(out.columns) == [*frame.columns, "prediction"]
    expected = classifier.predict(frame.drop(columns=["species"]))
    assert out["prediction"].tolist() == expected.tolist()
    pd.testing.assert_frame_equal(out.drop(columns=["prediction"]), frame, check_dtype=False)
    assert _leftovers(data) == []


def test_csv_in_csv_out_with_kept_columns_and_probabilities(models: Any, data: Path) -> None:
    ws, classifier, _ = models
    frame = penguins().drop(columns=["species"]).reset_index(names="penguin_id")
    source = data / "in.csv"
    frame.to_csv(source, index=False)
    result = predict_file(
        ws, "penguins", source, data / "out.csv", batch_rows=100, keep=["penguin_id"], proba=True
    )
    assert result.rows == 344
    out = pd.read_csv(data / "out.csv")
    classes = classifier.classes_.tolist()
    assert list(out.columns) == ["penguin_id", "prediction", *[f"proba_{c}" for c in classes]]
    x = frame.drop(columns=["penguin_id"])
    assert out["penguin_id"].tolist() == list(range(344))
    assert out["prediction"].tolist() == classifier.predict(x).tolist()
    np.testing.assert_allclose(
        out[[f"proba_{c}" for c in classes]].to_numpy(), classifier.predict_proba(x), rtol=1e-9
    )


def test_a_regression_over_a_folder_of_parts_matches_the_model(models: Any, data: Path) -> None:
    ws, _, ridge = models
    x = load_diabetes(as_frame=True).data
    parts = data / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, len(x), 150)):
        _parquet(x.iloc[start : start + 150], parts / f"part-{i}.parquet")
    result = predict_file(ws, "diabetes@1", parts, data / "scores.parquet", batch_rows=128)
    assert result.rows == len(x)
    out = pd.read_parquet(data / "scores.parquet")
    np.testing.assert_allclose(out["prediction"].to_numpy(), ridge.predict(x), rtol=1e-12)


def test_a_run_is_audited_with_the_input_hash_and_the_version(models: Any, data: Path) -> None:
    from conveyor.core import hash_file

    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    result = predict_file(ws, "penguins@1", source, data / "out.parquet")
    (event,) = ws.audit_log(action="model.batch_predict")
    assert event.target == "model:penguins@1"
    details = event.details
    assert details["input_hash"] == hash_file(source) == result.input_hash
    assert details["input_bytes"] == source.stat().st_size
    assert details["rows"] == 344
    assert details["output"] == str(data / "out.parquet")
    assert details["content_hash"] == result.content_hash


@pytest.mark.slow  # tracemalloc slows every allocation
def test_memory_is_bounded_by_the_batch_not_the_file(models: Any, data: Path) -> None:
    """Python heap peak (tracemalloc) when scoring a file 16x larger stays about the same
    as for the smaller one, and far below the heap the larger file needs when held whole."""
    ws, *_ = models
    frame = penguins()
    small = _parquet(pd.concat([frame] * 10, ignore_index=True), data / "small.parquet")
    large = _parquet(pd.concat([frame] * 160, ignore_index=True), data / "large.parquet")

    def peak(source: Path) -> int:
        tracemalloc.start()
        try:
            predict_file(ws, "penguins@1", source, data / "out.parquet", batch_rows=256)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(small)  # warm: imports and caches count once
    small_peak, large_peak = peak(small), peak(large)
    tracemalloc.start()
    try:
        whole = pq.read_table(large).to_pydict()
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del whole
    assert large_peak < small_peak * 1.5
    assert large_peak < held / 2
