"""Model flavors: how each kind of model is stored safely, loaded, and asked to predict.

A :class:`Flavor` saves a model into a folder of files and loads it back as a
:class:`Predictor`. Built-ins cover scikit-learn (skops with an explicit trusted-type
list), XGBoost and LightGBM (native formats), ONNX (onnxruntime), PyTorch (TorchScript or
state dict plus class), ``pyfunc`` user classes, and pickle for trusted versions only.
The package also owns model signatures (:func:`infer_signature`,
:meth:`Signature.validate`), the ONNX twin of scikit-learn models
(:func:`convert_to_onnx`, which says why when it cannot convert, and :func:`parity`) and
the import of MLflow model directories.
"""

from __future__ import annotations

from conveyor.registry.flavors._base import Flavor, Predictor
from conveyor.registry.flavors._errors import (
    FlavorError,
    FlavorNotFoundError,
    SignatureError,
    UnsupportedModelError,
    UntrustedModelError,
)
from conveyor.registry.flavors._mlflow import MlflowModel, import_mlflow_model, read_mlflow_model
from conveyor.registry.flavors._onnx import (
    OnnxPredictor,
    ParityResult,
    inline_external_data,
    parity,
    parity_frame,
)
from conveyor.registry.flavors._onnx_convert import OnnxConversion, convert_to_onnx, to_onnx
from conveyor.registry.flavors._plugins import (
    ENTRY_POINT_GROUP,
    flavor_for,
    flavor_names,
    get_flavor,
    register_flavor,
    unregister_flavor,
)
from conveyor.registry.flavors._signature import (
    ColumnSpec,
    Signature,
    example_frame,
    infer_signature,
)

__all__ = [
    "ColumnSpec",
    "ENTRY_POINT_GROUP",
    "Flavor",
    "FlavorError",
    "FlavorNotFoundError",
    "MlflowModel",
    "OnnxConversion",
    "OnnxPredictor",
    "ParityResult",
    "Predictor",
    "Signature",
    "SignatureError",
    "UnsupportedModelError",
    "UntrustedModelError",
    "convert_to_onnx",
    "example_frame",
    "flavor_for",
    "flavor_names",
    "get_flavor",
    "import_mlflow_model",
    "infer_signature",
    "inline_external_data",
    "parity",
    "parity_frame",
    "read_mlflow_model",
    "register_flavor",
    "to_onnx",
    "unregister_flavor",
]
