"""Deployment control: rollout strategies, the controller that runs them, and analysis.

This package decides what each environment serves. :class:`Controller` starts rollouts
(``replace``, ``blue-green``, ``canary``, ``shadow``, ``ab``) after checking the
environment, the version (ready, not archived, loadable, smoke-predicting on its input
example) and its gate decision; it advances canaries on its own from the sequential
analysis in :mod:`conveyor.deploy.analysis` (rolling back on failure, promoting after the
last step) and offers ``promote``, ``rollback``, ``pause``, ``resume`` and ``approve``.
State lives only in :mod:`conveyor.deployments`, so a restarted controller resumes with
the exact weights. The server routes by that state; this package never serves requests.
"""

from __future__ import annotations

from conveyor.deploy._analyzer import Analyzer, LogAnalyzer
from conveyor.deploy._controller import Controller, EventSink
from conveyor.deploy._errors import (
    DeploymentInProgressError,
    DeployRefusedError,
    EnvironmentNotFoundError,
    GateRejectedError,
    NothingToDoError,
    VersionNotReadyError,
    VersionTamperedError,
)
from conveyor.deploy._readiness import check_ready

__all__ = [
    "Analyzer",
    "Controller",
    "DeployRefusedError",
    "DeploymentInProgressError",
    "EnvironmentNotFoundError",
    "EventSink",
    "GateRejectedError",
    "LogAnalyzer",
    "NothingToDoError",
    "VersionNotReadyError",
    "VersionTamperedError",
    "check_ready",
]
