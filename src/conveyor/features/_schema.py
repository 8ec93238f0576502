"""A feature view's schema: its features (:class:`Field`), the value types they may
declare (:data:`DTYPES`) and the defaults served when a value is missing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.features._errors import FeatureDefinitionError
from conveyor.features._names import checked_column

__all__ = ["DTYPES", "Field", "schema_fields"]

#: The value types a feature may declare, and the pandas dtype each is cast to.
DTYPES: dict[str, str] = {
    "int64": "Int64",
    "float64": "float64",
    "string": "string",
    "bool": "boolean",
    "datetime": "datetime64[us, UTC]",
}


@dataclass(frozen=True)
class Field:
    """One feature of a view: its column, value type and the value served when missing.

    Args:
        name: The column in the view's source.
        dtype: One of :data:`DTYPES` (``int64``, ``float64``, ``string``, ``bool``,
            ``datetime``).
        default: The value an online lookup answers for an entity that has none, when
            the feature service's ``on_missing`` is ``"default"``.
    """

    name: str
    dtype: str = "float64"
    default: Any = None

    def __post_init__(self) -> None:
        checked_column(self.name, "feature name")
        if self.dtype not in DTYPES:
            raise FeatureDefinitionError(
                f"Feature {self.name!r} has the unknown type {self.dtype!r}; types are "
                f"{', '.join(DTYPES)}.",
                hint="Declare one of those types.",
                feature=self.name,
                dtype=str(self.dtype),
            )
        if self.default is not None and not isinstance(self.default, str | int | float | bool):
            raise FeatureDefinitionError(
                f"Feature {self.name!r}: the default {self.default!r} is not a string, number "
                "or boolean.",
                hint="Give a JSON scalar as the default.",
                feature=self.name,
            )

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "default": self.default}


def schema_fields(
    schema: Mapping[str, str] | Iterable[Field | str], view: str
) -> tuple[Field, ...]:
    """A view's schema as :class:`Field` objects: at least one, each named once."""
    if isinstance(schema, Mapping):
        fields = tuple(Field(str(k), str(v)) for k, v in schema.items())
    else:
        fields = tuple(f if isinstance(f, Field) else Field(str(f)) for f in schema)
    if not fields:
        raise FeatureDefinitionError(
            f"Feature view {view!r} declares no features.",
            hint='Pass schema={"feature": "float64", ...}.',
            view=view,
        )
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise FeatureDefinitionError(
            f"Feature view {view!r} declares a feature twice: {names}.",
            hint="Declare each feature once.",
            view=view,
        )
    return fields
