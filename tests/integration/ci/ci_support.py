"""Test support: the small project's pipeline module, configuration and data."""

from __future__ import annotations

from small_project import PIPELINES, points

__all__ = ["CONFIG", "PIPELINES", "points"]

CONFIG = """
project: {name: ci-test}
pipelines:
  training: pipelines:training
evaluation:
  model: clf
  model_step: train
  holdout_step: split
  holdout_output: 1
  target: y
gates:
  - {check: min_metric, params: {metric: accuracy, min: 0.8}}
"""
