"""The wire format of the records interfaces: derived from them, faithful for what they hold."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from conveyor.automation import BaseAutomationRecords
from conveyor.automation._records import LeaseClaim
from conveyor.checks import BaseCheckRecords
from conveyor.data import BaseDatasetRecords
from conveyor.deployments import BaseDeploymentRecords
from conveyor.errors import DatasetNotFoundError, InvalidNameError
from conveyor.monitoring import BaseMonitoringRecords
from conveyor.predictions import BasePredictionRecords
from conveyor.registry import BaseModelRecords
from conveyor.remote import check_server_url, error_class, interface_name, method_specs
from conveyor.remote._codec import jsonable
from conveyor.security import BaseTokenRecords
from conveyor.store import BaseAuditRecords
from conveyor.tracking import BaseRunRecords

INTERFACES = [
    BaseAutomationRecords,
    BaseCheckRecords,
    BaseDatasetRecords,
    BaseDeploymentRecords,
    BaseModelRecords,
    BaseMonitoringRecords,
    BasePredictionRecords,
    BaseRunRecords,
    BaseTokenRecords,
    BaseAuditRecords,
]


@pytest.mark.parametrize("base", INTERFACES, ids=lambda b: b.__name__)
def test_every_abstract_method_has_a_wire_form(base: type[Any]) -> None:
    specs = method_specs(base)
    assert set(specs) == set(base.__abstractmethods__)
    for spec in specs.values():
        assert "actor" not in spec.request.model_fields  # never sent: the server decides
        assert spec.writes == ("actor" in spec.signature.parameters)


def test_interface_names() -> None:
    assert interface_name(BaseRunRecords) == "run"
    assert interface_name(BaseAuditRecords) == "audit"
    with pytest.raises(TypeError, match="not a records interface"):
        interface_name(dict)


def test_a_collection_argument_accepts_any_sized_iterable() -> None:
    spec = method_specs(BasePredictionRecords)["labels"]
    assert spec.encode_call({"request_ids": {"a": 1, "b": None}}) == b'{"request_ids":["a","b"]}'
    assert spec.encode_call({"request_ids": ("x",)}) == b'{"request_ids":["x"]}'


def test_metric_values_keep_nan_and_infinities() -> None:
    spec = method_specs(BaseRunRecords)["log_metrics"]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    batch = [("loss", float("nan"), 0, at), ("loss", float("inf"), 1, at)]
    body = spec.encode_call({"run_id": "r1", "batch": batch})
    assert b"NaN" in body
    assert b"Infinity" in body
    parsed = spec.request.model_validate_json(body)
    values = [value for _, value, _, _ in parsed.batch]  # type: ignore[attr-defined]
    assert math.isnan(values[0])
    assert values[1] == math.inf


def test_a_lease_claim_travels_with_its_clock_reading() -> None:
    spec = method_specs(BaseAutomationRecords)["start_attempt"]
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    claim = LeaseClaim(name="agent", holder="h1", now=lambda: now)
    body = spec.encode_call({"claim": claim, "trigger": "t", "attempt": {}})
    parsed = spec.request.model_validate_json(body)
    arrived = parsed.claim  # type: ignore[attr-defined]
    assert (arrived.name, arrived.holder, arrived.now()) == ("agent", "h1", now)


def test_numpy_values_travel_as_plain_values() -> None:
    assert jsonable(np.float64(1.5)) == 1.5
    assert jsonable(np.array([1, 2])) == [1, 2]
    assert jsonable({3, 1}) == [1, 3]
    with pytest.raises(TypeError, match="cannot be sent"):
        jsonable(lambda: None)


def test_error_codes_map_back_to_their_classes() -> None:
    assert error_class("dataset_not_found") is DatasetNotFoundError
    assert error_class("invalid_name") is InvalidNameError
    assert error_class("no-such-code").__name__ == "RemoteError"


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "ftp://127.0.0.1", "https://u:p@example.com", "https://x?y=1", "x"],
)
def test_server_urls_unfit_for_a_token_are_refused(url: str) -> None:
    from conveyor.errors import ConfigError

    with pytest.raises(ConfigError):
        check_server_url(url)


def test_loopback_http_and_https_are_accepted() -> None:
    assert check_server_url("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"
    assert check_server_url("https://cvy.example.com") == "https://cvy.example.com"
