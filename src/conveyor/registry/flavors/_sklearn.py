"""scikit-learn estimators through skops, loaded under conveyor's load policy.

skops records every type a file needs. Loading goes through
:func:`conveyor.core.load_skops`: the archive is bounded before it is inflated, and only
types on the exact trusted list (:data:`conveyor.core.SKOPS_TRUSTED_TYPES` plus skops'
defaults) are built. A file naming anything else (a custom class, a function from any
module, even one inside scikit-learn, numpy or scipy) is refused before an object is
built, unless the version was registered with ``trusted=True``. Files are written
deterministically (:func:`dumps_estimator`): the same estimator gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from conveyor.core import (
    ArchiveLimits,
    UnreadableArchiveError,
    UntrustedContentError,
    check_archive,
    load_skops,
    skops_types,
    untrusted_types,
)
from conveyor.registry.flavors._base import (
    Flavor,
    Predictor,
    imported_subclass,
    model_file,
    require,
)
from conveyor.registry.flavors._errors import FlavorError, UntrustedModelError
from conveyor.registry.flavors._skops import dumps_estimator, import_skops

if TYPE_CHECKING:
    import pandas as pd

MODEL_FILE = "model.skops"


class SklearnPredictor:
    """A fitted scikit-learn estimator behind the :class:`Predictor` interface."""

    def __init__(self, model: Any) -> None:
        self.model = model
        names = _feature_names(model)
        # Estimators fitted on frames warn when given bare arrays; keep their names.
        self._columns: list[str] | None = None if names is None else [str(n) for n in names]
        if callable(getattr(model, "predict_proba", None)):
            self.predict_proba = self._predict_proba

    def _input(self, frame: pd.DataFrame) -> Any:
        # An estimator fitted on a bare array warns when given a frame: pass it the values.
        return frame if self._columns is not None else frame.to_numpy()

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predictions of the estimator for ``frame``."""
        return np.asarray(self.model.predict(self._input(frame)))

    def _predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict_proba(self._input(frame)))

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Predictions for a 2-D array in signature column order."""
        if self._columns is not None:
            import pandas as pd

            return self.predict(pd.DataFrame(x, columns=self._columns))
        return np.asarray(self.model.predict(x))


class SklearnFlavor(Flavor):
    """Any ``sklearn.base.BaseEstimator`` (pipelines and search results included)."""

    name: ClassVar[str] = "sklearn"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return imported_subclass(type(model), "sklearn.base", "BaseEstimator")

    def unsafe_parts(self, model: Any) -> list[str]:
        sio = import_skops(self.name)
        try:
            data = sio.dumps(model)
        except (TypeError, ValueError, AttributeError) as exc:
            return [f"{type(model).__qualname__} ({exc})"]
        # The load policy's own reading of the file (estimators decided by name, no walk).
        return untrusted_types(skops_types(data, source=MODEL_FILE))

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        data = dumps_estimator(model, flavor=self.name)
        # The same checks as loading (bounds included): never store what could not load.
        untrusted = untrusted_types(skops_types(data, source=MODEL_FILE))
        if untrusted:
            raise UntrustedModelError(
                f"The estimator {type(model).__qualname__} contains types that could not be "
                f"loaded safely: {', '.join(untrusted)}.",
                hint="Use scikit-learn estimators and the types listed in "
                "conveyor.core.SKOPS_TRUSTED_TYPES only, wrap the model in a pyfunc class, "
                "or register it with trusted=True.",
                flavor=self.name,
                types=untrusted,
            )
        (folder / MODEL_FILE).write_bytes(data)
        sklearn = require("sklearn", package="scikit-learn", flavor=self.name)
        return {"file": MODEL_FILE, "sklearn_version": sklearn.__version__}

    def load_model(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Any:
        return load_estimator(model_file(folder, meta, MODEL_FILE), trusted=trusted)

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        return SklearnPredictor(self.load_model(folder, meta, trusted=trusted))


def load_estimator(
    path: Path, *, trusted: bool = False, limits: ArchiveLimits | None = None
) -> Any:
    """Load a skops file under the load policy (:func:`conveyor.core.load_skops`).

    Args:
        path: The skops file.
        trusted: Load whatever types it names (the version was registered trusted).
        limits: Bounds on the archive; the defaults of :class:`ArchiveLimits`.

    Raises:
        UntrustedModelError: The file names types outside the exact trusted list and
            ``trusted`` is false; nothing was built.
        conveyor.core.ArchiveLimitError: The archive would inflate past ``limits``.
        FlavorError: The file is not a readable skops archive.
    """
    try:
        return load_skops(path.read_bytes(), source=path.name, trusted=trusted, limits=limits)
    except UntrustedContentError as exc:
        raise UntrustedModelError(
            exc.message, hint=exc.hint, flavor=SklearnFlavor.name, types=exc.fields["types"]
        ) from exc
    except UnreadableArchiveError as exc:
        detail = exc.__cause__ if exc.__cause__ is not None else exc
        raise FlavorError(
            f"{path.name} is not a readable skops file: {detail}.",
            hint="The stored model is damaged; register it again.",
            flavor=SklearnFlavor.name,
        ) from exc


def _feature_names(model: Any) -> Any:
    """The column names the estimator (or a step of a pipeline) was fitted with."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return names
    for _, step in getattr(model, "steps", None) or []:
        names = _feature_names(step)
        if names is not None:
            return names
    return None


