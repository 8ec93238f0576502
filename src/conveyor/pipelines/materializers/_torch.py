"""PyTorch modules as their state dict, loaded with ``weights_only=True``."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any, ClassVar

from conveyor.pipelines.materializers._base import (
    Materializer,
    class_path,
    import_class,
    imported_class,
    require,
)
from conveyor.pipelines.materializers._errors import MaterializerError, UntrustedTypeError


class TorchModuleMaterializer(Materializer):
    """``torch.nn.Module``: the state dict, plus the class to rebuild it.

    Loading imports the recorded class, builds it and loads the weights. The class must be
    importable (defined at module level, its module on ``sys.path``) and constructible
    without arguments, or the instance must carry ``conveyor_init_kwargs``: a JSON-able dict
    of constructor arguments, recorded in the metadata. Tensors are read with
    ``torch.load(weights_only=True)``, so a file holding pickled code is refused. Tensors
    load onto the CPU; move the module afterwards.
    """

    name: ClassVar[str] = "torch.module"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/x-pytorch"
    suffix: ClassVar[str] = ".pt"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        module = imported_class("torch.nn", "Module")
        return module is not None and issubclass(value_type, module)

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        torch = require("torch", package="torch", materializer=self.name)
        kind = type(value)
        if "<locals>" in kind.__qualname__:
            raise MaterializerError(
                f"Cannot save the torch module {kind.__qualname__}: it is defined inside a "
                "function, so it could not be imported to load it.",
                hint="Define the module class at the top level of a module.",
                materializer=self.name,
            )
        kwargs = getattr(value, "conveyor_init_kwargs", None) or {}
        try:
            json.dumps(kwargs, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MaterializerError(
                f"conveyor_init_kwargs of {kind.__qualname__} is not JSON-able: {exc}.",
                hint="Keep constructor arguments to str, numbers, bools, lists and dicts.",
                materializer=self.name,
            ) from exc
        # A buffer, not a path: torch names the archive after the file otherwise.
        buffer = io.BytesIO()
        torch.save(value.state_dict(), buffer)
        path.write_bytes(buffer.getvalue())
        return {"class": class_path(kind), "init_kwargs": kwargs}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        torch = require("torch", package="torch", materializer=self.name)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise UntrustedTypeError(
                f"Refusing to load {path.name}: it holds more than tensors ({exc}).",
                hint="Nothing was executed. Save modules with conveyor (state dicts only).",
                materializer=self.name,
            ) from exc
        cls = import_class(str(meta.get("class", "")), materializer=self.name)
        if not issubclass(cls, torch.nn.Module):
            raise MaterializerError(
                f"Recorded class {meta.get('class')!r} is not a torch.nn.Module.",
                hint="The output record was altered; re-run the step that produced it.",
                materializer=self.name,
            )
        try:
            module = cls(**meta.get("init_kwargs", {}))
        except TypeError as exc:
            raise MaterializerError(
                f"Cannot build {meta['class']} to load its weights: {exc}.",
                hint="Make the constructor work without arguments, or set "
                "`self.conveyor_init_kwargs = {...}` in it and save the module again.",
                materializer=self.name,
            ) from exc
        module.load_state_dict(state)
        return module
