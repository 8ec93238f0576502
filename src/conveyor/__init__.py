"""conveyor: the machine-learning lifecycle as CI/CD.

Versioned data, cached pipelines, quality gates, a model registry, deployments and
monitoring in one tool that runs on a laptop and scales out by configuration.

The public API is re-exported here and loaded lazily, so ``import conveyor`` stays cheap:

    >>> import conveyor
    >>> ws = conveyor.Workspace.open(".")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# name -> module that defines it; resolved on first access (PEP 562).
_LAZY: dict[str, str] = {
    "Actor": "conveyor.core",
    "ConveyorError": "conveyor.errors",
    "Workspace": "conveyor.workspace",
    "Categorical": "conveyor.tuning",
    "Float": "conveyor.tuning",
    "Int": "conveyor.tuning",
    "current": "conveyor.tracking",
    "init_project": "conveyor.workspace",
    "load_dataset": "conveyor.pipelines",
    "load_features": "conveyor.pipelines",
    "log_artifact": "conveyor.tracking",
    "log_metric": "conveyor.tracking",
    "log_metrics": "conveyor.tracking",
    "log_params": "conveyor.tracking",
    "pipeline": "conveyor.pipelines",
    "register_model": "conveyor.pipelines",
    "step": "conveyor.pipelines",
    "tune": "conveyor.tuning",
}
# Submodules reachable as attributes (``conveyor.automl.search``).
_LAZY_MODULES: dict[str, str] = {"automl": "conveyor.tuning.automl"}

__all__ = [
    "Actor",
    "Categorical",
    "ConveyorError",
    "Float",
    "Int",
    "Workspace",
    "__version__",
    "automl",
    "current",
    "init_project",
    "load_dataset",
    "load_features",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_params",
    "pipeline",
    "register_model",
    "step",
    "tune",
]

if TYPE_CHECKING:
    from typing import Any

    from conveyor.core import Actor
    from conveyor.errors import ConveyorError
    from conveyor.pipelines import load_dataset, load_features, pipeline, register_model, step
    from conveyor.tracking import current, log_artifact, log_metric, log_metrics, log_params
    from conveyor.tuning import Categorical, Float, Int, tune
    from conveyor.tuning import automl as automl
    from conveyor.workspace import Workspace, init_project


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        value = importlib.import_module(_LAZY_MODULES[name])
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_MODULES))
