"""`conveyor build` contexts: Dockerfile, labels, pinned requirements, the copied version
(number, hash, signatures kept), name mapping and the refusals, on real workspaces."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from conveyor.deployments import Variant
from conveyor.infra import image_name
from conveyor.infra._build import MARKER, BuildError, build_context, check_tag
from conveyor.infra._requirements import pins_for
from conveyor.registry import ENVIRONMENT_KEY, TransferError, copy_version, flavor_environment
from conveyor.serving._launch import verify_version
from conveyor.workspace import Workspace
from small_project import points

CONFIG = """\
project: {name: build-test}
environments:
  production: {strategy: replace}
"""


def _fit(seed: int) -> tuple[LogisticRegression, pd.DataFrame]:
    frame = points(120, seed=seed)
    features = frame.drop(columns=["y"])
    return LogisticRegression().fit(features, frame["y"]), features


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A project with churn@1..3 (three fits of the points data set)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "conveyor.yaml").write_text(CONFIG)
    with Workspace.open(root, env={}) as workspace:
        for seed in (1, 2, 3):
            model, features = _fit(seed)
            workspace.models.register("churn", model, input_example=features.head(5), onnx=False)
        yield workspace


def test_context_serves_the_version_with_its_number_hash_and_files(
    ws: Workspace, tmp_path: Path
) -> None:
    """The image project holds churn@2 under number 2, verifies it, and predicts alike."""
    ctx = build_context(ws, "churn@2", tmp_path / "ctx")
    source = ws.models.get("churn@2")
    assert ctx.ref == "churn@2"
    assert ctx.image == "churn:2"
    with Workspace.open(ctx.path / "project", env={}, search_parents=False) as inner:
        copied = verify_version(inner, "churn@2")  # every file against its hash
        assert (copied.version, copied.content_hash) == (2, source.content_hash)
        assert copied.signature == source.signature
        assert copied.flavor == source.flavor == "sklearn"
        assert [v.version for v in inner.models.versions("churn")] == [2]
        rows = points(10, seed=9).drop(columns=["y"])
        mine = inner.models.load("churn@2").predict(rows)
        theirs = ws.models.load("churn@2").predict(rows)
        assert list(pd.DataFrame(mine).to_numpy().ravel()) == list(
            pd.DataFrame(theirs).to_numpy().ravel()
        )
        (event,) = [e for e in inner.audit_log() if e.action == "model.import"]
        assert event.target == "model:churn@2"


def test_dockerfile_has_base_arg_user_healthcheck_and_entry_point(
    ws: Workspace, tmp_path: Path
) -> None:
    ctx = build_context(ws, "churn@1", tmp_path / "ctx")
    text = (ctx.path / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}" in text
    assert "python3 -m venv /opt/conveyor" in text
    assert "--find-links /tmp/conveyor-build/wheels" in text
    assert "-r /tmp/conveyor-build/requirements.txt -c /tmp/conveyor-build/constraints.txt" in text
    assert "\nUSER 10001:10001\n" in text
    assert "COPY --chown=10001:10001 project/ /app/project/" in text
    health = text.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    assert '"/opt/conveyor/bin/python", "/opt/conveyor-healthcheck.py"' in health
    assert "curl" not in text
    assert 'ENTRYPOINT ["/opt/conveyor/bin/conveyor", "serve"]' in text
    assert 'CMD ["--model", "churn@1", "--host", "0.0.0.0", "--port", "8080"' in text
    assert "/v2/health/ready" in (ctx.path / "healthcheck.py").read_text()
    ignore = (ctx.path / ".dockerignore").read_text().splitlines()
    assert {"**/__pycache__", MARKER, "project/.conveyor/*.db-wal"} <= set(ignore)
    wheels = list((ctx.path / "wheels").glob("conveyor_ml-*.whl"))
    assert len(wheels) == 1


def test_labels_name_version_hash_and_gate_decision(ws: Workspace, tmp_path: Path) -> None:
    ws.models.record_decision("churn@3", verdict="PROMOTE", reasons=["auc up"])
    ctx = build_context(ws, "churn@3", tmp_path / "ctx")
    version = ws.models.get("churn@3")
    assert ctx.labels["ml.conveyor.model.name"] == "churn"
    assert ctx.labels["ml.conveyor.model.version"] == "3"
    assert ctx.labels["ml.conveyor.model.content-hash"] == version.content_hash
    assert ctx.labels["ml.conveyor.model.gate-decision"] == "PROMOTE"
    assert ctx.labels["org.opencontainers.image.version"] == "3"
    text = (ctx.path / "Dockerfile").read_text()
    for key, value in ctx.labels.items():
        assert f"{key}={json.dumps(value)}" in text
    undecided = build_context(ws, "churn@1", tmp_path / "ctx1")
    assert undecided.labels["ml.conveyor.model.gate-decision"] == "none"


def test_requirements_pin_the_recorded_environment(ws: Workspace, tmp_path: Path) -> None:
    """Registration records the flavor's packages; the build pins exactly those."""
    version = ws.models.get("churn@1")
    recorded = version.lineage[ENVIRONMENT_KEY]
    assert set(recorded["packages"]) >= {"numpy", "pandas", "scikit-learn", "skops"}
    ctx = build_context(ws, "churn@1", tmp_path / "ctx")
    lines = (ctx.path / "requirements.txt").read_text().splitlines()
    assert lines[0].startswith("conveyor-ml==")  # sklearn needs no extra
    assert lines[1:] == [f"{k}=={v}" for k, v in sorted(recorded["packages"].items())]
    assert ctx.warnings == ()
    constraints = (ctx.path / "constraints.txt").read_text().splitlines()
    names = {line.split("==")[0].lower() for line in constraints}
    assert "fastapi" in names
    assert "scikit-learn" not in names  # pinned by requirements, not twice


