"""Readiness of a version before it takes traffic: it loads, and predicts its input example."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from conveyor.deploy._errors import VersionNotReadyError
from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


def check_ready(ws: Workspace, ref: str) -> None:
    """Load ``ref`` from the registry and smoke-predict its recorded input example.

    Args:
        ws: The workspace.
        ref: ``model@version``.

    Raises:
        VersionNotReadyError: loading failed (integrity, untrusted pickle...) or the
            prediction on the input example raised.
    """
    try:
        loaded = ws.models.load(ref)
    except ConveyorError as exc:
        raise VersionNotReadyError(
            f"Version {ref} cannot be loaded, so it was not deployed: {exc.message}",
            hint=exc.hint or "Fix or re-register the version, then deploy again.",
            ref=ref,
        ) from exc
    with loaded:
        example = loaded.version.input_example
        if example is None:
            return
        try:
            loaded.predict(example_frame(example))
        except Exception as exc:  # any failure of user model code means "not ready"
            raise VersionNotReadyError(
                f"Version {ref} failed its smoke prediction on its input example: "
                f"{type(exc).__name__}: {exc}",
                hint="Fix the model and register a new version; the current deployment "
                "is unchanged.",
                ref=ref,
            ) from exc


def example_frame(example: Any) -> pd.DataFrame:
    """Turn a stored input example (split dict, records or columns) into a frame."""
    if isinstance(example, dict) and "columns" in example and "data" in example:
        return pd.DataFrame(example["data"], columns=example["columns"])
    if isinstance(example, list):
        return pd.DataFrame(example)
    return pd.DataFrame(example)
