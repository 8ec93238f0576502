"""Loading a model version: every file fetched from the artifact store and verified."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.artifacts import ArtifactStore
from conveyor.errors import ArtifactNotFoundError, IntegrityError
from conveyor.registry._errors import ModelStateError
from conveyor.registry._models import LoadedModel, ModelVersion


def read_manifest(artifacts: ArtifactStore, version: ModelVersion) -> dict[str, Any]:
    """The verified manifest of ``version`` (flavor, files with hashes, ONNX twin)."""
    data = fetch(version, version.content_hash, "manifest", artifacts.get_bytes)
    manifest: dict[str, Any] = json.loads(data)
    return manifest


def load_version(
    artifacts: ArtifactStore, version: ModelVersion, *, prefer_onnx: bool = False
) -> LoadedModel:
    """Write ``version``'s files to a private folder, each verified, and load its flavor.

    Raises:
        IntegrityError: a stored file does not match its recorded hash, or is missing.
        ModelStateError: a pickle version that was not registered as trusted.
    """
    from conveyor.registry import flavors as fl

    manifest = read_manifest(artifacts, version)
    part = manifest
    use_onnx = bool(
        prefer_onnx
        and manifest.get("onnx")
        and (version.onnx or {}).get("parity", {}).get("passed")
    )
    if use_onnx:
        part = manifest["onnx"]
    if part["flavor"] == "pickle" and not version.trusted:
        raise ModelStateError(
            f"Refusing to load {version.ref}: it is a pickle and was not registered as trusted.",
            hint="Register the model with a safe flavor (or trusted=True if you built it).",
            name=version.name,
            version=version.version,
        )
    folder = Path(tempfile.mkdtemp(prefix=f"conveyor-{version.name}-{version.version}-"))
    try:
        for rel, entry in sorted(part["files"].items()):
            target = folder.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)

            def write(digest: str, target: Path = target) -> None:
                artifacts.get_file(digest, target)

            fetch(version, entry["hash"], rel, write)
        flavor = fl.get_flavor(part["flavor"])
        predictor = flavor.load(folder, part["flavor_meta"], trusted=version.trusted)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return LoadedModel(version, predictor, use_onnx, folder)


def fetch(version: ModelVersion, digest: str, what: str, read: Callable[[str], Any]) -> Any:
    """``read(digest)``, with integrity failures reported in terms of the model version."""
    try:
        return read(digest)
    except IntegrityError as exc:
        raise IntegrityError(
            f"Model {version.ref} cannot be loaded: its {what} (object {digest}) does not "
            f"match its recorded hash ({exc.message}).",
            hint="The stored bytes were altered or damaged: restore the artifact store from a "
            "backup, or register the model again.",
            name=version.name,
            version=version.version,
            object=digest,
            file=what,
        ) from exc
    except ArtifactNotFoundError as exc:
        raise IntegrityError(
            f"Model {version.ref} cannot be loaded: its {what} (object {digest}) is "
            "missing from the artifact store.",
            hint="Restore the artifact store from a backup, or register the model again.",
            name=version.name,
            version=version.version,
            object=digest,
            file=what,
        ) from exc