def skops_class_labels(data: bytes) -> tuple[Any, ...] | None:
    """A classifier's labels read from its skops archive without loading the estimator.

    Only ``schema.json`` and the one ``.npy`` member of ``classes_`` are read (of the
    estimator, or of a pipeline's last step), with pickled arrays refused, so neither skops
    nor scikit-learn is imported: what a server serving the ONNX twin needs for the labels
    of its probability columns.

    Returns:
        The labels as JSON values, or ``None`` when the archive holds no plain ``classes_``
        array there (the caller loads the estimator to ask it) or cannot be read.

    Example:
        >>> import skops.io as sio
        >>> from sklearn.linear_model import LogisticRegression
        >>> fitted = LogisticRegression().fit([[0.0], [1.0]], ["no", "yes"])
        >>> skops_class_labels(sio.dumps(fitted))
        ('no', 'yes')
    """
    import io
    import json
    import zipfile

    try:
        check_archive(data, source=MODEL_FILE)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            node = _classes_node(json.loads(archive.read("schema.json").decode("utf-8")))
            if node is None:
                return None
            member = archive.read(str(node["file"]))
        classes = np.load(io.BytesIO(member), allow_pickle=False)
    except Exception:  # noqa: BLE001 - unreadable here: the caller loads the estimator
        return None
    if classes.ndim != 1:
        return None
    values: list[Any] = classes.tolist()
    return tuple(values)


def _classes_node(schema: Any) -> dict[str, Any] | None:
    """The ``classes_`` array node of an estimator's schema (or of a pipeline's last step)."""
    for _ in range(8):  # nested pipelines, bounded
        attributes = _attributes(schema)
        node = attributes.get("classes_")
        if isinstance(node, dict):
            plain = node.get("__loader__") == "NdArrayNode" and node.get("type") == "numpy"
            return node if plain and isinstance(node.get("file"), str) else None
        steps = attributes.get("steps")
        items = steps.get("content") if isinstance(steps, dict) else None
        last = items[-1] if isinstance(items, list) and items else None
        pair = last.get("content") if isinstance(last, dict) else None
        if not (isinstance(pair, list) and len(pair) == 2):
            return None
        schema = pair[1]
    return None


def _attributes(node: Any) -> dict[str, Any]:
    """The attribute nodes of an object node (``{}`` for anything else)."""
    state = node.get("content") if isinstance(node, dict) else None
    attributes = state.get("content") if isinstance(state, dict) else None
    return attributes if isinstance(attributes, dict) else {}
