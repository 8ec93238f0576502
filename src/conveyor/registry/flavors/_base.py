"""The flavor extension point: how a kind of model is saved, loaded and asked to predict."""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Collection
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from conveyor.core import (
    UntrustedContentError,
    check_class_path,
    check_model_class,
    import_object,
    resolve_inside,
)
from conveyor.core import class_path as class_path  # noqa: PLC0414 - re-exported
from conveyor.core import imported_class as imported_class  # noqa: PLC0414 - re-exported
from conveyor.core import imported_subclass as imported_subclass  # noqa: PLC0414 - re-exported
from conveyor.registry.flavors._errors import FlavorError, UntrustedModelError

if TYPE_CHECKING:
    import pandas as pd


@runtime_checkable
class Predictor(Protocol):
    """A loaded model, ready to predict.

    ``predict`` takes a frame whose columns are the signature's inputs, in signature order
    (``Signature.validate`` returns exactly that) and returns one prediction per row.
    Built-in predictors also offer:

    * ``predict_proba(frame) -> ndarray`` (rows x classes) for classifiers;
    * ``predict_array(x) -> ndarray``: the same as ``predict`` for a 2-D float array in
      signature column order, without building a frame (the server's single-row path);
    * ``model``: the native object (estimator, booster, module), used by explainers.
    """

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """One prediction per row of ``frame``."""
        ...


class ObjectPredictor:
    """A model object that predicts by itself (pyfunc classes, unpickled objects)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        if callable(getattr(model, "predict_proba", None)):
            self.predict_proba = self._predict_proba

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The object's predictions for ``frame``, as an array."""
        return np.asarray(self.model.predict(frame))

    def _predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict_proba(frame))


class Flavor(ABC):
    """One way of storing a kind of model (scikit-learn, XGBoost, ONNX, ...).

    Contract:
        * ``handles(model)`` is cheap and never imports a library the caller has not
          imported already (a model of a library's type implies the library is loaded).
        * ``save(model, folder)`` writes files into the empty ``folder`` only and returns
          JSON-able metadata; everything ``load`` needs is in the files or that metadata.
          It raises :class:`UntrustedModelError` when the model could not be loaded back
          safely, and :class:`FlavorError` for any other failure.
        * ``load(folder, meta, trusted=...)`` returns a :class:`Predictor`. It never
          executes code from the files unless ``trusted`` is true (the version was marked
          trusted at registration); it raises :class:`UntrustedModelError` before building
          anything it would have to trust. The registry verifies file hashes first.
        * ``load_model(folder, meta, trusted=...)`` returns the native object ``save``
          was given (an estimator, a booster, a module), under the same rules; the
          materializers store pipeline outputs through it. The default unwraps
          ``load(...).model``.
        * Instances hold no state: one instance may serve many threads.

    Example:
        >>> class EchoFlavor(Flavor):
        ...     name = "echo"
        ...     @classmethod
        ...     def handles(cls, model): return False
        ...     def save(self, model, folder): return {}
        ...     def load(self, folder, meta, *, trusted=False): ...
    """

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def handles(cls, model: Any) -> bool:
        """Whether this flavor can save ``model``."""

    @abstractmethod
    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write ``model`` into ``folder``; return JSON-able metadata for :meth:`load`."""

    @abstractmethod
    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        """Rebuild the model saved in ``folder`` as a :class:`Predictor`."""

    def load_model(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Any:
        """Rebuild the native model saved in ``folder`` (the object :meth:`save` was given)."""
        predictor = self.load(folder, meta, trusted=trusted)
        return getattr(predictor, "model", predictor)

    def unsafe_parts(self, model: Any) -> list[str]:
        """Names of the parts of ``model`` this flavor could not load back safely.

        The default is none; :func:`flavor_for` falls back to pickle (trusted only) when a
        flavor reports some.
        """
        del model
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def require(module: str, *, package: str, flavor: str) -> ModuleType:
    """Import ``module`` for a flavor, or say which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise FlavorError(
            f"The {flavor!r} model flavor needs the Python package {package!r}, which is "
            "not installed.",
            hint=f"Run: pip install {package}",
            flavor=flavor,
            package=package,
        ) from exc


def import_class(path: str, *, flavor: str) -> type:
    """Resolve ``"module:Qualified.Name"`` to a class, raising :class:`FlavorError`."""
    try:
        found = import_object(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise FlavorError(
            f"The {flavor!r} flavor cannot import the model class {path!r}: {exc}.",
            hint="Install the package that defines it, or run from the project root so "
            "its module is importable.",
            flavor=flavor,
            cls=path,
        ) from exc
    if not isinstance(found, type):
        raise FlavorError(
            f"The {flavor!r} flavor expected a class at {path!r}, found {type(found).__name__}.",
            hint="The stored metadata was altered; register the model again.",
            flavor=flavor,
            cls=path,
        )
    return found


def refuse_local_class(model: Any, *, flavor: str) -> None:
    """Refuse a class defined inside a function: it could not be imported to load it."""
    kind = type(model)
    if "<locals>" in kind.__qualname__:
        raise FlavorError(
            f"Cannot save a {kind.__qualname__}: the class is defined inside a function, so "
            "it could not be imported to load the model.",
            hint="Define the class at the top level of a module.",
            flavor=flavor,
        )


def model_file(folder: Path, meta: dict[str, Any], default: str) -> Path:
    """The model file ``meta["file"]`` names inside ``folder`` (``default`` when absent).

    Raises:
        conveyor.core.UnsafePathError: The recorded name leads outside ``folder``.
    """
    return resolve_inside(folder, meta.get("file", default), what="the recorded model file")


def recorded_class(
    meta: dict[str, Any],
    allowed: Collection[str],
    *,
    base: tuple[type, ...],
    base_name: str,
    flavor: str,
    trusted: bool,
    project: bool = False,
) -> type:
    """Import the model class ``meta["class"]`` names, after the load policy allowed it.

    Untrusted, the path must be in ``allowed`` exactly, or (with ``project``) a class of
    the project's own code already imported (:func:`conveyor.core.check_model_class`);
    trusted, any class path is imported. Either way the class must derive from ``base``.

    Raises:
        UntrustedModelError: The policy refused the path; nothing was imported.
        FlavorError: The class cannot be imported or does not derive from ``base``.
    """
    path = meta.get("class")
    what = f"the recorded {flavor} class"
    try:
        if project:
            checked = check_model_class(
                path, allowed, base=base[0], base_name=base_name, trusted=trusted, what=what
            )
        else:
            checked = str(path) if trusted else check_class_path(path, allowed, what=what)
    except UntrustedContentError as exc:
        raise UntrustedModelError(
            exc.message, hint=exc.hint, flavor=flavor, types=exc.fields["types"]
        ) from exc
    cls = import_class(checked, flavor=flavor)
    if not issubclass(cls, base):
        raise FlavorError(
            f"Recorded class {path!r} is not a {base_name}.",
            hint="The stored metadata was altered; register the model again.",
            flavor=flavor,
        )
    return cls


def json_problem(value: Any, *, exact: bool = False) -> str | None:
    """Why ``value`` cannot be recorded in metadata as JSON, or ``None`` when it can.

    With ``exact``, it must also come back equal (no tuples, no non-string dict keys).

    Example:
        >>> json_problem({"width": 4}) is None
        True
        >>> json_problem({1: "a"}, exact=True)
        'it does not survive JSON (tuples or non-string dict keys)'
    """
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"it is not JSON-able ({exc})"
    if exact and json.loads(text) != value:
        return "it does not survive JSON (tuples or non-string dict keys)"
    return None
