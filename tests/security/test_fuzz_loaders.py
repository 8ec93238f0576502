"""Fuzzing the skops loader and the MLflow importer: any input gives a loaded model or a
``ConveyorError``, never another exception, and never runs code.

Each target runs ``CONVEYOR_FUZZ_EXAMPLES`` examples (default 50); set it higher for a
longer search, e.g. ``CONVEYOR_FUZZ_EXAMPLES=5000 pytest tests/security -k fuzz``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import random
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio
import skops_crafting as craft
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conveyor.core import load_skops
from conveyor.errors import ConveyorError
from conveyor.registry.flavors import read_mlflow_model

EXAMPLES = int(os.environ.get("CONVEYOR_FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 50,  # the bounded run is reproducible; longer runs explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MARKER = Path(tempfile.gettempdir()) / f"conveyor-fuzz-ran-{os.getpid()}.txt"
DANGEROUS = sorted(craft.attacks(str(MARKER)))
LOADERS = [
    "ObjectNode",
    "ConstructorFromReduceNode",
    "FunctionNode",
    "TypeNode",
    "ReduceNode",
    "TreeNode",
    "NdArrayNode",
    "PartialNode",
    "MethodNode",
    "OperatorFuncNode",
    "DictNode",
    "ListNode",
    "JsonNode",
    "BytesNode",
    "SparseMatrixNode",
    "CachedNode",
]


def _penguin_model() -> bytes:
    import palmerpenguins

    frame = palmerpenguins.load_penguins().sample(120, random_state=0)
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["bill_length_mm"]),
            (
                "cat",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
                ["island"],
            ),
        ]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=500))])
    return sio.dumps(model.fit(frame, frame["species"]))


VALID = _penguin_model()
with zipfile.ZipFile(io.BytesIO(VALID)) as _archive:
    MEMBERS = {name: _archive.read(name) for name in _archive.namelist()}
SCHEMA = json.loads(MEMBERS["schema.json"])


def _nodes(tree: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [tree]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_schemas(draw: st.DrawFn) -> bytes:
    """The valid archive with some of its schema's nodes rewritten as an attacker would."""
    schema = copy.deepcopy(SCHEMA)
    nodes = _nodes(schema)
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(1, 6))):
        node = rng.choice(nodes)
        action = draw(st.sampled_from(["name", "loader", "content", "drop", "attack", "id"]))
        if action == "name":
            module, _, name = draw(st.sampled_from(DANGEROUS)).rpartition(".")
            node["__module__"], node["__class__"] = module, name
        elif action == "loader":
            node["__loader__"] = draw(st.sampled_from(LOADERS))
        elif action == "content":
            node[draw(st.sampled_from(["content", "attrs", "file", "__reduce__", "type"]))] = draw(
                json_values
            )
        elif action == "drop" and node:
            node.pop(rng.choice(sorted(node)))
        elif action == "attack":
            node.clear()
            node.update(craft.attacks(str(MARKER))[draw(st.sampled_from(DANGEROUS))])
        else:
            node["__id__"] = draw(st.integers(-5, 5))
    members = {**MEMBERS, "schema.json": json.dumps(schema).encode()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    return buffer.getvalue()


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """The valid archive with bytes flipped, cut or inserted."""
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
            if not data:
                break
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _load_or_conveyor_error(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are not what this target looks for
        with contextlib.suppress(ConveyorError):
            load_skops(data, source="fuzz.skops")
    assert not MARKER.exists(), "crafted code ran"


@FUZZ
@given(mutated_schemas())
def test_fuzz_skops_schema_mutations(data: bytes) -> None:
    _load_or_conveyor_error(data)


@FUZZ
@given(mutated_bytes())
def test_fuzz_skops_byte_mutations(data: bytes) -> None:
    _load_or_conveyor_error(data)


# --- the MLflow importer ---------------------------------------------------------------

paths = st.sampled_from(
    ["model.skops", "model.pkl", "../model.skops", "/etc/passwd", "sub/../model.skops", "", "."]
) | st.text(max_size=12)
classes = st.sampled_from(
    ["xgboost.core.Booster", "xgboost.sklearn.XGBClassifier", "payload_fuzz.Evil", "os.system"]
) | st.text(max_size=12)
flavor_conf = st.fixed_dictionaries(
    {},
    optional={
        "pickled_model": paths,
        "serialization_format": st.sampled_from(["skops", "pickle", "cloudpickle"]) | json_values,
        "data": paths,
        "model_class": classes | json_values,
        "model_data": paths,
    },
)
mlmodels = st.fixed_dictionaries(
    {
        "flavors": st.dictionaries(
            st.sampled_from(
                ["sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "python_function"]
            ),
            flavor_conf | json_values,
            max_size=3,
        )
        | json_values
    },
    optional={
        "signature": st.fixed_dictionaries(
            {},
            optional={"inputs": json_values.map(json.dumps) | json_values, "outputs": json_values},
        )
        | json_values,
        "saved_input_example_info": st.fixed_dictionaries(
            {"type": st.sampled_from(["dataframe", "ndarray"]), "artifact_path": paths}
        )
        | json_values,
        "mlflow_version": json_values,
    },
)


@FUZZ
@given(
    spec=mlmodels | st.text(max_size=200) | st.binary(max_size=200),
    example=json_values,
)
def test_fuzz_mlflow_model_directories(spec: Any, example: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "payload_fuzz.py").write_text(
            f"open({str(MARKER)!r}, 'w').write('imported')\nclass Evil: ...\n", encoding="utf-8"
        )
        folder = root / "model"
        folder.mkdir()
        (folder / "model.skops").write_bytes(VALID)
        (folder / "model.pkl").write_bytes(b"cos\nsystem\n(S'touch /nonexistent'\ntR.")
        (folder / "example.json").write_text(json.dumps(example), encoding="utf-8")
        if isinstance(spec, bytes):
            (folder / "MLmodel").write_bytes(spec)
        else:
            text = spec if isinstance(spec, str) else yaml.safe_dump(spec)
            (folder / "MLmodel").write_text(text, encoding="utf-8")
        cwd = Path.cwd()
        os.chdir(root)  # as a user would run it: the payload's folder is the working folder
        sys.path.insert(0, str(root))  # ... and importable
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with contextlib.suppress(ConveyorError):
                    read_mlflow_model(folder)
        finally:
            sys.path.remove(str(root))
            os.chdir(cwd)
    assert not MARKER.exists(), "code from the model directory ran"
