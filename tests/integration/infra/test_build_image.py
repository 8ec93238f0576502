"""`conveyor build` for real: the context is built into an image with buildah, the image's
own entry point serves the model over HTTP, its HEALTHCHECK passes, and its predictions
equal those of `conveyor serve` on the same input.

The model is a scikit-learn Pipeline on the Palmer penguins data set (string columns and
missing values). The base image is a local Debian bookworm root file system (see
``image_support``); the first run builds and caches it (debootstrap), later runs reuse it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from image_support import (
    base_image,
    buildah,
    buildah_env,
    image_config,
    pip_build_args,
    require_tools,
    running_container,
)
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conveyor.infra._build import build_context, build_image
from conveyor.workspace import Workspace
from server_support import free_port

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]
_CONVEYOR = [sys.executable, "-m", "conveyor"]


def _penguins() -> pd.DataFrame:
    palmerpenguins = pytest.importorskip("palmerpenguins")
    frame = palmerpenguins.load_penguins()
    return frame[[*NUMERIC, *CATEGORICAL, "species"]].sample(frac=1.0, random_state=0)


def _pipeline() -> Pipeline:
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                CATEGORICAL,
            ),
        ]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=500))])


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Workspace]:
    """A project with penguins@1, a Pipeline trained on 250 penguins, gate decision PROMOTE."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "conveyor.yaml").write_text("project: {name: penguins-image}\n")
    frame = _penguins()
    train = frame.head(250)
    with Workspace.open(root, env={}) as ws:
        model = _pipeline().fit(train[[*NUMERIC, *CATEGORICAL]], train["species"])
        # Missing values in the example make the signature's columns nullable.
        example = pd.concat([train.head(10), frame[frame.isna().any(axis=1)].head(3)])
        ws.models.register("penguins", model, input_example=example[[*NUMERIC, *CATEGORICAL]])
        ws.models.record_decision("penguins@1", verdict="PROMOTE", reasons=["first model"])
        yield ws


def _rows() -> list[dict[str, Any]]:
    """Held-out penguins, and every penguin with a missing value, as JSON rows (missing
    values as null)."""
    frame = _penguins()
    rows = pd.concat([frame.tail(80), frame[frame.isna().any(axis=1)]])[[*NUMERIC, *CATEGORICAL]]
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
    assert any(r["sex"] is None for r in records)
    assert any(r["bill_length_mm"] is None for r in records)
    return records


def _wait_ready(url: str, alive: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError(f"the server stopped before it was ready: {last}")
        try:
            answer = httpx.get(f"{url}/v2/health/ready", timeout=5)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"{url} was not ready within {timeout_s:.0f} s: {last}")


def _predict(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = httpx.post(f"{url}/v1/predict", json={"rows": rows}, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {k: v for k, v in body.items() if k != "request_id"}


def _infer(url: str, name: str, rows: list[dict[str, Any]]) -> list[Any]:
    inputs = [
        {
            "name": column,
            "shape": [len(rows)],
            "datatype": "BYTES" if column in CATEGORICAL else "FP64",
            "data": [row[column] for row in rows],
        }
        for column in [*NUMERIC, *CATEGORICAL]
    ]
    answer = httpx.post(f"{url}/v2/models/{name}/infer", json={"inputs": inputs}, timeout=60)
    assert answer.status_code == 200, answer.text
    return [output["data"] for output in answer.json()["outputs"]]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_built_image_serves_the_same_predictions_as_conveyor_serve(
    project: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools()
    started = time.monotonic()
    base = base_image()
    base_s = time.monotonic() - started
    context = build_context(project, "penguins@1", tmp_path / "context")
    for key in ("CONTAINERS_STORAGE_CONF", "BUILDAH_ISOLATION"):
        monkeypatch.setenv(key, buildah_env()[key])
    tag = f"localhost/conveyor-test-{context.image.replace(':', '-')}:{os.getpid()}"
    lines: list[str] = []
    build_started = time.monotonic()
    image_id = build_image(
        context, tag, build_args={"BASE_IMAGE": base, **pip_build_args()}, output=lines.append
    )
    build_s = time.monotonic() - build_started
    print(f"base image {base_s:.0f} s, image build {build_s:.0f} s")  # shown with -s / -rA
    try:
        assert image_id
        assert any("STEP" in line and "HEALTHCHECK" in line for line in lines)
        config = image_config(tag)
        version = project.models.get("penguins@1")
        labels = config["Labels"]
        assert labels["ml.conveyor.model.name"] == "penguins"
        assert labels["ml.conveyor.model.version"] == "1"
        assert labels["ml.conveyor.model.content-hash"] == version.content_hash
        assert labels["ml.conveyor.model.gate-decision"] == "PROMOTE"
        assert labels["org.opencontainers.image.version"] == "1"
        assert config["User"] == "10001:10001"
        health = config["Healthcheck"]["Test"]
        assert health[0] == "CMD"
        assert health[1].endswith("python")

        # The image's own entry point and command, on a free loopback port.
        command = [*config["Entrypoint"], *config["Cmd"]]
        assert command[:4] == ["/opt/conveyor/bin/conveyor", "serve", "--model", "penguins@1"]
        port = free_port()
        command[command.index("--host") + 1] = "127.0.0.1"
        command[command.index("--port") + 1] = str(port)
        image_url = f"http://127.0.0.1:{port}"
        local_port = free_port()
        local_url = f"http://127.0.0.1:{local_port}"
        rows = _rows()
        with running_container(tag, command) as container:
            _wait_ready(image_url, lambda: container.process.poll() is None, 300)
            whoami = buildah("run", container.container, "--", "id", "-u").strip()
            assert whoami == "10001"
            probe = subprocess.run(
                [
                    "buildah",
                    "run",
                    "--env",
                    f"CONVEYOR_HEALTH_URL={image_url}/v2/health/ready",
                    container.container,
                    "--",
                    *health[1:],
                ],
                env=buildah_env(),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert probe.returncode == 0, probe.stderr
            local = subprocess.Popen(
                [*_CONVEYOR, "serve", "--model", "penguins@1", "--port", str(local_port)],
                cwd=project.root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_ready(local_url, lambda: local.poll() is None, 120)
                from_image = _predict(image_url, rows)
                from_local = _predict(local_url, rows)
                assert from_image == from_local
                assert set(from_image["predictions"]) <= {"Adelie", "Chinstrap", "Gentoo"}
                assert len(from_image["predictions"]) == len(rows)
                assert (from_image["model"], from_image["version"]) == ("penguins", 1)
                assert _infer(image_url, "penguins", rows[:5]) == _infer(
                    local_url, "penguins", rows[:5]
                )
            finally:
                local.terminate()
                local.wait(30)
            # The image served its own store: its files were verified at start-up.
            assert "penguins@1" in container.output()
    finally:
        buildah("rmi", tag, check=False)
