"""Errors of the rollout analysis."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class AnalysisError(ConveyorError, ValueError):
    """Analysis inputs are inconsistent (misaligned arrays, unknown metric, no traffic)."""

    code = "analysis_error"
