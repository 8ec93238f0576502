"""A version registered without feature importance says why on its card."""

from __future__ import annotations

from pathlib import Path

from palmerpenguins import load_penguins
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from conveyor.workspace import Workspace


def test_the_card_names_why_importance_was_not_computed(tmp_path: Path) -> None:
    frame = load_penguins().dropna()
    features = frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]]
    labels = frame["species"].astype(object)  # string labels
    (tmp_path / "conveyor.yaml").write_text("project: {name: cards}\n", encoding="utf-8")
    with Workspace.open(tmp_path, search_parents=False) as ws:
        # Predicts strings and has no predict_proba: SHAP has nothing numeric to explain.
        unexplainable = ws.models.register(
            "svc", LinearSVC().fit(features, labels), input_example=features.head(5), onnx=False
        )
        skipped = ws.models.register(
            "lr",
            LogisticRegression(max_iter=500).fit(features, labels),
            input_example=features.head(5),
            explain=False,
            onnx=False,
        )
        explained = ws.models.register(
            "lr",
            LogisticRegression(max_iter=500).fit(features, labels),
            input_example=features.head(5),
            onnx=False,
        )
        unexplained_card = ws.models.card(unexplainable.ref).markdown
        skipped_card = ws.models.card(skipped.ref).markdown
        explained_card = ws.models.card(explained.ref).markdown
    assert unexplainable.importance in ({}, None)
    assert "Not computed for this version: " in unexplained_card
    assert "not numbers" in unexplained_card
    assert "Not computed for this version: registered with explain=False" in skipped_card
    assert explained.importance
    assert "Not computed" not in explained_card
