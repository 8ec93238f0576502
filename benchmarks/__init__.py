"""conveyor's benchmarks: each compares against a baseline measured in the same run.

Two environment variables shape a run: ``CONVEYOR_BENCH_SCALE`` (default 1.0) scales the
data sizes and counts, and ``CONVEYOR_BENCH_BASELINES=0`` skips the baselines that need
their own virtual environments (MLflow, Evidently), which are installed from PyPI on
first use. The test suite runs every benchmark that way, at a tiny scale, so none rots.
"""

from __future__ import annotations

import os


def scale() -> float:
    """The factor applied to data sizes and counts (``CONVEYOR_BENCH_SCALE``)."""
    return float(os.environ.get("CONVEYOR_BENCH_SCALE", "1.0"))


def external_baselines() -> bool:
    """Whether to measure the baselines that live in their own virtualenvs."""
    return os.environ.get("CONVEYOR_BENCH_BASELINES", "1") != "0"
