"""``pyfunc``: any user class that saves itself into a folder and loads back from it.

The class must define ``save(folder)`` (an instance method writing its own files),
``load(folder)`` (a classmethod or staticmethod returning an instance) and
``predict(frame)``. Only its importable class path is recorded: loading imports the
project's own code, it never unpickles anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from conveyor.registry.flavors._base import (
    Flavor,
    ObjectPredictor,
    Predictor,
    class_path,
    import_class,
    refuse_local_class,
)
from conveyor.registry.flavors._errors import FlavorError

FILES = "pyfunc"


class PyfuncFlavor(Flavor):
    """A user class with ``save(folder)``, ``load(folder)`` and ``predict(frame)``."""

    name: ClassVar[str] = "pyfunc"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return cls.handles_class(type(model))

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        refuse_local_class(model, flavor=self.name)
        files = folder / FILES
        files.mkdir()
        model.save(files)
        return {"class": class_path(type(model)), "files": FILES}

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        cls = import_class(str(meta.get("class", "")), flavor=self.name)
        if not self.handles_class(cls):
            raise FlavorError(
                f"Recorded class {meta.get('class')!r} has no save/load/predict methods.",
                hint="Add them, or register the model with another flavor.",
                flavor=self.name,
            )
        return ObjectPredictor(cls.load(folder / str(meta.get("files", FILES))))  # type: ignore[attr-defined]

    @staticmethod
    def handles_class(kind: type) -> bool:
        """Whether ``kind`` has the three methods the flavor calls."""
        return all(callable(getattr(kind, attr, None)) for attr in ("save", "load", "predict"))
