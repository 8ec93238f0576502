"""Turning a model object into stored files: flavor save, signature, ONNX twin, importance.

Everything here happens BEFORE the registration transaction: files are written to the
artifact store (content-addressed, so a failed registration leaves only unreferenced objects
that garbage collection removes) and described by one canonical manifest whose hash is the
version's ``content_hash``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.artifacts import ArtifactStore
from conveyor.core import hash_bytes
from conveyor.errors import ConveyorError
from conveyor.registry._environment import flavor_environment
from conveyor.registry._errors import RegistrationError

if TYPE_CHECKING:
    # pandas is imported when an example is read: opening a workspace and serving need none.
    import pandas as pd

MANIFEST_FORMAT = 1
#: How many example rows are kept on the version record (the card and docs show them).
EXAMPLE_ROWS = 20
#: Synthetic rows drawn around the input example for the ONNX parity check.
PARITY_ROWS = 200

#: ``importance_fn(predictor, frame) -> {feature: mean |SHAP|}``; wired in by the workspace.
ImportanceFn = Callable[[Any, "pd.DataFrame"], Mapping[str, float]]


@dataclass(frozen=True)
class PreparedModel:
    """A model saved into the artifact store, ready to be recorded as a version."""

    flavor: str
    content_hash: str
    object_hashes: frozenset[str]
    signature: dict[str, Any] | None
    input_example: dict[str, Any] | None
    onnx: dict[str, Any] | None
    importance: dict[str, float] | None
    importance_reason: str | None = None
    #: The flavor's packages and Python version (see ``_environment``); ``None`` when
    #: the files were saved elsewhere (:func:`prepare_files`).
    environment: dict[str, Any] | None = None


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: equal values give equal bytes."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def example_frame(example: Any) -> pd.DataFrame | None:
    """An input example (frame, dict of columns, one row dict, list of rows) as a frame."""
    if example is None:
        return None
    import pandas as pd

    if isinstance(example, pd.DataFrame):
        return example.reset_index(drop=True)
    if isinstance(example, Mapping):
        if set(example) == {"columns", "data"}:
            return pd.DataFrame(example["data"], columns=example["columns"])
        values = list(example.values())
        if values and all(isinstance(v, list | tuple | np.ndarray) for v in values):
            return pd.DataFrame(dict(example))
        return pd.DataFrame([dict(example)])
    if isinstance(example, list | tuple) and all(isinstance(r, Mapping) for r in example):
        return pd.DataFrame(list(example))
    raise RegistrationError(
        f"Unsupported input example of type {type(example).__name__}: expected a pandas "
        "DataFrame, a dict (one row or column -> values) or a list of row dicts.",
        hint="Pass input_example=X_train.head(5).",
        type_name=type(example).__name__,
    )


def example_json(frame: pd.DataFrame) -> dict[str, Any]:
    """The first rows of ``frame`` as strict JSON ``{"columns": [...], "data": [[...]]}``."""
    head = frame.head(EXAMPLE_ROWS)
    split = json.loads(head.to_json(orient="split", index=False, date_format="iso"))
    return {"columns": [str(c) for c in split["columns"]], "data": split["data"]}


def store_folder(artifacts: ArtifactStore, folder: Path) -> dict[str, dict[str, Any]]:
    """Store every file under ``folder``; return ``{relative posix path: {hash, size}}``."""
    files: dict[str, dict[str, Any]] = {}
    with artifacts.deferred_sync():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = artifacts.put_file(path)
            files[path.relative_to(folder).as_posix()] = {"hash": info.hash, "size": info.size}
    return files


def prepare_files(
    artifacts: ArtifactStore,
    folder: Path,
    *,
    flavor: str,
    flavor_meta: dict[str, Any],
    signature: dict[str, Any] | None = None,
    input_example: Any = None,
    trusted: bool = False,
) -> PreparedModel:
    """Store a model a flavor has already saved into ``folder`` (no conversion, no checks).

    For importers that produce flavor files themselves; :func:`prepare_model` is the
    usual path.
    """
    files = store_folder(artifacts, folder)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "flavor": flavor,
        "flavor_meta": flavor_meta,
        "files": files,
        "onnx": None,
        "signature": signature,
        "trusted": trusted,
    }
    content_hash = artifacts.put_bytes(canonical_json(manifest)).hash
    frame = example_frame(input_example)
    return PreparedModel(
        flavor=flavor,
        content_hash=content_hash,
        object_hashes=frozenset({content_hash, *(f["hash"] for f in files.values())}),
        signature=signature,
        input_example=None if frame is None else example_json(frame),
        onnx=None,
        importance=None,
    )


def _signature_dict(signature: Any) -> dict[str, Any] | None:
    if signature is None or isinstance(signature, dict):
        return signature
    to_dict = getattr(signature, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, dict):
            return result
    raise RegistrationError(
        f"Unsupported signature of type {type(signature).__name__}: expected a "
        "conveyor.registry.flavors.Signature or its dict form.",
        hint="Omit signature= to infer it from input_example.",
    )


def prepare_model(
    artifacts: ArtifactStore,
    model: Any,
    *,
    flavor: str | None,
    trusted: bool,
    input_example: Any,
    signature: Any,
    onnx: bool,
    importance_fn: ImportanceFn | None,
) -> PreparedModel:
    """Save ``model`` with its flavor, then store files + manifest (see the module docs)."""
    from conveyor.registry import flavors as fl

    chosen = fl.get_flavor(flavor) if flavor is not None else fl.flavor_for(model, trusted=trusted)
    if chosen.name == "pickle" and not trusted:
        raise RegistrationError(
            "Refusing to register a model as a pickle without trusted=True: loading a "
            "pickle runs code from the file.",
            hint="Pass trusted=True only for a model you built yourself, or use a safe flavor.",
            flavor=chosen.name,
        )
    frame = example_frame(input_example)
    sig = _signature_dict(signature)
    if sig is None and frame is not None:
        sig = _signature_dict(fl.infer_signature(frame, model))
    with tempfile.TemporaryDirectory(prefix="conveyor-model-") as tmp:
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        meta = chosen.save(model, model_dir)
        files = store_folder(artifacts, model_dir)
        twin = None
        if onnx and frame is not None and sig is not None:
            twin = _onnx_twin(
                artifacts,
                fl,
                model,
                chosen=chosen,
                model_dir=model_dir,
                meta=meta,
                sig=sig,
                frame=frame,
                trusted=trusted,
            )
        importance, importance_reason = None, None
        if importance_fn is None:
            importance_reason = "registered with explain=False"
        elif frame is None:
            importance_reason = "registered without an input_example to explain"
        else:
            predictor = chosen.load(model_dir, meta, trusted=trusted)
            try:
                computed = importance_fn(predictor, frame)
            except ConveyorError as exc:  # importance is optional: record why, keep the model
                importance_reason = exc.message
            else:
                importance = {str(k): float(v) for k, v in computed.items()}
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "flavor": chosen.name,
        "flavor_meta": meta,
        "files": files,
        "onnx": None if twin is None else twin["manifest"],
        "signature": sig,
        "trusted": trusted,
    }
    content_hash = artifacts.put_bytes(canonical_json(manifest)).hash
    hashes = {content_hash, *(f["hash"] for f in files.values())}
    if twin is not None and twin["manifest"] is not None:
        hashes.update(f["hash"] for f in twin["manifest"]["files"].values())
    return PreparedModel(
        flavor=chosen.name,
        content_hash=content_hash,
        object_hashes=frozenset(hashes),
        signature=sig,
        input_example=None if frame is None else example_json(frame),
        onnx=None if twin is None else twin["record"],
        importance=importance,
        importance_reason=importance_reason,
        environment=flavor_environment(
            chosen.name, twin=twin is not None and bool(twin["manifest"])
        ),
    )


def _onnx_twin(
    artifacts: ArtifactStore,
    fl: Any,
    model: Any,
    *,
    chosen: Any,
    model_dir: Path,
    meta: dict[str, Any],
    sig: dict[str, Any],
    frame: pd.DataFrame,
    trusted: bool,
) -> dict[str, Any]:
    """Convert, store and parity-check the ONNX twin.

    Returns ``{"manifest": ..., "record": ...}``; when the model cannot be converted the
    manifest is ``None`` and the record ``{"reason": "..."}``.
    """
    signature = fl.Signature.from_dict(sig)
    conversion = fl.convert_to_onnx(model, signature)
    data = conversion.data
    if data is None:
        # The card and `models show` say why the model has no twin.
        return {"manifest": None, "record": {"reason": conversion.reason}}
    onnx_flavor = fl.get_flavor("onnx")
    twin_dir = model_dir.parent / "onnx"
    twin_dir.mkdir()
    native = chosen.load(model_dir, meta, trusted=trusted)
    try:
        twin_meta = onnx_flavor.save(data, twin_dir)
        # The example plus rows drawn around it, in signature column order.
        check = fl.parity_frame(frame, signature, rows=PARITY_ROWS)
        result = fl.parity(native, onnx_flavor.load(twin_dir, twin_meta), check)
    except Exception as exc:  # noqa: BLE001 - the twin is optional; onnxruntime fails many ways
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        return {"manifest": None, "record": {"reason": f"the converted twin did not run: {detail}"}}
    parity = {
        "passed": bool(result.passed),
        "max_abs_diff": _finite_or_none(result.max_abs_diff),
        "rows": int(result.rows),
    }
    files = store_folder(artifacts, twin_dir)
    return {
        "manifest": {"flavor": onnx_flavor.name, "flavor_meta": twin_meta, "files": files},
        "record": {"hash": hash_bytes(data), "parity": parity},
    }


def _finite_or_none(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None