def test_a_version_without_recorded_packages_falls_back_with_a_warning(
    ws: Workspace,
) -> None:
    old = ws.models.get("churn@1")
    lineage = {k: v for k, v in old.lineage.items() if k != ENVIRONMENT_KEY}
    pins = pins_for(replace(old, lineage=lineage))
    (warning,) = pins.warnings
    assert "churn@1 records no package versions" in warning
    now = flavor_environment("sklearn")["packages"]
    assert pins.requirements[1:] == tuple(f"{k}=={v}" for k, v in sorted(now.items()))


def test_a_served_onnx_twin_adds_the_onnx_extra_and_its_runtime(
    ws: Workspace, tmp_path: Path
) -> None:
    """`conveyor serve` loads a twin that passed parity, so the image must run it."""
    model, features = _fit(5)
    version = ws.models.register("twin", model, input_example=features.head(5))
    assert version.onnx is not None
    assert version.onnx["parity"]["passed"]
    assert "onnxruntime" in version.lineage[ENVIRONMENT_KEY]["packages"]
    ctx = build_context(ws, "twin@1", tmp_path / "ctx")
    assert ctx.requirements[0].startswith("conveyor-ml[onnx]==")
    assert any(line.startswith("onnxruntime==") for line in ctx.requirements)


def test_extras_only_for_the_flavor(ws: Workspace) -> None:
    version = ws.models.get("churn@1")
    assert (
        pins_for(replace(version, flavor="onnx")).requirements[0].startswith("conveyor-ml[onnx]==")
    )
    assert (
        pins_for(replace(version, flavor="xgboost"))
        .requirements[0]
        .startswith("conveyor-ml[boosting]==")
    )


@pytest.mark.parametrize(
    ("flavor", "why"),
    [("pyfunc", "custom code"), ("pickle", "any Python object"), ("my_plugin", "does not know")],
)
def test_flavors_with_unknown_requirements_are_refused(
    ws: Workspace, flavor: str, why: str
) -> None:
    version = replace(ws.models.get("churn@1"), flavor=flavor)
    with pytest.raises(BuildError, match=f"flavor '{flavor}' is not supported.*{why}") as info:
        pins_for(version)
    assert info.value.hint is not None
    assert "onnx" in info.value.hint


