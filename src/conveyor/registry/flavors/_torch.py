"""PyTorch modules: a TorchScript archive for scripted modules, else the state dict plus
the module class, read back with ``torch.load(weights_only=True)`` so no pickled code runs.

A state-dict module's class must be importable (defined at module level) and
constructible without arguments, or carry ``conveyor_init_kwargs``: a JSON-able dict of
constructor arguments recorded in the metadata. The recorded class is under the load
policy (:func:`conveyor.core.check_model_class`): before anything is imported it must be
one of :data:`conveyor.core.TORCH_CLASSES`, or the version trusted, or a class of the
project's own code that the running process has already imported. Predictions run on
the CPU in float32.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from conveyor.core import TORCH_CLASSES
from conveyor.registry.flavors._base import (
    Flavor,
    Predictor,
    class_path,
    imported_subclass,
    json_problem,
    model_file,
    recorded_class,
    refuse_local_class,
    require,
)
from conveyor.registry.flavors._errors import FlavorError, UntrustedModelError

if TYPE_CHECKING:
    import pandas as pd

STATE_FILE = "state_dict.pt"
SCRIPT_FILE = "model.torchscript"


class TorchPredictor:
    """A module in eval mode; rows become one float32 tensor, outputs a numpy array."""

    def __init__(self, module: Any, torch: Any) -> None:
        self.model = module
        self._torch = torch
        module.eval()

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The module's output for ``frame`` (one column squeezed to one value per row)."""
        return self.predict_array(frame.to_numpy(dtype=np.float32, na_value=np.nan))

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The module's output for a 2-D array in signature column order."""
        torch = self._torch
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.array(x, dtype=np.float32)))  # a writable copy
        result = np.asarray(out.detach().cpu().numpy())
        if result.ndim == 2 and result.shape[1] == 1:
            return result[:, 0]
        return result


class PyTorchFlavor(Flavor):
    """``torch.nn.Module`` (``torch.jit.ScriptModule`` kept as TorchScript)."""

    name: ClassVar[str] = "pytorch"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return imported_subclass(type(model), "torch.nn", "Module")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        torch = require("torch", package="torch", flavor=self.name)
        meta: dict[str, Any] = {"torch_version": torch.__version__}
        if isinstance(model, torch.jit.ScriptModule):
            with _torchscript_quiet():
                torch.jit.save(model, str(folder / SCRIPT_FILE))
            return {**meta, "format": "torchscript", "file": SCRIPT_FILE}
        refuse_local_class(model, flavor=self.name)
        kwargs = getattr(model, "conveyor_init_kwargs", None) or {}
        problem = json_problem(kwargs)
        if problem is not None:
            raise FlavorError(
                f"conveyor_init_kwargs of {type(model).__qualname__} cannot be recorded: "
                f"{problem}.",
                hint="Keep constructor arguments to str, numbers, bools, lists and dicts.",
                flavor=self.name,
            )
        buffer = io.BytesIO()  # a buffer: torch would name the archive after the file
        torch.save(model.state_dict(), buffer)
        (folder / STATE_FILE).write_bytes(buffer.getvalue())
        return {
            **meta,
            "format": "state_dict",
            "file": STATE_FILE,
            "class": class_path(type(model)),
            "init_kwargs": kwargs,
        }

    def load_model(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Any:
        torch = require("torch", package="torch", flavor=self.name)
        path = model_file(folder, meta, STATE_FILE)
        if meta.get("format") == "torchscript":
            # TorchScript archives hold graphs and tensors, not pickled Python objects.
            with _torchscript_quiet():
                return torch.jit.load(str(path), map_location="cpu")
        # The class is checked before anything is imported or read.
        cls = recorded_class(
            meta,
            TORCH_CLASSES,
            base=(torch.nn.Module,),
            base_name="torch.nn.Module",
            flavor=self.name,
            trusted=trusted,
            project=True,
        )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise UntrustedModelError(
                f"Refusing to load {path.name}: it holds more than tensors ({exc}).",
                hint="Nothing was executed. Save the module again with conveyor (state "
                "dicts only).",
                flavor=self.name,
            ) from exc
        try:
            module = cls(**meta.get("init_kwargs", {}))
        except TypeError as exc:
            raise FlavorError(
                f"Cannot build {meta['class']} to load its weights: {exc}.",
                hint="Make the constructor work without arguments, or set "
                "`self.conveyor_init_kwargs = {...}` in it and save the model again.",
                flavor=self.name,
            ) from exc
        module.load_state_dict(state)
        return module

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        torch = require("torch", package="torch", flavor=self.name)
        return TorchPredictor(self.load_model(folder, meta, trusted=trusted), torch)


@contextlib.contextmanager
def _torchscript_quiet() -> Iterator[None]:
    """Silence torch's deprecation notice for TorchScript: a model already scripted by its
    author can only be stored and read back this way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
