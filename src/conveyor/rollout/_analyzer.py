"""What the controller needs from the canary analysis, and the default implementation.

The controller depends on a small protocol so tests and the rollout simulator can pass
their own statistics source; the default :class:`LogAnalyzer` reads the prediction log
through :func:`conveyor.rollout.analysis.stats_from_log` and judges with
:func:`conveyor.rollout.analysis.analyse`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.config import AnalysisConfig

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


class ResultLike(Protocol):
    """The part of ``AnalysisResult`` the controller reads."""

    @property
    def verdict(self) -> str:
        """``"continue"``, ``"pass"``, ``"hold"`` or ``"fail"``."""
        ...

    @property
    def reasons(self) -> Sequence[str]:
        """Why, in words."""
        ...

    @property
    def measures(self) -> Mapping[str, Any]:
        """The numbers behind the verdict (recorded with the transition)."""
        ...


class Analyzer(Protocol):
    """Reads per-variant statistics of a rollout and judges challenger against champion.

    ``stats`` returns statistics accumulated since the rollout started (every revision
    from ``revision`` on), keyed by variant role; evidence accumulates across canary steps,
    which the sequential tests allow.
    """

    def stats(
        self, ws: Workspace, env: str, revision: int, *, since: datetime
    ) -> Mapping[str, Any]:
        """Per-role statistics of the rollout that started at ``revision``."""
        ...

    def analyse(
        self,
        champion: Any,
        challenger: Any,
        params: AnalysisConfig,
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> ResultLike:
        """Judge the challenger's statistics against the champion's.

        ``expected`` (passed only when the gate recorded one) is the prediction divergence
        measured between the two models on the holdout: live divergence within it is no
        concern, beyond it the verdict is ``"hold"`` (pause and wait for labels).
        """
        ...


class LogAnalyzer:
    """The default analyzer: the prediction log and the sequential analysis.

    ``conveyor.rollout.analysis`` (numpy, scipy) is imported on first use so that importing
    the controller stays cheap.
    """

    def stats(
        self, ws: Workspace, env: str, revision: int, *, since: datetime
    ) -> Mapping[str, Any]:
        """Per-role statistics read from ``ws.predictions``."""
        result: Mapping[str, Any] = _analysis().stats_from_log(ws, env, revision, since=since)
        return result

    def analyse(
        self,
        champion: Any,
        challenger: Any,
        params: AnalysisConfig,
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> ResultLike:
        """Run the sequential analysis (``expected``: the gate's divergence profile)."""
        result: ResultLike = _analysis().analyse(champion, challenger, params, expected)
        return result


def _analysis() -> Any:
    return importlib.import_module("conveyor.rollout.analysis")
