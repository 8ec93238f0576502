"""Restoring a version's files to a destination, verified and atomic per file.

Every relative path comes from a manifest, which may have arrived from a remote, so it is
treated as a reference, not a path: it must be a safe relative path (checked when the
manifest is parsed), its resolved location must stay inside the destination, and no
folder on the way may be a symbolic link (a link would carry the write elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from conveyor.artifacts import ArtifactStore
from conveyor.core import ProgressCallback, hash_file
from conveyor.data._errors import CheckoutConflictError, CheckoutFormatError, CheckoutPathError
from conveyor.data._manifest import check_relpath, files_of, original_of
from conveyor.data._models import DatasetVersion
from conveyor.data._table_paths import CSV_SUFFIXES, PARQUET_SUFFIXES
from conveyor.errors import ArtifactNotFoundError

#: What ``checkout`` can write of a version (``None``: the original bytes when recorded).
CheckoutFormat = Literal["original", "parquet", "csv"]
CHECKOUT_FORMATS: tuple[str, ...] = ("original", "parquet", "csv")
_SHOWN = 5


class _Plan:
    """What a checkout writes: the returned path and ``(file, hash, size)`` per object."""

    def __init__(self, result: Path, targets: list[tuple[Path, str, int]], export: bool) -> None:
        self.result = result
        self.targets = targets
        self.export = export  # the single target is derived (CSV), not an object's bytes


def _default_format(dest: Path, original: tuple[str, str, int] | None) -> CheckoutFormat:
    """What to write when no format is asked: the original file, unless the destination's
    suffix names the other table format (``v1.parquet`` of a CSV-added version)."""
    wanted = "" if dest.is_dir() else dest.suffix.lower()
    kept = "" if original is None else Path(original[0]).suffix.lower()
    families: tuple[tuple[tuple[str, ...], CheckoutFormat], ...] = (
        (CSV_SUFFIXES, "csv"),
        (PARQUET_SUFFIXES, "parquet"),
    )
    for family, export in families:
        if wanted in family:
            return "original" if kept in family else export
    return "original" if original is not None else "parquet"


def _table_plan(
    version: DatasetVersion,
    manifest: dict[str, Any],
    dest: Path,
    fmt: CheckoutFormat | None,
) -> _Plan:
    ((_, (parquet_hash, parquet_size)),) = files_of(manifest).items()
    original = original_of(manifest)
    chosen = fmt or _default_format(dest, original)
    if chosen == "original":
        if original is None:
            raise _format_error(
                version,
                f"Dataset {version.ref} was added from a {manifest.get('source')!r} source, "
                "so no original file bytes were recorded.",
                "parquet",
                dest,
            )
        filename, digest, size = original
    elif chosen == "parquet":
        filename, digest, size = f"{version.name}.parquet", parquet_hash, parquet_size
    else:
        filename, digest, size = f"{version.name}.csv", parquet_hash, 0
    target = dest / filename if dest.is_dir() else dest
    return _Plan(target, [(target, digest, size)], export=chosen == "csv")


def _format_error(version: DatasetVersion, message: str, fmt: str, dest: Path) -> Exception:
    return CheckoutFormatError(
        message,
        hint=f"Export it explicitly: `conveyor data checkout {version.ref} {dest} --format {fmt}`.",
        name=version.name,
        version=version.version,
        format=fmt,
    )


def plan_checkout(
    version: DatasetVersion,
    manifest: dict[str, Any],
    dest: Path,
    fmt: CheckoutFormat | None = None,
) -> _Plan:
    """Decide what a checkout of ``version`` into ``dest`` writes (nothing is touched).

    Raises:
        CheckoutFormatError: ``fmt`` does not fit the version or the destination.
        CheckoutPathError: a target would leave ``dest`` or go through a symbolic link.
    """
    if fmt is not None and fmt not in CHECKOUT_FORMATS:
        raise CheckoutFormatError(
            f"Unknown checkout format {fmt!r}; expected one of {', '.join(CHECKOUT_FORMATS)}.",
            hint="Pass --format original, parquet or csv.",
            format=fmt,
        )
    if version.kind == "table":
        plan = _table_plan(version, manifest, dest, fmt)
        base = dest if dest.is_dir() else dest.parent
    else:
        if fmt not in (None, "original"):
            raise CheckoutFormatError(
                f"Dataset {version.ref} is a {version.kind}; only tables can be exported as {fmt}.",
                hint=f"Run `conveyor data checkout {version.ref} {dest}` to get its files as "
                "they were added.",
                name=version.name,
                version=version.version,
                format=fmt,
            )
        files = files_of(manifest)
        if version.kind == "folder":
            targets = [
                (dest.joinpath(*check_relpath(rel).split("/")), h, s)
                for rel, (h, s) in files.items()
            ]
            plan, base = _Plan(dest, targets, export=False), dest
        else:
            ((rel, (digest, size)),) = files.items()
            target = dest.joinpath(*check_relpath(rel).split("/")) if dest.is_dir() else dest
            plan = _Plan(target, [(target, digest, size)], export=False)
            base = dest if dest.is_dir() else dest.parent
    for path, _, _ in plan.targets:
        _check_inside(version, base, path)
    return plan


def _check_inside(version: DatasetVersion, base: Path, path: Path) -> None:
    """Refuse a target outside ``base`` or reached through a link below ``base``."""
    inside = os.path.normpath(path)
    root = os.path.normpath(base)
    if os.path.commonpath([inside, root]) != root:
        raise CheckoutPathError(
            f"Checkout of {version.ref} would write {inside!r}, outside {root!r}.",
            hint="The manifest was altered; do not use it. Restore the version from a "
            "trusted remote with `conveyor data pull`.",
            name=version.name,
            version=version.version,
            path=inside,
        )
    current = Path(root)
    for part in Path(inside).relative_to(root).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise CheckoutPathError(
                f"Checkout of {version.ref} would write through the symbolic link "
                f"{str(current)!r} -> {os.readlink(current)!r}. Nothing was written.",
                hint="Remove the link or check out into another folder.",
                name=version.name,
                version=version.version,
                path=str(current),
            )


def _matches(path: Path, digest: str, size: int) -> bool:
    return (
        not path.is_symlink()
        and path.is_file()
        and path.stat().st_size == size
        and hash_file(path) == digest
    )


def checkout_version(
    version: DatasetVersion,
    manifest: dict[str, Any],
    artifacts: ArtifactStore,
    dest: Path,
    *,
    force: bool = False,
    fmt: CheckoutFormat | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the files of ``version`` under ``dest`` (see ``DatasetRegistry.checkout``)."""
    plan = plan_checkout(version, manifest, dest.absolute(), fmt)
    missing = sorted({h for _, h, _ in plan.targets if not artifacts.exists(h)})
    if missing:
        raise ArtifactNotFoundError(
            f"Dataset {version.ref}: {len(missing)} object(s) (first {missing[0]}) are recorded "
            f"but their bytes are not present locally in {artifacts.url}.",
            hint=f"Run `conveyor data pull {version.ref}` to fetch them from the remote.",
            name=version.name,
            version=version.version,
            hash=missing[0],
        )
    if plan.export:
        ((path, digest, _),) = plan.targets
        if path.is_dir() or (path.exists() and not force and not path.is_symlink()):
            _conflict(version, [path])
        path.parent.mkdir(parents=True, exist_ok=True)
        from conveyor.data._export import export_csv  # pyarrow, only for this format

        export_csv(artifacts, digest, path, progress=progress)
        return plan.result
    todo: list[tuple[Path, str, int]] = []
    conflicts: list[Path] = []
    for path, digest, size in plan.targets:
        if path.exists() or path.is_symlink():
            if _matches(path, digest, size):
                continue  # already the right bytes
            if not force or path.is_dir():
                conflicts.append(path)
                continue
        todo.append((path, digest, size))
    if conflicts:
        _conflict(version, conflicts)
    total = sum(size for _, _, size in todo)
    done = 0
    for path, digest, size in todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        artifacts.get_file(digest, path)
        done += size
        if progress is not None:
            progress("Checking out", done, total)
    return plan.result


def _conflict(version: DatasetVersion, conflicts: list[Path]) -> None:
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
