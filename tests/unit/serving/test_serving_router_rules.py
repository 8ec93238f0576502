"""The deployment router's rules, the follower's swaps and failures, and the report gauges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from conveyor.deployments import Deployment, Variant
from conveyor.serving import (
    DeploymentFollower,
    DeploymentRouter,
    InputColumn,
    ModelHost,
    RouteRequest,
    ServedModel,
)
from conveyor.serving._follow import ReportCollector
from conveyor.serving._routing import first_row_value


class _Constant:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, frame: Any) -> list[float]:
        return [self.value] * len(frame)


def _model(version: int) -> ServedModel:
    return ServedModel("churn", version, _Constant(version), (InputColumn("age", "double"),))


def _deployment(*variants: Variant, revision: int = 1, **params: Any) -> Deployment:
    return Deployment("production", revision, "ab", "progressing", variants, params=params)


def _host(deployment: Deployment) -> ModelHost:
    host = ModelHost(DeploymentRouter(rnd=lambda: 0.999999))
    follower = DeploymentFollower(host, "production", lambda: deployment, lambda n, v: _model(v))
    assert follower.poll()
    return host


@given(st.floats(0.0, 0.999999))
def test_a_variant_at_zero_percent_is_never_picked(position: float) -> None:
    deployment = _deployment(Variant("churn", 1, "champion", 100), Variant("churn", 2, "b", 0))
    host = _host(deployment)
    router = DeploymentRouter(rnd=lambda: position)
    picked = router.pick(host.state, RouteRequest(None, None, "r"))
    assert picked is not None
    assert (picked.version, picked.variant, picked.revision) == (1, "champion", "1")


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.isprintable()))
def test_the_same_sticky_key_always_gets_the_same_variant(user: str) -> None:
    deployment = _deployment(
        Variant("churn", 1, "a", 50), Variant("churn", 2, "b", 50), sticky_key="x-user-id"
    )
    host = _host(deployment)
    request = RouteRequest(None, None, "r", {"x-user-id": user})
    first = DeploymentRouter(rnd=lambda: 0.0).pick(host.state, request)
    second = DeploymentRouter(rnd=lambda: 0.99).pick(host.state, request)
    assert first is not None
    assert second is not None
    assert first.version == second.version


@pytest.mark.parametrize(
    "payload",
    [
        {"rows": [{"user": "u7", "age": 1.0}]},
        {"columns": {"user": ["u7"], "age": [1.0]}},
        {"dataframe_records": [{"user": "u7"}]},
        {"dataframe_split": {"columns": ["age", "user"], "data": [[1.0, "u7"]]}},
        {"inputs": {"user": ["u7"]}},
    ],
)
def test_a_column_sticky_key_is_read_from_every_payload_shape(payload: dict[str, Any]) -> None:
    assert first_row_value(payload, "user") == "u7"


def test_a_live_version_that_fails_to_load_keeps_the_previous_revision_serving() -> None:
    host = ModelHost(DeploymentRouter())
    current = [_deployment(Variant("churn", 1, "champion", 100))]

    def load(name: str, version: int) -> ServedModel:
        if version == 2:
            raise OSError("artifact store unreachable")
        return _model(version)

    follower = DeploymentFollower(host, "production", lambda: current[0], load, retry_s=0.0)
    assert follower.poll()
    current[0] = _deployment(
        Variant("churn", 1, "champion", 50), Variant("churn", 2, "challenger", 50), revision=2
    )
    assert not follower.poll()
    assert host.state.deployment is not None
    assert host.state.deployment.revision == 1
    assert [(f.model, f.version, f.revision) for f in follower.failures] == [("churn", 2, 2)]
    assert "artifact store unreachable" in follower.failures[0].error
    # A revision that no longer needs the broken version is served.
    current[0] = _deployment(Variant("churn", 1, "champion", 100), revision=3)
    assert follower.poll()
    assert host.state.variants["champion"].revision == "3"


def test_a_shadow_that_fails_to_load_is_left_out_and_the_live_variants_are_served() -> None:
    host = ModelHost(DeploymentRouter())
    deployment = _deployment(Variant("churn", 1, "champion", 100), Variant("churn", 2, "shadow", 0))

    def load(name: str, version: int) -> ServedModel:
        if version == 2:
            raise ValueError("bad model file")
        return _model(version)

    follower = DeploymentFollower(host, "production", lambda: deployment, load)
    assert follower.poll()
    assert set(host.state.variants) == {"champion"}
    assert DeploymentRouter.shadow(host.state) is None
    assert host.ready


@dataclass
class _Report:
    samples: list[tuple[str, dict[str, str], float]]

    def gauges(self) -> list[tuple[str, dict[str, str], float]]:
        return self.samples


def test_monitoring_gauges_come_from_the_latest_report() -> None:
    registry = CollectorRegistry()
    report = _Report(
        [
            ("conveyor_drift_score", {"environment": "production", "feature": "age"}, 0.4),
            ("conveyor_drift_share", {"environment": "production"}, 0.5),
        ]
    )
    registry.register(ReportCollector(lambda: report, refresh_s=0.0))
    text = generate_latest(registry).decode()
    assert 'conveyor_drift_score{environment="production",feature="age"} 0.4' in text
    assert 'conveyor_drift_share{environment="production"} 0.5' in text
