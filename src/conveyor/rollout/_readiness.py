"""Readiness of a version before it takes traffic: it loads as the server will load it, and
predicts its input example.

The check loads what ``conveyor serve`` loads: the ONNX twin when it passed parity (the
server prefers it) and the native model (which serves explanations and is loaded by the
server in every case), each file verified against its hash. A deployment record therefore
never says a version serves when no server could load it. An integrity failure is written to
the audit log (``model.integrity_failed``) and refuses the deployment with the exit code of
tampering.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from conveyor.errors import ConveyorError, IntegrityError
from conveyor.rollout._errors import VersionNotReadyError, VersionTamperedError

if TYPE_CHECKING:
    from conveyor.registry import LoadedModel
    from conveyor.workspace import Workspace

_log = logging.getLogger("conveyor.rollout")


def check_ready(ws: Workspace, ref: str) -> None:
    """Load ``ref`` as the server will (ONNX twin and native model) and smoke-predict.

    Args:
        ws: The workspace.
        ref: ``model@version``.

    Raises:
        VersionNotReadyError: loading failed (integrity, untrusted pickle...) or the
            prediction on the input example raised.
        VersionTamperedError: a file failed its hash check (exit code 3); the failure is
            in the audit log.
    """
    loaded: list[LoadedModel] = []
    try:
        served = _load(ws, ref, prefer_onnx=True)
        loaded.append(served)
        if served.uses_onnx:
            loaded.append(_load(ws, ref, prefer_onnx=False))
        example = served.version.input_example
        if example is None:
            return
        frame = example_frame(example)
        for model in loaded:
            _smoke(model, ref, frame)
    finally:
        for model in loaded:
            model.close()


def _load(ws: Workspace, ref: str, *, prefer_onnx: bool) -> LoadedModel:
    what = "its ONNX twin" if prefer_onnx else "its native model"
    try:
        return ws.models.load(ref, prefer_onnx=prefer_onnx)
    except IntegrityError as exc:
        _audit(ws, ref, exc)
        raise VersionTamperedError(
            f"Version {ref} cannot be loaded, so it was not deployed: {exc.message}",
            hint=exc.hint or "Restore the artifact store or register the version again.",
            ref=ref,
        ) from exc
    except ConveyorError as exc:
        raise VersionNotReadyError(
            f"Version {ref} cannot be loaded ({what}), so it was not deployed: {exc.message}",
            hint=exc.hint or "Fix or re-register the version, then deploy again.",
            ref=ref,
        ) from exc


def _smoke(model: LoadedModel, ref: str, frame: pd.DataFrame) -> None:
    try:
        model.predict(frame)
    except Exception as exc:  # any failure of user model code means "not ready"
        served = "ONNX twin" if model.uses_onnx else "model"
        raise VersionNotReadyError(
            f"Version {ref} ({served}) failed its smoke prediction on its input example: "
            f"{type(exc).__name__}: {exc}",
            hint="Fix the model and register a new version; the current deployment is unchanged.",
            ref=ref,
        ) from exc


def _audit(ws: Workspace, ref: str, exc: IntegrityError) -> None:
    fields = exc.fields
    target = f"model:{fields.get('name', ref)}@{fields.get('version', '')}".rstrip("@")
    details: dict[str, Any] = {
        "ref": ref,
        "file": str(fields.get("file", "")),
        "object": str(fields.get("object", "")),
        "error": exc.message,
        "during": "deploy readiness check",
    }
    try:
        ws.audit.record_event(ws.actor, "model.integrity_failed", target, details)
    except ConveyorError as audit_error:
        _log.error("Could not audit the integrity failure of %s: %s", ref, audit_error)


def example_frame(example: Any) -> pd.DataFrame:
    """Turn a stored input example (split dict, records or columns) into a frame."""
    if isinstance(example, dict) and "columns" in example and "data" in example:
        return pd.DataFrame(example["data"], columns=example["columns"])
    if isinstance(example, list):
        return pd.DataFrame(example)
    return pd.DataFrame(example)
