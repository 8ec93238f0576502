"""Pickle, the last resort: written only for versions registered with ``trusted=True``.

Unpickling runs code chosen by whoever wrote the file, so :meth:`PickleFlavor.load`
refuses unless the caller says the version is trusted (the registry passes the flag
recorded at registration, never anything taken from a request).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any, ClassVar

from conveyor.registry.flavors._base import Flavor, ObjectPredictor, Predictor
from conveyor.registry.flavors._errors import FlavorError, UntrustedModelError

MODEL_FILE = "model.pkl"


class PickleFlavor(Flavor):
    """Any picklable object with ``predict``; chosen by :func:`flavor_for` only when trusted."""

    name: ClassVar[str] = "pickle"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        try:
            data = pickle.dumps(model, protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise FlavorError(
                f"Cannot pickle the model {type(model).__qualname__}: {exc}.",
                hint="Wrap it in a pyfunc class that saves its own files.",
                flavor=self.name,
            ) from exc
        (folder / MODEL_FILE).write_bytes(data)
        version = ".".join(map(str, sys.version_info[:3]))
        return {"file": MODEL_FILE, "requires_trusted": True, "python_version": version}

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        path = folder / str(meta.get("file", MODEL_FILE))
        if not trusted:
            raise UntrustedModelError(
                f"Refusing to unpickle {path.name}: the model version is not marked trusted.",
                hint="Nothing was loaded. Pickles run arbitrary code; register the model in a "
                "safe flavor (sklearn, xgboost, lightgbm, onnx, pytorch, pyfunc) instead.",
                flavor=self.name,
            )
        with path.open("rb") as handle:
            return ObjectPredictor(pickle.load(handle))  # noqa: S301 - trusted version only
