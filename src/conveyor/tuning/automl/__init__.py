"""AutoML: search model families and their hyperparameters with :func:`conveyor.tune`.

:func:`search` cross-validates linear models, random forests, histogram gradient
boosting and, when installed, LightGBM and XGBoost within a time budget, records every
trial as a run, and returns the best estimator refitted on all data with a leaderboard.
Frames with string, categorical, boolean and missing values are encoded inside each
candidate pipeline (:mod:`conveyor.tuning.automl._features`).
"""

from __future__ import annotations

from conveyor.tuning.automl._errors import UnusableColumnError
from conveyor.tuning.automl._families import FAMILIES, Family
from conveyor.tuning.automl._search import AutoMLResult, search

__all__ = ["AutoMLResult", "FAMILIES", "Family", "UnusableColumnError", "search"]
