"""Personal-data columns of a model version: flagged in its signature, blanked in its example.

A signature input column may carry ``"pii": true`` (``register(..., pii=("email",))``).
The prediction server then hashes or drops that column in the prediction log as it does
the configured ``predictions.pii.columns``, monitoring leaves it out, and the registry never
stores its values: the version's input example keeps the column (readiness checks and
explainers still get every input) with each value replaced by :data:`REDACTED` (string
columns) or null (other types). The registry holds no hashing key, and an example needs
no real personal data, so the values are blanked rather than hashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conveyor.errors import ConveyorError
from conveyor.registry._errors import RegistrationError
from conveyor.registry._prepare import example_frame

#: What a personal-data value of a string column reads as in a stored input example.
REDACTED = "[personal data]"


def signature_pii(signature: Mapping[str, Any] | None) -> list[str]:
    """The input columns a signature dict flags as personal data, in order.

    Example:
        >>> signature_pii({"inputs": [{"name": "email", "type": "string", "pii": True}]})
        ['email']
    """
    inputs = (signature or {}).get("inputs") or []
    return [
        str(column["name"])
        for column in inputs
        if isinstance(column, Mapping) and column.get("pii") is True
    ]


def mark_pii(
    model: Any, input_example: Any, signature: Any, pii: Iterable[str]
) -> dict[str, Any] | None:
    """The signature to register: the given or inferred one with ``pii`` columns flagged.

    ``None`` when nothing is to be flagged and no signature was given (the registry infers
    it as usual).

    Raises:
        RegistrationError: ``pii`` names a column the signature does not have, or there is
            no signature to flag (neither ``input_example`` nor ``signature`` was given).
    """
    from conveyor.registry import flavors as fl

    names = [pii] if isinstance(pii, str) else list(pii)
    if not names:
        return None
    if signature is not None:
        try:
            base = signature if isinstance(signature, fl.Signature) else _from_dict(signature)
        except (KeyError, TypeError, ConveyorError) as exc:
            raise RegistrationError(
                f"Cannot read the signature given to flag personal-data columns: {exc}.",
                hint="Pass a conveyor.registry.flavors.Signature or its to_dict() form.",
            ) from exc
    else:
        frame = example_frame(input_example)
        if frame is None:
            raise RegistrationError(
                f"Cannot mark {', '.join(map(repr, names))} as personal data: the version "
                "has no signature (no input_example= or signature= was given).",
                hint="Pass input_example= (a few rows) or signature= along with pii=.",
                pii=names,
            )
        base = fl.infer_signature(frame, model)
    try:
        marked = base.with_pii(names)
    except fl.SignatureError as exc:
        raise RegistrationError(
            exc.message, hint=exc.hint, unknown=exc.fields.get("unknown"), columns=base.columns
        ) from exc
    result: dict[str, Any] = marked.to_dict()
    return result


def _from_dict(signature: Any) -> Any:
    from conveyor.registry import flavors as fl

    if not isinstance(signature, Mapping):
        raise TypeError(f"expected a Signature or a dict, got {type(signature).__name__}")
    return fl.Signature.from_dict(signature)


def redact_example(example: Any, signature: Mapping[str, Any] | None) -> Any:
    """``example`` (``{"columns", "data"}``) with its personal-data values blanked.

    Columns stay in place; a value of a ``string`` column becomes :data:`REDACTED`, any
    other value ``None``, and a missing value stays missing.
    """
    private = set(signature_pii(signature))
    if not private or not isinstance(example, Mapping) or "columns" not in example:
        return example
    kinds = {
        str(c.get("name")): c.get("type")
        for c in (signature or {}).get("inputs") or []
        if isinstance(c, Mapping)
    }
    columns = [str(name) for name in example["columns"]]
    blank = [
        (i, REDACTED if kinds.get(name) == "string" else None)
        for i, name in enumerate(columns)
        if name in private
    ]
    rows = []
    for row in example.get("data") or []:
        values = list(row)
        for i, placeholder in blank:
            if i < len(values) and values[i] is not None:
                values[i] = placeholder
        rows.append(values)
    return {**example, "columns": columns, "data": rows}
