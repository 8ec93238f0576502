"""Rollouts: the strategies, the controller that runs them, and canary analysis.

The acting side of deployment (``conveyor deploy``, ``promote``, ``rollback`` ...); the
records it writes (each environment's state and transitions, and the routing rule the server
applies) are :mod:`conveyor.deployments`. This package decides what each environment serves.
:class:`Controller` starts rollouts (``replace``, ``blue-green``, ``canary``, ``shadow``,
``ab``) after checking the environment, the version (ready, not archived, loadable,
smoke-predicting on its input example) and its gate decision; it advances canaries on its
own from the sequential analysis in :mod:`conveyor.rollout.analysis` (rolling back on
failure, promoting after the last step) and offers ``promote``, ``rollback``, ``pause``,
``resume`` and ``approve``. State lives only in :mod:`conveyor.deployments`, so a restarted
controller resumes with the exact weights. The server routes by that state; this package
never serves requests.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import conveyor.notify as _notify
from conveyor.rollout._analyzer import Analyzer, LogAnalyzer
from conveyor.rollout._controller import Controller
from conveyor.rollout._errors import (
    DeploymentInProgressError,
    DeployRefusedError,
    EnvironmentNotFoundError,
    GateRejectedError,
    NothingToDoError,
    SignatureRequiredError,
    VersionNotReadyError,
    VersionTamperedError,
)
from conveyor.rollout._readiness import check_ready

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Analyzer",
    "Controller",
    "DeployRefusedError",
    "DeploymentInProgressError",
    "EnvironmentNotFoundError",
    "GateRejectedError",
    "LogAnalyzer",
    "NothingToDoError",
    "SignatureRequiredError",
    "VersionNotReadyError",
    "VersionTamperedError",
    "check_ready",
]


def __getattr__(name: str) -> Any:
    # ``EventSink``, the former announcement interface, stays importable for one release.
    if name != "EventSink":
        raise AttributeError(f"module 'conveyor.rollout' has no attribute {name!r}")
    warnings.warn(
        "conveyor.rollout.EventSink is deprecated; use conveyor.notify.BaseNotifier instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return _notify.BaseNotifier
