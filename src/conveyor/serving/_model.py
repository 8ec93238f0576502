"""One loaded model version as the server sees it: predictor, input columns, labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from conveyor.serving._features import FeatureAssembler

NUMERIC_TYPES = frozenset({"double", "float", "long", "integer", "boolean"})


class FramePredictor(Protocol):
    """The part of a flavor's predictor the server needs (``predict`` on a DataFrame)."""

    def predict(self, frame: Any) -> Any:
        """Predict one output per row of ``frame``."""


@runtime_checkable
class ArrayPredictor(Protocol):
    """A predictor with the fast path: a 2-D float array in signature column order."""

    def predict_array(self, x: npt.NDArray[np.float64]) -> Any:
        """Predict one output per row of ``x``."""


@dataclass(frozen=True)
class InputColumn:
    """One input column of a served model.

    Attributes:
        name: The column name.
        type: ``"double"``, ``"long"``, ``"boolean"``, ``"string"`` or ``"datetime"``.
        nullable: Whether ``null`` is accepted.
    """

    name: str
    type: str
    nullable: bool = False


@dataclass(frozen=True, eq=False)
class ServedModel:
    """A loaded model version ready to answer requests.

    Attributes:
        name: The model name.
        version: The version number.
        predictor: The flavor's predictor (``predict(frame)``; ``predict_array`` when it has one).
        columns: The input columns in signature order.
        signature: The registry's signature (its ``validate(frame)`` checks the DataFrame path).
        flavor: The flavor name (shown in metadata).
        variant: The deployment variant ("" outside deployments).
        revision: The deployment revision ("" outside deployments).
        source: What the model was loaded from (kept alive while served).
        example: The registered input example (background rows for explanations).
        explainer: The explainer of this version, prepared while it was loaded (an
            ``ExplainerSlot``; ``None``: built on the first ``/v1/explain``).
        classes: A classifier's class labels, in the order of its probability columns
            (``None`` when unknown).
        features: Looks up the version's feature-service features and assembles full
            rows, when it was trained with a feature service (``None`` otherwise).
        provided: Columns the server looks up itself; a request naming one is refused
            (set on the request-side view of a model served with features).
    """

    name: str
    version: int
    predictor: FramePredictor
    columns: tuple[InputColumn, ...]
    signature: Any = None
    flavor: str = ""
    variant: str = ""
    revision: str = ""
    source: Any = field(default=None, repr=False)
    example: Any = field(default=None, repr=False)
    explainer: Any = field(default=None, repr=False)
    classes: tuple[Any, ...] | None = field(default=None, repr=False)
    features: FeatureAssembler | None = field(default=None, repr=False)
    provided: frozenset[str] = field(default=frozenset(), repr=False)
    column_names: tuple[str, ...] = field(init=False)
    column_index: dict[str, InputColumn] = field(init=False)
    array_path: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})
        numeric = all(c.type in NUMERIC_TYPES for c in self.columns)
        object.__setattr__(
            self, "array_path", numeric and isinstance(self.predictor, ArrayPredictor)
        )

    @property
    def has_proba(self) -> bool:
        """Whether the predictor returns class probabilities (``predict_proba``)."""
        return callable(getattr(self.predictor, "predict_proba", None))

    @property
    def output_type(self) -> str | None:
        """The signature's type of the prediction (``"long"``, ``"string"``...), if recorded."""
        outputs = getattr(self.signature, "outputs", None)
        if not outputs:
            return None
        return str(outputs[0].type)

    @property
    def key(self) -> tuple[str, int]:
        """``(name, version)``: the host's key for this version."""
        return (self.name, self.version)

    @classmethod
    def from_signature(
        cls,
        name: str,
        version: int,
        predictor: FramePredictor,
        signature: Any,
        *,
        flavor: str = "",
        variant: str = "",
        revision: str = "",
    ) -> ServedModel:
        """Build from a registry signature (anything with ``inputs`` of name/type/nullable)."""
        specs: Sequence[Any] = getattr(signature, "inputs", None) or ()
        columns = tuple(
            InputColumn(str(s.name), str(s.type), bool(getattr(s, "nullable", False)))
            for s in specs
        )
        return cls(name, version, predictor, columns, signature, flavor, variant, revision)

    @classmethod
    def from_loaded(cls, loaded: Any, *, variant: str = "", revision: str = "") -> ServedModel:
        """Build from the registry's ``LoadedModel`` (kept referenced: it owns the files).

        Args:
            loaded: What ``ModelRegistry.load`` returned.
            variant: The deployment variant ("" outside deployments).
            revision: The deployment revision ("" outside deployments).
        """
        from conveyor.registry.flavors import Signature

        record = loaded.version
        signature = record.signature
        if isinstance(signature, dict):
            signature = Signature.from_dict(signature)
        model = cls.from_signature(
            str(record.name),
            int(record.version),
            loaded.predictor,
            signature,
            flavor=("onnx" if getattr(loaded, "uses_onnx", False) else str(record.flavor or "")),
            variant=variant,
            revision=revision,
        )
        object.__setattr__(model, "source", loaded)
        object.__setattr__(model, "example", record.input_example)
        object.__setattr__(model, "classes", class_labels(loaded.predictor))
        return model


def class_labels(predictor: Any) -> tuple[Any, ...] | None:
    """A classifier's class labels as JSON values (``None`` when the predictor has none)."""
    classes = getattr(getattr(predictor, "model", None), "classes_", None)
    if classes is None:
        return None
    values: list[Any] = np.asarray(classes).tolist()
    return tuple(values)
