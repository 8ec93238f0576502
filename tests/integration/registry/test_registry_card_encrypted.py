"""In an encrypted workspace the model card shows the training data's profile values,
opened from the sealed copy in the metadata database."""

from __future__ import annotations

from pathlib import Path

from palmerpenguins import load_penguins
from sklearn.linear_model import LinearRegression

from conveyor.artifacts import MasterKey
from conveyor.workspace import Workspace

PLANTED = "PLANTED-island-Qx42"


def test_card_of_an_encrypted_workspace_shows_opened_profile_values(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text(
        "project: {name: sealed}\nstore: {encryption: {enabled: true}}\n", encoding="utf-8"
    )
    env = {"CONVEYOR_MASTER_KEY": MasterKey.generate().to_text()}
    frame = load_penguins().dropna()
    frame.loc[frame.index[:150], "island"] = PLANTED  # the most frequent value
    features = frame[["bill_length_mm", "bill_depth_mm"]]
    with Workspace.open(tmp_path, env=env, search_parents=False) as ws:
        ws.datasets.add("survey", frame)
        ws.models.register(
            "mass",
            LinearRegression().fit(features, frame["body_mass_g"]),
            input_example=features.head(3),
            training_data="survey@1",
            explain=False,
            onnx=False,
        )
        card = ws.models.card("mass@1")
    assert PLANTED in card.markdown
    assert "cvyf1:" not in card.markdown
    stored = b"".join(p.read_bytes() for p in (tmp_path / ".conveyor").rglob("*") if p.is_file())
    assert PLANTED.encode() not in stored  # the database, its WAL and the artifacts
