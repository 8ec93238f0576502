"""``pyfunc``: any user class that saves itself into a folder and loads back from it.

The class must define ``save(folder)`` (an instance method writing its own files),
``load(folder)`` (a classmethod or staticmethod returning an instance) and
``predict(frame)``. Only its importable class path is recorded: loading imports the
project's own code, it never unpickles anything. Loading runs that class's code, so the
recorded class path is under the load policy (:func:`conveyor.core.check_model_class`):
before anything is imported, the version must be trusted or the class must be the
project's own code that the running process has already imported (as in the pipeline that
trained it); a fresh process (``conveyor serve``) needs a version registered with
``trusted=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from conveyor.registry.flavors._base import (
    Flavor,
    ObjectPredictor,
    Predictor,
    class_path,
    recorded_class,
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
        cls = recorded_class(
            meta,
            (),
            base=(object,),
            base_name="class with save/load/predict",
            flavor=self.name,
            trusted=trusted,
            project=True,
        )
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
