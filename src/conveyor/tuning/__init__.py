"""Hyperparameter tuning and AutoML on Optuna, recorded as runs in the workspace.

This package owns :func:`tune` (an Optuna study whose storage is the workspace's own
metadata database, so trials of one study can run in several processes or Ray workers at
once, each trial recorded as a child run with its parameters and metrics), the search-space
specs :class:`Float`, :class:`Int` and :class:`Categorical`, and :mod:`conveyor.tuning.automl`,
which searches across model families with :func:`tune` and returns the best fitted estimator
with a leaderboard. Optuna's tables live beside conveyor's; its own Alembic version table
(``alembic_version``) is separate from conveyor's (``conveyor_schema_version``).
"""

from __future__ import annotations

from optuna import TrialPruned

from conveyor.tuning._errors import SearchSpaceError, TuneError
from conveyor.tuning._space import Categorical, Float, Int, SpaceSpec
from conveyor.tuning._trial import Trial, TrialSummary
from conveyor.tuning._tune import TuneResult, tune

__all__ = [
    "Categorical",
    "Float",
    "Int",
    "SearchSpaceError",
    "SpaceSpec",
    "Trial",
    "TrialPruned",
    "TrialSummary",
    "TuneError",
    "TuneResult",
    "tune",
]
