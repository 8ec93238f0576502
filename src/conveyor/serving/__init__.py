"""The prediction server: conveyor's API, MLflow's scoring payloads and KServe v2 on one app.

``conveyor.serving`` owns the FastAPI application (:func:`create_app`), the :class:`ModelHost`
holding loaded model versions with the :class:`Router` choosing one per request (swapped
atomically, loaded off the request path), deployment-aware routing (:class:`DeploymentRouter`:
weights, sticky keys, shadow copies that never touch the answer) kept in step with an
environment's deployment by the :class:`DeploymentFollower`, strict input validation against
the model's signature, rows assembled from entity keys and the online store for versions
trained with a feature service, micro-batching, Prometheus metrics, and the hand-off of every
prediction, failed ones included, to the prediction logger. ``conveyor serve`` builds it
from a workspace (``--model`` one version, ``--env`` an environment).
"""

from __future__ import annotations

from conveyor.serving._app import create_app
from conveyor.serving._auth import ROUTE_POLICIES, AccessGuard, Policy
from conveyor.serving._batch import BatchInputError, BatchPredictionResult, predict_file
from conveyor.serving._errors import (
    EntityNotFoundError,
    ExtraColumnsError,
    FeatureColumnSentError,
    FeatureLookupFailedError,
    FeatureServingError,
    FeatureStoreUnavailableError,
    InvalidEntityKeyError,
    InvalidValueError,
    MalformedRequestError,
    MissingColumnsError,
    ModelNotServedError,
    NonFiniteValueError,
    NotReadyError,
    PayloadTooLargeError,
    PredictionFailedError,
    RequestError,
    ServingConfigError,
    TooManyRowsError,
    UnsupportedMediaTypeError,
)
from conveyor.serving._features import FeatureAssembler
from conveyor.serving._follow import DeploymentFollower, LoadFailure
from conveyor.serving._host import DefaultRouter, HostState, ModelHost, Router, RouteRequest
from conveyor.serving._model import InputColumn, ServedModel
from conveyor.serving._routing import DeploymentRouter
from conveyor.serving._settings import ServingSettings

__all__ = [
    "AccessGuard",
    "BatchInputError",
    "BatchPredictionResult",
    "DefaultRouter",
    "DeploymentFollower",
    "DeploymentRouter",
    "EntityNotFoundError",
    "ExtraColumnsError",
    "FeatureAssembler",
    "FeatureColumnSentError",
    "FeatureLookupFailedError",
    "FeatureServingError",
    "FeatureStoreUnavailableError",
    "HostState",
    "InputColumn",
    "InvalidEntityKeyError",
    "InvalidValueError",
    "LoadFailure",
    "MalformedRequestError",
    "MissingColumnsError",
    "ModelHost",
    "ModelNotServedError",
    "NonFiniteValueError",
    "NotReadyError",
    "PayloadTooLargeError",
    "Policy",
    "PredictionFailedError",
    "ROUTE_POLICIES",
    "RequestError",
    "RouteRequest",
    "Router",
    "ServedModel",
    "ServingConfigError",
    "ServingSettings",
    "TooManyRowsError",
    "UnsupportedMediaTypeError",
    "create_app",
    "predict_file",
]
