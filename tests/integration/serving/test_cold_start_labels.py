"""Class labels read from a skops archive without loading it (what the server serving the
ONNX twin uses): real estimators give their labels; crafted archives give ``None`` (the
server then loads the estimator under the load policy), never an exception or a pickle."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.registry.flavors._sklearn import skops_class_labels


def _archive(schema: object, members: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _estimator(classes: dict[str, object]) -> dict[str, object]:
    return {"__class__": "X", "content": {"__class__": "dict", "content": {"classes_": classes}}}


ARRAY = {"__loader__": "NdArrayNode", "type": "numpy", "file": "0.npy"}


def test_labels_of_real_classifiers_and_pipelines_are_read() -> None:
    iris = load_iris(as_frame=True)
    names = iris.target_names[iris.target]
    plain = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(iris.data, names)
    assert skops_class_labels(sio.dumps(plain)) == (0, 1, 2)
    assert skops_class_labels(sio.dumps(pipeline)) == ("setosa", "versicolor", "virginica")
    assert skops_class_labels(sio.dumps(StandardScaler().fit(iris.data))) is None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"not a zip", id="not-an-archive"),
        pytest.param(_archive({"content": "x"}), id="no-estimator"),
        pytest.param(
            _archive(_estimator(ARRAY), {"0.npy": _npy(np.array([{"a": 1}], dtype=object))}),
            id="pickled-object-array",
        ),
        pytest.param(_archive(_estimator(ARRAY)), id="missing-member"),
        pytest.param(_archive(_estimator(ARRAY), {"0.npy": _npy(np.zeros((2, 2)))}), id="not-1-d"),
        pytest.param(_archive(_estimator({**ARRAY, "file": ["0.npy"]})), id="file-not-a-name"),
        pytest.param(
            _archive(_estimator({**ARRAY, "__loader__": "ObjectNode"})), id="not-an-array-node"
        ),
        pytest.param(_archive(json.loads("[" * 50 + "]" * 50)), id="nested-lists"),
        pytest.param(b"PK" + _archive({}) + b"\x00" * 100, id="trailing-garbage"),
    ],
)
def test_crafted_archives_give_no_labels(data: bytes) -> None:
    assert skops_class_labels(data) is None


def test_an_archive_that_would_inflate_past_the_limits_gives_no_labels() -> None:
    header = io.BytesIO()
    count = 8 * 1024 * 1024
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (count,)}
    )
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", json.dumps(_estimator(ARRAY)))
        archive.writestr("0.npy", header.getvalue() + bytes(8 * count))  # 64 MiB of zeros
    data = bomb.getvalue()
    assert len(data) < 1024 * 1024
    assert skops_class_labels(data) is None  # refused by the compression-ratio check
