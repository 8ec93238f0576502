"""Restoring a version's files to a destination, verified and atomic per file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.artifacts import ArtifactStore
from conveyor.core import ProgressCallback, hash_file
from conveyor.data._errors import CheckoutConflictError
from conveyor.data._manifest import check_relpath, files_of
from conveyor.data._models import DatasetVersion
from conveyor.errors import ArtifactNotFoundError

_SHOWN = 5


def _targets(
    version: DatasetVersion, manifest: dict[str, Any], dest: Path
) -> tuple[Path, list[tuple[Path, str, int]]]:
    """The path returned to the caller and ``(file, hash, size)`` for each file to write."""
    files = files_of(manifest)
    if version.kind == "folder":
        return dest, [
            (dest.joinpath(*check_relpath(rel).split("/")), h, s) for rel, (h, s) in files.items()
        ]
    ((rel, (digest, size)),) = files.items()
    filename = f"{version.name}.parquet" if version.kind == "table" else check_relpath(rel)
    target = dest / filename if dest.is_dir() else dest
    return target, [(target, digest, size)]


def _matches(path: Path, digest: str, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size and hash_file(path) == digest


def checkout_version(
    version: DatasetVersion,
    manifest: dict[str, Any],
    artifacts: ArtifactStore,
    dest: Path,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the files of ``version`` under ``dest`` (see ``DatasetRegistry.checkout``)."""
    result, targets = _targets(version, manifest, dest.absolute())
    missing = sorted({h for _, h, _ in targets if not artifacts.exists(h)})
    if missing:
        raise ArtifactNotFoundError(
            f"Dataset {version.ref}: {len(missing)} object(s) (first {missing[0]}) are recorded "
            f"but their bytes are not present locally in {artifacts.url}.",
            hint="Run `conveyor data pull` to fetch the pinned versions from the remote.",
            name=version.name,
            version=version.version,
            hash=missing[0],
        )
    todo: list[tuple[Path, str, int]] = []
    conflicts: list[Path] = []
    for path, digest, size in targets:
        if path.exists() or path.is_symlink():
            if _matches(path, digest, size):
                continue  # already the right bytes
            if not force or path.is_dir():
                conflicts.append(path)
                continue
        todo.append((path, digest, size))
    if conflicts:
        shown = ", ".join(str(p) for p in conflicts[:_SHOWN])
        more = f" and {len(conflicts) - _SHOWN} more" if len(conflicts) > _SHOWN else ""
        raise CheckoutConflictError(
            f"Checkout of {version.ref} would overwrite {len(conflicts)} existing path(s) "
            f"with different content: {shown}{more}. Nothing was written.",
            hint="Move those files away, choose another destination, or pass force=True "
            "(`--force`) to overwrite files.",
            name=version.name,
            version=version.version,
            paths=[str(p) for p in conflicts],
        )
    total = sum(size for _, _, size in todo)
    done = 0
    for path, digest, size in todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        artifacts.get_file(digest, path)
        done += size
        if progress is not None:
            progress("Checking out", done, total)
    return result