def test_torch_model_is_refused_naming_torch(ws: Workspace, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():  # TorchScript is deprecated, and still what the flavor saves
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(torch.nn.Linear(2, 1))
    ws.models.register("net", scripted)
    with pytest.raises(BuildError, match=r"net@1: its flavor 'pytorch'.*torch.*local wheel"):
        build_context(ws, "net@1", tmp_path / "ctx")
    assert not (tmp_path / "ctx").exists()


def test_local_build_of_a_package_is_refused(ws: Workspace) -> None:
    version = ws.models.get("churn@1")
    lineage = {
        **version.lineage,
        ENVIRONMENT_KEY: {"python": "3.11.7", "packages": {"numpy": "2.0+local"}},
    }
    with pytest.raises(BuildError, match=r"numpy==2\.0\+local .* local build"):
        pins_for(replace(version, lineage=lineage))


def test_names_that_are_not_image_names_are_mapped(ws: Workspace, tmp_path: Path) -> None:
    model, features = _fit(4)
    ws.models.register("Churn_Model.v2", model, input_example=features.head(3), onnx=False)
    ctx = build_context(ws, "Churn_Model.v2@1", tmp_path / "ctx")
    assert ctx.image == f"{image_name('Churn_Model.v2')}:1"
    assert ctx.image.startswith("churn-model-v2-")
    check_tag(ctx.image)
    assert ctx.labels["ml.conveyor.model.name"] == "Churn_Model.v2"
    assert ctx.labels["org.opencontainers.image.title"] == image_name("Churn_Model.v2")


def test_output_must_be_new_empty_or_an_earlier_context(ws: Workspace, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match=r"busy is not empty \(1 entries\).*refusing"):
        build_context(ws, "churn@1", busy)
    assert (busy / "notes.txt").read_text() == "mine"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(BuildError, match="is a file"):
        build_context(ws, "churn@1", a_file)
    empty = tmp_path / "empty"
    empty.mkdir()
    build_context(ws, "churn@1", empty)
    again = build_context(ws, "churn@2", empty)  # an earlier context is replaced
    assert json.loads((empty / MARKER).read_text())["ref"] == "churn@2" == again.ref


def test_environment_builds_what_it_serves(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="Environment 'production' has no deployment"):
        build_context(ws, "churn", tmp_path / "ctx", env="production")
    ws.deployments.transition(
        "production",
        expected_revision=None,
        action="deploy",
        reason="test",
        strategy="replace",
        state="stable",
        variants=(Variant("churn", 2, "champion", 100.0),),
    )
    ctx = build_context(ws, "churn", tmp_path / "ctx", env="production")
    assert (ctx.ref, ctx.environment) == ("churn@2", "production")
    assert ctx.labels["ml.conveyor.environment"] == "production"
    assert "production" in (ctx.path / "project" / "conveyor.yaml").read_text()
    with pytest.raises(BuildError, match="serves churn@2, not churn@3"):
        build_context(ws, "churn@3", tmp_path / "other", env="production")


def test_encrypted_workspace_is_refused(ws: Workspace, tmp_path: Path) -> None:
    target_root = tmp_path / "sealed"
    target_root.mkdir()
    (target_root / "conveyor.yaml").write_text(
        "project: {name: sealed}\nstore: {encryption: {enabled: true}}\n"
    )
    with (
        Workspace.open(target_root, env={"CONVEYOR_MASTER_KEY": "ab" * 32}) as sealed,
        pytest.raises(TransferError, match="target workspace encrypts its artifacts"),
    ):
        copy_version(ws.models, "churn@1", sealed.models)


def test_copy_refuses_a_number_already_taken(ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "other"
    root.mkdir()
    with Workspace.open(root, env={}, search_parents=False) as other:
        copy_version(ws.models, "churn@2", other.models)
        with pytest.raises(TransferError, match="already has churn@2"):
            copy_version(ws.models, "churn@1", other.models)


@pytest.mark.parametrize(
    "tag", ["Churn:1", "churn:", "churn:-x", "reg/Team/churn", "churn@1", "a" * 300, ""]
)
def test_invalid_tags_are_refused(tag: str) -> None:
    with pytest.raises(BuildError, match="Invalid image tag"):
        check_tag(tag)


@pytest.mark.parametrize(
    "tag", ["churn", "churn:4", "registry.example.com:5000/ml/churn-model_v2:4.1-rc"]
)
def test_valid_tags_pass(tag: str) -> None:
    assert check_tag(tag) == tag


def test_cli_writes_the_context_and_reports_json(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.cli._build import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # two commands keep `build` a subcommand
    monkeypatch.chdir(ws.root)
    out = tmp_path / "ctx"
    result = CliRunner().invoke(app, ["build", "churn@1", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["ref"] == "churn@1"
    assert shown["image_id"] is None
    assert (out / "Dockerfile").is_file()
    bad = CliRunner().invoke(
        app, ["build", "churn@1", "-o", str(tmp_path / "x"), "--image", "Bad:1"]
    )
    assert isinstance(bad.exception, BuildError)
    assert not (tmp_path / "x").exists()


def test_conveyor_build_command(
    ws: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the `conveyor` entry point: written and reported; errors exit 1 with a hint."""
    from conveyor.cli._app import main

    monkeypatch.chdir(ws.root)
    assert main(["build", "churn@3", "-o", str(tmp_path / "ctx")]) == 0
    shown = capsys.readouterr().out
    assert "Wrote the build context of churn@3" in shown
    assert "docker build -t churn:3" in shown
    assert main(["build", "churn", "--env", "production", "-o", str(tmp_path / "env")]) == 1
    err = capsys.readouterr().err
    assert "Environment 'production' has no deployment" in err
    assert "hint:" in err
    assert main(["build", "churn@1", "-o", str(tmp_path / "x"), "--image", "UPPER:1"]) == 1
    assert "Invalid image tag 'UPPER:1'" in capsys.readouterr().err
