"""Loading a registered version to serve: every file it answers with verified first.

:func:`model_loader` turns a model reference into a loader of a
:class:`~conveyor.serving.ServedModel` that is ready only once the files it serves (the
ONNX twin, and the native model in every case) match their recorded hashes; an integrity
failure is written to the audit log and fails the load. The prediction server
(:mod:`conveyor.serving._launch`) and batch prediction (:mod:`conveyor.serving._batch`)
load versions through it; :func:`verify_version` is what ``conveyor serve`` checks before
it starts.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError, IntegrityError
from conveyor.serving._explain import ExplainerSlot, explainer_for
from conveyor.serving._features import assembler_for
from conveyor.serving._model import ServedModel, class_labels
from conveyor.serving._tempdirs import mark_folder

__all__ = [
    "archive_class_labels",
    "audit_integrity_failure",
    "model_loader",
    "verified_files",
    "verify_version",
]

_log = logging.getLogger("conveyor.serving")


def model_loader(
    ws: Any,
    ref: str,
    *,
    prefer_onnx: bool = True,
    explain: bool = True,
    loaded: weakref.WeakValueDictionary[int, Any] | None = None,
    on_load: Callable[[ServedModel], None] | None = None,
) -> Callable[[], ServedModel]:
    """A loader of ``ref`` from the workspace's registry, every artifact it serves verified.

    A version tagged with a feature service (``conveyor.feature_service``) is served with
    its features looked up in the project's online store (``ws.features``); its load fails
    when the project's feature store cannot provide that service.

    The version is ready only when every file it will answer with verified against its
    recorded hash: the ONNX twin when it serves predictions, and the native model, which
    serves explanations and is the source of truth, in every case. When the ONNX twin
    serves, the native files are only checked against their hashes, not loaded (loading a
    skops file imports scikit-learn and walks its estimators): they are loaded by the
    explainer, and read for the class labels when those are not plain arrays. An
    integrity failure is written to the audit log (``model.integrity_failed``) and fails
    the load, so the server never turns ready on a tampered version; any other failure to
    build the explainer only disables explanations.

    Args:
        ws: An open workspace.
        ref: ``name``, ``name@version`` or ``name@alias``.
        prefer_onnx: Serve the ONNX twin when the version has one that passed parity.
        explain: Prepare the version's explainer as part of loading it, before it is ready
            (on the native model, also when the ONNX twin serves); ``False``: on the first
            ``/v1/explain`` request.
        loaded: Collects the registry's loaded models (their temporary folders), weakly,
            for the caller to close at shutdown.
        on_load: Called with each loaded version before it is ready; what it raises
            fails the load (the server masks personal-data columns this way).

    Raises:
        IntegrityError: (from the loader) a file does not match its recorded hash.
        FeatureServingError: (from the loader) the version's feature service cannot be
            provided.
    """
    registry = ws.models

    def load() -> ServedModel:
        try:
            served = registry.load(ref, prefer_onnx=prefer_onnx)
            _own(served, loaded)
            native_files: tuple[dict[str, Any], dict[str, bytes]] = ({}, {})
            if served.uses_onnx:  # verify the native files too: they are the model
                native_files = verified_files(ws, served.version, onnx=False)
        except IntegrityError as exc:
            audit_integrity_failure(ws, ref, exc)
            raise
        model = ServedModel.from_loaded(served)
        # A version trained with a feature service gets its features looked up per request.
        features = assembler_for(ws, model, served.version.tags)
        if features is not None:
            object.__setattr__(model, "features", features)
        if on_load is not None:
            on_load(model)
        native_lock = threading.Lock()
        native_held: list[Any] = [] if served.uses_onnx else [served]

        def native() -> Any:
            """The native model (the served one, or loaded once beside the ONNX twin)."""
            with native_lock:
                if not native_held:
                    pinned = f"{served.version.name}@{served.version.version}"
                    try:  # also on a first /v1/explain: files altered since are audited
                        loaded_native = registry.load(pinned, prefer_onnx=False)
                    except IntegrityError as exc:
                        audit_integrity_failure(ws, ref, exc)
                        raise
                    _own(loaded_native, loaded)
                    native_held.append(loaded_native)
                return native_held[0]

        if model.classes is None and served.uses_onnx:  # the ONNX twin keeps no labels
            classes = archive_class_labels(native_files)
            if classes is None:
                classes = class_labels(native().predictor)
            object.__setattr__(model, "classes", classes)
        if _has_example(model):

            def build() -> Any:
                source = native()
                explainer = explainer_for(source.predictor, model)
                explainer.source = source  # the native model's files live as long as it
                return explainer

            slot = ExplainerSlot.prepare(build) if explain else ExplainerSlot.deferred(build)
            object.__setattr__(model, "explainer", slot)
        del native_files  # the bytes were needed for the labels only
        if served.uses_onnx and native_held and not (explain and _has_example(model)):
            native_held.pop().close()  # read for its labels only; the explainer reloads it
        return model

    return load


def _own(model: Any, loaded: weakref.WeakValueDictionary[int, Any] | None) -> None:
    """Mark ``model``'s temporary folder as this process's, and remember it for closing."""
    mark_folder(Path(model.folder))
    if loaded is not None:
        loaded[id(model)] = model


def audit_integrity_failure(ws: Any, ref: str, exc: IntegrityError) -> None:
    """Append ``model.integrity_failed`` to the audit log (best effort: the load fails anyway)."""
    fields = exc.fields
    target = f"model:{fields.get('name', ref)}@{fields.get('version', '')}".rstrip("@")
    details = {
        "ref": ref,
        "file": str(fields.get("file", "")),
        "object": str(fields.get("object", "")),
        "error": exc.message,
    }
    try:
        ws.audit.record_event(ws.actor, "model.integrity_failed", target, details)
    except ConveyorError as audit_error:
        _log.error("Could not audit the integrity failure of %s: %s", ref, audit_error)


def verify_version(ws: Any, ref: str) -> Any:
    """Check every stored file of ``ref`` (native and ONNX twin) against its hash.

    What ``conveyor serve`` runs before it starts: a tampered version is refused at once
    (and audited) instead of a server that never turns ready.

    Returns:
        The version record.

    Raises:
        IntegrityError: A file does not match its recorded hash or is missing.
    """
    version = ws.models.get(ref)
    try:
        verified_files(ws, version, onnx=False)
        verified_files(ws, version, onnx=True)
    except IntegrityError as exc:
        audit_integrity_failure(ws, ref, exc)
        raise
    return version


def verified_files(ws: Any, version: Any, *, onnx: bool) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The native (or ONNX twin's) part of ``version``'s manifest and its files' bytes, each
    checked against its recorded hash (an ONNX part the version lacks is empty).

    Raises:
        IntegrityError: A file does not match its recorded hash or is missing.
    """
    from conveyor.errors import ArtifactNotFoundError

    manifest = ws.models.manifest(version)
    part: dict[str, Any] = (manifest.get("onnx") or {}) if onnx else manifest
    prefix = "onnx/" if onnx else ""
    files: dict[str, bytes] = {}
    for rel, entry in sorted((part.get("files") or {}).items()):
        digest = entry["hash"]
        try:
            files[rel] = ws.artifacts.get_bytes(digest)
        except (IntegrityError, ArtifactNotFoundError) as exc:
            raise IntegrityError(
                f"Model {version.name}@{version.version} cannot be served: its file "
                f"{prefix}{rel} (object {digest}) "
                + (
                    "is missing."
                    if isinstance(exc, ArtifactNotFoundError)
                    else "does not match its recorded hash."
                ),
                hint="The stored bytes were altered or damaged: restore the artifact "
                "store from a backup, or register the model again.",
                name=version.name,
                version=version.version,
                object=digest,
                file=prefix + rel,
            ) from exc
    return part, files


def archive_class_labels(
    native: tuple[dict[str, Any], dict[str, bytes]],
) -> tuple[Any, ...] | None:
    """A scikit-learn classifier's labels read from its verified skops file, nothing built.

    Returns:
        The labels, or ``None`` when the native model is not a skops file or its labels
        are not a plain array (the caller then loads the model to ask it).
    """
    part, files = native
    if part.get("flavor") != "sklearn":
        return None
    data = files.get(str((part.get("flavor_meta") or {}).get("file", "")))
    if data is None:
        return None
    from conveyor.registry.flavors._sklearn import skops_class_labels

    return skops_class_labels(data)


def _has_example(model: ServedModel) -> bool:
    example = model.example
    return isinstance(example, dict) and "columns" in example and "data" in example
