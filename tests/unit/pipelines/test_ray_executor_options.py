"""What RayExecutor asks of ``ray.init``: a run-scoped local instance needs no dashboard."""

from __future__ import annotations

from conveyor.pipelines import RayExecutor


def test_a_local_instance_starts_without_the_dashboard_unless_asked() -> None:
    assert RayExecutor().init_kwargs == {"include_dashboard": False}
    assert RayExecutor(include_dashboard=True, num_cpus=2).init_kwargs == {
        "include_dashboard": True,
        "num_cpus": 2,
    }


def test_a_cluster_address_gets_only_the_arguments_given() -> None:
    assert RayExecutor("ray://head:10001").init_kwargs == {}
    assert RayExecutor("auto", namespace="ci").init_kwargs == {"namespace": "ci"}
