"""The mapping of conveyor names to Kubernetes resource names and image names."""

from __future__ import annotations

import re

import pytest

from conveyor.errors import ConveyorError
from conveyor.infra import image_name, k8s_name

LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
HOSTILE = ["churn", "Churn", "churn_model", "churn.model", "9lives", "a" * 128, "x.y-z_", "A__B"]


def test_a_valid_name_is_kept_as_it_is() -> None:
    assert k8s_name("churn") == "churn"
    assert k8s_name("churn-v2", suffix="-canary") == "churn-v2-canary"
    assert image_name("churn") == "churn"


@pytest.mark.parametrize("name", HOSTILE)
def test_every_name_maps_to_a_valid_label_within_the_limit(name: str) -> None:
    for suffix in ("", "-canary", "-monitor"):
        mapped = k8s_name(name, suffix=suffix)
        assert LABEL.fullmatch(mapped), mapped
        assert len(mapped) <= 63
        assert mapped.endswith(suffix)


def test_names_that_differ_only_in_what_is_dropped_stay_apart() -> None:
    mapped = {k8s_name(n) for n in ("churn", "Churn", "CHURN", "churn_", "churn__")}
    assert len(mapped) == 5


def test_the_mapping_is_deterministic() -> None:
    assert k8s_name("Churn_Model.v2") == k8s_name("Churn_Model.v2")
    assert k8s_name("Churn_Model.v2").startswith("churn-model-v2-")


@pytest.mark.parametrize("name", ["", "-a", "a/b", "a b", "a@1", "x" * 129])
def test_an_invalid_conveyor_name_is_refused_with_its_value(name: str) -> None:
    with pytest.raises(ConveyorError, match="Invalid name"):
        k8s_name(name)
