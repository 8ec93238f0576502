"""Pipelines: ``@step`` functions composed by a ``@pipeline`` into a cached, tracked DAG.

This package owns authoring (steps, pipelines, parameters and dataset references), the
DAG built by calling steps inside a pipeline, cache keys (step source and the project code
it calls, literal arguments, input hashes, materializer versions), executors (local
threads, Ray tasks), orchestration with retries, failure isolation, heartbeats and resume,
loading pipelines by reference, and export to Kubeflow Pipelines. Every run and step is
recorded through :mod:`conveyor.tracking`; step outputs are stored as artifacts by
:mod:`conveyor.pipelines.materializers`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from conveyor.pipelines._errors import (
    ParameterError,
    PipelineDefinitionError,
    PipelineFailedError,
    PipelineNotFoundError,
    StepOutputError,
    UnknownExecutorError,
)
from conveyor.pipelines._handles import StepOutput
from conveyor.pipelines._step import Step, step

# Heavier modules load on first use, so `import conveyor.pipelines` stays cheap.
_LAZY: dict[str, str] = {
    "Executor": "conveyor.pipelines.executors",
    "LocalExecutor": "conveyor.pipelines.executors",
    "RayExecutor": "conveyor.pipelines.executors",
    "Pipeline": "conveyor.pipelines._pipeline",
    "PipelineRun": "conveyor.pipelines._results",
    "StepResult": "conveyor.pipelines._results",
    "EvaluationMetrics": "conveyor.pipelines._register",
    "evaluation_metrics": "conveyor.pipelines._register",
    "export_kfp": "conveyor.pipelines._kfp",
    "load_dataset": "conveyor.pipelines._datasets",
    "features_used": "conveyor.pipelines._features",
    "load_features": "conveyor.pipelines._features",
    "load_pipeline": "conveyor.pipelines._loader",
    "pipeline": "conveyor.pipelines._pipeline",
    "register_model": "conveyor.pipelines._register",
}

__all__ = [
    "EvaluationMetrics",
    "Executor",
    "LocalExecutor",
    "ParameterError",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineFailedError",
    "PipelineNotFoundError",
    "PipelineRun",
    "RayExecutor",
    "Step",
    "StepOutput",
    "StepOutputError",
    "StepResult",
    "UnknownExecutorError",
    "evaluation_metrics",
    "export_kfp",
    "features_used",
    "load_dataset",
    "load_features",
    "load_pipeline",
    "pipeline",
    "register_model",
    "step",
]

if TYPE_CHECKING:
    from typing import Any

    from conveyor.pipelines._datasets import load_dataset
    from conveyor.pipelines._features import features_used, load_features
    from conveyor.pipelines._kfp import export_kfp
    from conveyor.pipelines._loader import load_pipeline
    from conveyor.pipelines._pipeline import Pipeline, pipeline
    from conveyor.pipelines._register import (
        EvaluationMetrics,
        evaluation_metrics,
        register_model,
    )
    from conveyor.pipelines._results import PipelineRun, StepResult
    from conveyor.pipelines.executors import Executor, LocalExecutor, RayExecutor


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conveyor.pipelines' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
