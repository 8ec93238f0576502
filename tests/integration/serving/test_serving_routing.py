"""Deployment routing on a real server: weights, shadow copies off the response path, and a
challenger that fails on some inputs (its requests get 500 and are logged as its errors)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_support import (
    BlockingPredictor,
    MemoryLog,
    RaisingPredictor,
    linear_model,
    running,
    wait_ready,
    wrapped_model,
)

from conveyor.deployments import Deployment, Variant
from conveyor.predictions import PredictionLogger
from conveyor.serving import (
    DeploymentFollower,
    DeploymentRouter,
    ModelHost,
    ServedModel,
    ServingSettings,
    create_app,
)

ROW = {"age": 41.0, "spend": 80.0}


def deployment(*variants: Variant, revision: int = 1, **params: Any) -> Deployment:
    return Deployment(
        environment="production",
        revision=revision,
        strategy="canary",
        state="progressing",
        variants=variants,
        params=params,
    )


class Environment:
    """A server following a deployment held in memory, logging to a :class:`MemoryLog`."""

    def __init__(self, tmp_path: Path, models: dict[tuple[str, int], ServedModel]) -> None:
        self.models = models
        self.current: Deployment | None = None
        self.log = MemoryLog()
        self.host = ModelHost(DeploymentRouter())
        self.follower = DeploymentFollower(
            self.host,
            "production",
            lambda: self.current,
            lambda name, version: self.models[(name, version)],
            interval_s=0.02,
        )
        logger = PredictionLogger(self.log, max_wait_s=0.01, spill_dir=tmp_path / "spill")
        self.app = create_app(
            self.host,
            logger=logger,
            settings=ServingSettings(environment="production"),
            on_start=[self.follower.start],
            on_close=[self.follower.stop],
        )

    def serve(self, target: Deployment) -> None:
        """Publish ``target`` and wait until the server serves it."""
        self.current = target
        self.follower.poll()


@pytest.fixture
def environment(tmp_path: Path) -> Callable[..., Environment]:
    def make(models: dict[tuple[str, int], ServedModel]) -> Environment:
        return Environment(tmp_path, models)

    return make


def _versions(client: httpx.Client, n: int, **kwargs: Any) -> list[int]:
    answers = [client.post("/v1/predict", json={"rows": [ROW]}, **kwargs) for _ in range(n)]
    assert {a.status_code for a in answers} == {200}
    return [a.json()["version"] for a in answers]


def test_a_variant_at_zero_percent_gets_no_request_and_100_0_sends_everything_to_one(
    environment: Callable[..., Environment],
) -> None:
    env = environment(
        {("churn", 1): linear_model(version=1), ("churn", 2): linear_model(version=2)}
    )
    env.serve(
        deployment(Variant("churn", 1, "champion", 100), Variant("churn", 2, "challenger", 0))
    )
    with running(env.app) as url, httpx.Client(base_url=url, timeout=10) as client:
        first = _versions(client, 60)
        env.serve(
            deployment(
                Variant("churn", 1, "champion", 0),
                Variant("churn", 2, "challenger", 100),
                revision=2,
            )
        )
        second = _versions(client, 60)
        env.serve(
            deployment(
                Variant("churn", 1, "champion", 50),
                Variant("churn", 2, "challenger", 50),
                revision=3,
            )
        )
        third = _versions(client, 200)
    assert set(first) == {1}
    assert set(second) == {2}
    assert set(third) == {1, 2}


def test_shadow_answers_are_never_returned_and_the_response_comes_before_the_shadow_ends(
    environment: Callable[..., Environment],
) -> None:
    shadow_model = wrapped_model(2, BlockingPredictor)
    blocking: BlockingPredictor = shadow_model.predictor  # type: ignore[assignment]
    env = environment({("churn", 1): linear_model(version=1), ("churn", 2): shadow_model})
    env.serve(
        deployment(
            Variant("churn", 1, "champion", 100),
            Variant("churn", 2, "shadow", 0),
            shadow_timeout_ms=30_000,
        )
    )
    alone = create_app(ModelHost())
    alone.state.server.host.add(linear_model(version=1))
    with running(env.app) as url, running(alone) as plain_url:
        with httpx.Client(base_url=url, timeout=10) as client:
            answer = client.post("/v1/predict", json={"rows": [ROW]})
            # The shadow (sleeping up to 5 s) has not finished, yet the answer is here.
            assert not blocking.finished.is_set()
            blocking.release.set()
            assert blocking.finished.wait(10)
        with httpx.Client(base_url=plain_url, timeout=10) as client:
            reference = client.post("/v1/predict", json={"rows": [ROW]})
        records = env.log.wait_for(lambda rs: len(rs) == 2)
    assert answer.status_code == 200
    assert answer.json()["predictions"] == reference.json()["predictions"]
    assert answer.json()["version"] == 1
    by_variant = {r.variant: r for r in records}
    assert by_variant["shadow"].status == "ok"
    assert by_variant["shadow"].request_id == by_variant["champion"].request_id
    assert by_variant["shadow"].version == 2
    assert {r.revision for r in records} == {1}


def test_a_hanging_shadow_is_logged_as_timed_out_and_live_requests_keep_flowing(
    environment: Callable[..., Environment],
) -> None:
    shadow_model = wrapped_model(2, BlockingPredictor)
    blocking: BlockingPredictor = shadow_model.predictor  # type: ignore[assignment]
    env = environment({("churn", 1): linear_model(version=1), ("churn", 2): shadow_model})
    env.serve(
        deployment(
            Variant("churn", 1, "champion", 100),
            Variant("churn", 2, "shadow", 0),
            shadow_timeout_ms=50,
        )
    )
    try:
        with running(env.app) as url, httpx.Client(base_url=url, timeout=10) as client:
            versions = _versions(client, 20)
            records = env.log.wait_for(
                lambda rs: (
                    sum(r.variant == "shadow" for r in rs) >= 1
                    and sum(r.variant == "champion" for r in rs) == 20
                )
            )
            metrics = client.get("/metrics").text
    finally:
        blocking.release.set()
    assert versions == [1] * 20
    shadows = [r for r in records if r.variant == "shadow"]
    assert all(r.status == "error" for r in shadows)
    assert "timed out after 50 ms" in shadows[0].error
    outcomes = {
        s.labels["outcome"]
        for f in text_string_to_metric_families(metrics)
        if f.name == "conveyor_shadow_requests"
        for s in f.samples
    }
    assert "timeout" in outcomes


def test_a_raising_shadow_never_touches_the_response(
    environment: Callable[..., Environment],
) -> None:
    shadow_model = wrapped_model(2, lambda inner: RaisingPredictor(inner, below=1000.0))
    env = environment({("churn", 1): linear_model(version=1), ("churn", 2): shadow_model})
    env.serve(deployment(Variant("churn", 1, "champion", 100), Variant("churn", 2, "shadow", 0)))
    with running(env.app) as url, httpx.Client(base_url=url, timeout=10) as client:
        answers = [client.post("/v1/predict", json={"rows": [ROW]}) for _ in range(5)]
        records = env.log.wait_for(lambda rs: len(rs) == 10)
    assert [a.status_code for a in answers] == [200] * 5
    assert {a.json()["version"] for a in answers} == {1}
    shadows = [r for r in records if r.variant == "shadow"]
    assert {r.status for r in shadows} == {"error"}
    assert "age below 1000.0" in shadows[0].error


def test_a_challenger_raising_on_some_inputs_answers_those_with_500_logged_as_its_errors(
    environment: Callable[..., Environment],
) -> None:
    challenger = wrapped_model(2, lambda inner: RaisingPredictor(inner, below=30.0))
    env = environment({("churn", 1): linear_model(version=1), ("churn", 2): challenger})
    env.serve(
        deployment(Variant("churn", 1, "champion", 50), Variant("churn", 2, "challenger", 50))
    )
    rows = [{"age": 20.0 if i % 2 else 50.0, "spend": 80.0} for i in range(80)]
    with running(env.app) as url, httpx.Client(base_url=url, timeout=10) as client:
        answers = [client.post("/v1/predict", json={"rows": [row]}) for row in rows]
        records = env.log.wait_for(lambda rs: len(rs) == len(rows))
    failed = [a for a in answers if a.status_code != 200]
    assert failed, "the challenger got some young rows"
    assert {a.status_code for a in failed} == {500}
    assert all("churn@2" in a.json()["error"] for a in failed)
    errors = [r for r in records if r.status == "error"]
    assert len(errors) == len(failed)
    assert {(r.variant, r.version) for r in errors} == {("challenger", 2)}
    assert all(r.inputs["age"] < 30 and r.prediction is None for r in errors)
    assert "age below 30.0" in errors[0].error
    # The champion's answers are unaffected: every one succeeded.
    assert {r.status for r in records if r.variant == "champion"} == {"ok"}
    assert all(r.revision == 1 and r.environment == "production" for r in records)


def test_sticky_key_header_keeps_each_caller_on_one_variant(
    environment: Callable[..., Environment],
) -> None:
    env = environment(
        {("churn", 1): linear_model(version=1), ("churn", 2): linear_model(version=2)}
    )
    env.serve(
        deployment(
            Variant("churn", 1, "a", 50), Variant("churn", 2, "b", 50), sticky_key="x-user-id"
        )
    )
    with running(env.app) as url, httpx.Client(base_url=url, timeout=10) as client:
        wait_ready(client)
        seen = {
            user: set(_versions(client, 5, headers={"x-user-id": user}))
            for user in (f"user-{i}" for i in range(20))
        }
    assert all(len(versions) == 1 for versions in seen.values())
    assert {next(iter(v)) for v in seen.values()} == {1, 2}
