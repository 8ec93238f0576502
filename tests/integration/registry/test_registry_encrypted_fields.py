"""In an encrypted workspace a version's input example and descriptions are sealed in the
metadata database and opened on every read; rotating the master key keeps them readable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from conveyor.artifacts import MasterKey
from conveyor.artifacts._fields import is_sealed
from conveyor.errors import EncryptionKeyError
from conveyor.registry import ModelRef
from conveyor.workspace import Workspace

EXAMPLE = "PLANTED-example-Zq81"
DESCRIPTION = "PLANTED-description-Wx55"


def _stored(root: Path) -> bytes:
    """Every byte under ``.conveyor``: the database, its WAL, the artifacts."""
    return b"".join(p.read_bytes() for p in (root / ".conveyor").rglob("*") if p.is_file())


def _project(root: Path) -> None:
    (root / "conveyor.yaml").write_text(
        "project: {name: sealed}\nstore: {encryption: {enabled: true}}\n", encoding="utf-8"
    )


def _model() -> tuple[object, pd.DataFrame]:
    frame = pd.DataFrame({"city": [EXAMPLE, "Lyon", "Oslo", "Lyon"], "y": [1, 0, 1, 0]})
    features = frame[["city"]]
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    return model.fit(features, frame["y"]), features


def test_input_example_and_descriptions_never_reach_the_database_in_plaintext(
    tmp_path: Path,
) -> None:
    _project(tmp_path)
    env = {"CONVEYOR_MASTER_KEY": MasterKey.generate().to_text()}
    model, features = _model()
    with Workspace.open(tmp_path, env=env, search_parents=False) as ws:
        made = ws.models.register(
            "city", model, input_example=features, description=DESCRIPTION, onnx=False
        )
        stored = ws.models.records.get_version(ModelRef("city", version=1))
        got = ws.models.get("city@1")
        listed = ws.models.versions("city")
        summary = ws.models.list()[0]
        card = ws.models.card("city@1")
        with ws.models.load("city@1") as loaded:
            served_example = loaded.version.input_example
    assert is_sealed(stored.input_example)
    assert is_sealed(stored.description)
    for version in (made, got, listed[0]):
        assert version.description == DESCRIPTION
        assert version.input_example["data"][0] == [EXAMPLE]
    assert served_example == made.input_example
    assert summary.description == DESCRIPTION
    assert DESCRIPTION in card.markdown
    assert "cvyf1:" not in card.markdown
    everything = _stored(tmp_path)
    assert EXAMPLE.encode() not in everything
    assert DESCRIPTION.encode() not in everything


def test_an_idempotent_retry_and_a_decision_return_opened_values(tmp_path: Path) -> None:
    _project(tmp_path)
    env = {"CONVEYOR_MASTER_KEY": MasterKey.generate().to_text()}
    model, features = _model()
    with Workspace.open(tmp_path, env=env, search_parents=False) as ws:
        first = ws.models.register(
            "city",
            model,
            input_example=features,
            description=DESCRIPTION,
            onnx=False,
            explain=False,
            idempotency_key="build-1",
        )
        again = ws.models.register("city", model, input_example=features, idempotency_key="build-1")
        decided = ws.models.record_decision("city@1", verdict="PROMOTE")
    assert again == first
    assert decided.description == DESCRIPTION
    assert decided.input_example == first.input_example


def test_sealed_values_stay_readable_after_rotating_the_master_key(tmp_path: Path) -> None:
    _project(tmp_path)
    old, new = MasterKey.generate(), MasterKey.generate()
    model, features = _model()
    with Workspace.open(
        tmp_path, env={"CONVEYOR_MASTER_KEY": old.to_text()}, search_parents=False
    ) as ws:
        made = ws.models.register(
            "city", model, input_example=features, description=DESCRIPTION, onnx=False
        )
        ws.artifacts.rotate_master_key(new)  # what `conveyor keys rotate` does
    with Workspace.open(
        tmp_path, env={"CONVEYOR_MASTER_KEY": new.to_text()}, search_parents=False
    ) as ws:
        got = ws.models.get("city@1")
        assert DESCRIPTION in ws.models.card("city@1").markdown
    assert got.input_example == made.input_example
    assert got.description == DESCRIPTION
    with (
        Workspace.open(
            tmp_path,
            env={"CONVEYOR_MASTER_KEY": MasterKey.generate().to_text()},
            search_parents=False,
        ) as ws,
        pytest.raises(EncryptionKeyError),
    ):
        ws.models.get("city@1")


def test_models_show_prints_the_opened_description(tmp_path: Path) -> None:
    _project(tmp_path)
    key = MasterKey.generate().to_text()
    model, features = _model()
    with Workspace.open(tmp_path, env={"CONVEYOR_MASTER_KEY": key}, search_parents=False) as ws:
        ws.models.register(
            "city", model, input_example=features, description=DESCRIPTION, onnx=False
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_MASTER_KEY=key, COLUMNS="250")
    shown = subprocess.run(
        [sys.executable, "-m", "conveyor", "models", "show", "city@1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"description: {DESCRIPTION}" in shown.stdout
