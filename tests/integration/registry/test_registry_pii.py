"""A version registered with ``pii=`` flags those columns in its signature and never keeps
their values: not in the stored input example, the card, or ``conveyor models show``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.registry import RegistrationError
from conveyor.registry._personal import REDACTED
from conveyor.registry.flavors import Signature
from conveyor.workspace import Workspace

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def penguins() -> tuple[pd.DataFrame, pd.Series]:
    """Palmer penguins' measurements plus a synthetic ``email`` per bird."""
    frame = load_penguins().dropna(subset=[*NUMERIC, "species"]).reset_index(drop=True)
    features = frame[NUMERIC].copy()
    features["email"] = [f"bird{i}.{s.lower()}@example.org" for i, s in enumerate(frame.species)]
    return features, frame["species"]


def pipeline(x: pd.DataFrame, y: pd.Series) -> Pipeline:
    numbers = ColumnTransformer([("n", StandardScaler(), NUMERIC)])  # email is dropped
    return make_pipeline(numbers, LogisticRegression(max_iter=500)).fit(x, y)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("pii") / "proj"
    root.mkdir()
    (root / "conveyor.yaml").write_text("project: {name: pii}\n", encoding="utf-8")
    x, y = penguins()
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("birds", x.assign(species=y))
        ws.models.register(
            "penguins",
            pipeline(x, y),
            input_example=x.head(10),
            training_data="birds@latest",
            pii=("email",),
            explain=False,
        )
    return root, x


def _emails_in(text: str, x: pd.DataFrame) -> list[str]:
    return [email for email in x["email"] if email in text]


def test_the_signature_flags_email_and_round_trips(project: tuple[Path, pd.DataFrame]) -> None:
    root, _ = project
    with Workspace.open(root, env={}, search_parents=False) as ws:
        version = ws.models.get("penguins@1")
    inputs = {c["name"]: c for c in version.signature["inputs"]}
    assert inputs["email"]["pii"] is True
    assert all("pii" not in inputs[name] for name in NUMERIC)
    signature = Signature.from_dict(version.signature)
    assert signature.pii_columns == ["email"]
    assert signature.to_dict() == version.signature


def test_the_stored_input_example_keeps_the_column_but_no_email(
    project: tuple[Path, pd.DataFrame],
) -> None:
    root, x = project
    with Workspace.open(root, env={}, search_parents=False) as ws:
        version = ws.models.get("penguins@1")
        example = version.input_example
        assert example["columns"] == [*NUMERIC, "email"]
        assert [row[-1] for row in example["data"]] == [REDACTED] * 10
        assert [row[0] for row in example["data"]] == x["bill_length_mm"].head(10).tolist()
        assert not _emails_in(json.dumps(example), x)
        # The blanked example still serves its purpose: the model predicts on it.
        loaded = ws.models.load("penguins@1", prefer_onnx=False)
        try:
            frame = pd.DataFrame(example["data"], columns=example["columns"])
            assert len(loaded.predict(frame)) == 10
        finally:
            loaded.close()


def test_the_card_marks_email_as_personal_data_and_shows_no_email(
    project: tuple[Path, pd.DataFrame],
) -> None:
    root, x = project
    with Workspace.open(root, env={}, search_parents=False) as ws:
        card = ws.models.card("penguins@1")
        profile = ws.datasets.get("birds@1").profile
    # The training data's profile holds top email values: the card must hold them back.
    top = [t["value"] for t in profile["columns"]["email"].get("top") or []]
    assert _emails_in(" ".join(map(str, top)), x)
    for text in (card.markdown, card.html):
        assert not _emails_in(text, x)
    assert "| email | string (personal data) |" in card.markdown
    assert "Personal data: email." in card.markdown
    assert "personal data (not shown)" in card.markdown
    assert "| bill_length_mm | double |" in card.markdown


def _conveyor(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(COLUMNS="250")
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_models_show_and_card_never_print_an_email(project: tuple[Path, pd.DataFrame]) -> None:
    root, x = project
    shown = _conveyor(root, "models", "show", "penguins@1")
    assert "email (personal data)" in shown
    as_json = _conveyor(root, "models", "show", "penguins@1", "--json")
    assert REDACTED in as_json
    card = _conveyor(root, "models", "card", "penguins@1")
    for text in (shown, as_json, card):
        assert not _emails_in(text, x)


def test_an_unknown_pii_column_is_refused_before_anything_is_registered(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: pii}\n", encoding="utf-8")
    x, y = penguins()
    with Workspace.open(tmp_path, env={}, search_parents=False) as ws:
        model = pipeline(x, y)
        with pytest.raises(RegistrationError, match=r"'phone'.*bill_length_mm.*email") as caught:
            ws.models.register("penguins", model, input_example=x.head(5), pii=("email", "phone"))
        assert caught.value.fields["unknown"] == ["phone"]
        with pytest.raises(RegistrationError, match="no signature"):
            ws.models.register("penguins", model, pii=("email",))
        assert ws.models.list() == []


def test_a_given_signature_is_flagged_and_a_flagged_one_is_honoured(tmp_path: Path) -> None:
    """``pii=`` also flags a signature passed in; a signature dict already flagged blanks
    the example without ``pii=``."""
    (tmp_path / "conveyor.yaml").write_text("project: {name: pii}\n", encoding="utf-8")
    x, y = penguins()
    with Workspace.open(tmp_path, env={}, search_parents=False) as ws:
        model = pipeline(x, y)
        plain = ws.models.register("a", model, input_example=x.head(3), explain=False, onnx=False)
        assert "pii" not in json.dumps(plain.signature)
        assert not Signature.from_dict(plain.signature).pii_columns
        assert x["email"].iloc[0] in json.dumps(plain.input_example)  # the control
        given = Signature.from_dict(plain.signature)
        first = ws.models.register(
            "b", model, input_example=x.head(3), signature=given, pii="email", onnx=False
        )
        flagged = Signature.from_dict(first.signature).to_dict()
        second = ws.models.register(
            "c", model, input_example=x.head(3), signature=flagged, explain=False, onnx=False
        )
        for version in (first, second):
            assert Signature.from_dict(version.signature).pii_columns == ["email"]
            assert not _emails_in(json.dumps(version.input_example), x)
