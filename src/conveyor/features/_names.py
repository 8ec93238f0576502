"""Names in feature definitions: the checks a definition's name and its column names pass,
and ``view:feature`` references."""

from __future__ import annotations

from conveyor.core import validate_name
from conveyor.errors import InvalidNameError
from conveyor.features._errors import FeatureDefinitionError

__all__ = ["checked_column", "checked_name", "feature_ref", "split_ref"]


def checked_name(value: object, kind: str) -> str:
    """``value`` if it is a valid name for a ``kind``; else a FeatureDefinitionError."""
    try:
        return validate_name(value, kind=kind)
    except InvalidNameError as exc:
        raise FeatureDefinitionError(str(exc), hint=exc.hint, **exc.fields) from exc


def checked_column(value: object, kind: str) -> str:
    """A column name: any non-empty string without control characters, at most 128 long."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > 128
        or any(ord(c) < 32 or c == "\x7f" for c in value)
    ):
        raise FeatureDefinitionError(
            f"Invalid {kind} {value!r}: a column name is a non-empty string of at most 128 "
            "printable characters.",
            hint=f"Rename the {kind}.",
            value=repr(value)[:200],
        )
    return value


def feature_ref(view: str, feature: str) -> str:
    """``view:feature``."""
    return f"{view}:{feature}"


def split_ref(ref: object) -> tuple[str, str | None]:
    """``"view:feature"`` -> ``("view", "feature")``; ``"view"`` -> ``("view", None)``.

    Raises:
        FeatureDefinitionError: ``ref`` is not a string of that shape.
    """
    if not isinstance(ref, str) or not ref or ref.count(":") > 1:
        raise FeatureDefinitionError(
            f"Invalid feature reference {ref!r}: expected 'view:feature' or 'view'.",
            hint="Name features as view:feature (e.g. user_stats:orders_7d).",
            ref=repr(ref)[:200],
        )
    view, _, feature = ref.partition(":")
    return view, (feature or None)
