"""The demo: conveyor's case study played live on the embedded defaults.

It owns a synthetic e-commerce data set (users, products, sessions, purchases) with a
seasonal shift, the demo shop's training pipeline, and :func:`run_demo`, which plays the
whole loop with real components: versioned and validated data, a gated training run, the
real prediction server with simulated traffic and delayed labels, drift found by
monitoring, a retraining by the agent promoted through a canary, a broken candidate rolled
back by the canary on its own, and a timeline, headline figures and an HTML report. Each
stage checks its own outcome and raises :class:`DemoFailed` when it did not happen.
:func:`run_walkthrough` is the short data-versioning tour.
"""

from __future__ import annotations

from conveyor.demo._data import generate_sessions
from conveyor.demo._errors import DemoFailed
from conveyor.demo._story import DemoResult, run_demo
from conveyor.demo._timeline import Figures, TimelineEvent
from conveyor.demo._walkthrough import run_walkthrough

__all__ = [
    "DemoFailed",
    "DemoResult",
    "Figures",
    "TimelineEvent",
    "generate_sessions",
    "run_demo",
    "run_walkthrough",
]
