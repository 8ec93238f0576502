"""The demo: conveyor's case study played on the embedded defaults.

It generates a synthetic e-commerce data set (users, products, sessions, purchases) with a
seasonal shift, and walks through the lifecycle with real components. Today it covers data
versioning end to end (add, validate by profile, diff, checkout, push to a second store, pull
into a fresh clone, audit verification); later stages join as their capabilities land.
"""

from __future__ import annotations

from conveyor.demo._data import generate_sessions
from conveyor.demo._walkthrough import DemoFailed, run_walkthrough

__all__ = ["DemoFailed", "generate_sessions", "run_walkthrough"]
