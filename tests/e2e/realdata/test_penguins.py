"""The whole loop on penguins (see projects.py for the data set and loop.py for the steps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from realdata import loop
from realdata.projects import RealProject, penguins

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realdata_penguins")]


@pytest.fixture(scope="module")
def project() -> RealProject:
    return penguins()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, project: RealProject) -> Path:
    return loop.build(tmp_path_factory.mktemp("penguins"), project)


def test_champion_follows_its_environment(root: Path, project: RealProject) -> None:
    loop.check_champion_per_environment(root, project)


def test_versions_carry_their_metrics(root: Path, project: RealProject) -> None:
    loop.check_versions_carry_metrics(root, project)


def test_canary_promotes_better_and_rolls_back_broken(root: Path, project: RealProject) -> None:
    loop.check_canary_promotes_better_and_rolls_back_broken(root, project)


def test_degraded_then_no_op_retraining(root: Path, project: RealProject) -> None:
    loop.release_to_production(root, project)
    loop.check_degraded_fires_only_when_quality_drops(root, project)
    loop.check_retraining_without_new_data_is_skipped(root, project)
