"""``load_pipeline``: find a pipeline by ``module:attr`` or ``path/to/file.py:attr``."""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import sys
import types
from pathlib import Path

from conveyor.pipelines._errors import PipelineDefinitionError, PipelineNotFoundError
from conveyor.pipelines._pipeline import Pipeline


def load_pipeline(ref: str, root: str | Path | None = None, *, fresh: bool = True) -> Pipeline:
    """Import the module named by ``ref`` with ``root`` on ``sys.path``; return the pipeline.

    Args:
        ref: ``"package.module:attr"``, ``"path/to/file.py:attr"`` (relative to ``root``),
            or without ``:attr`` when the module defines exactly one pipeline.
        root: The project folder (default: the working folder).
        fresh: Execute the module's current source even if it was imported before, so an
            edited file is picked up (its source is what cache keys hash).

    Returns:
        The pipeline, with ``ref`` set to the canonical reference.

    Raises:
        PipelineNotFoundError: No such module or file, or no such pipeline in it (the
            message lists the pipelines the module defines).
        PipelineDefinitionError: Importing the module failed.

    Example:
        >>> training = load_pipeline("pipelines.train:training", ".")  # doctest: +SKIP
    """
    base = Path(root or ".").resolve()
    target, _, attr = ref.partition(":")
    target = target.strip()
    if not target:
        raise PipelineNotFoundError(
            f"Invalid pipeline reference {ref!r}: expected MODULE:PIPELINE.",
            hint="For example `conveyor run pipelines.train:training`.",
            ref=ref,
        )
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    _activate_root(base, None if is_file else target.partition(".")[0])
    module = _load_file(target, base, ref) if is_file else _load_module(target, base, ref, fresh)
    canonical_target = _relative(Path(module.__file__ or target), base) if is_file else target
    found = {n: v for n, v in vars(module).items() if isinstance(v, Pipeline)}
    if not attr:
        if len(found) != 1:
            raise PipelineNotFoundError(
                f"Module {target!r} defines {len(found)} pipelines; say which one.",
                hint=f"Use {target}:NAME with NAME one of: {', '.join(sorted(found)) or '-'}.",
                ref=ref,
                pipelines=sorted(found),
            )
        attr = next(iter(found))
    value = getattr(module, attr, None)
    if not isinstance(value, Pipeline):
        what = "is not a @pipeline" if value is not None else "does not exist"
        raise PipelineNotFoundError(
            f"{attr!r} in {target!r} {what}. Pipelines there: "
            f"{', '.join(sorted(found)) or '(none)'}.",
            hint="Decorate the function with @conveyor.pipeline, or fix the name.",
            ref=ref,
            pipelines=sorted(found),
        )
    value.ref = f"{canonical_target}:{attr}"
    return value


def _activate_root(base: Path, top: str | None) -> None:
    """Make ``base`` the first place modules are found, and forget a module named ``top``
    that was imported from another folder.

    One process may load the pipelines of several projects (a notebook, the agent, tests):
    each project's ``pipelines`` module must be its own, not the one imported first.
    Python looks up an imported module by name in ``sys.modules`` before any path, so a
    module of that name (and its submodules) from outside ``base`` is dropped when
    ``base`` holds one; ``base`` moves to the front of ``sys.path``.
    """
    root = str(base)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    if top is None or not ((base / f"{top}.py").is_file() or (base / top).is_dir()):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        origin = getattr(sys.modules[name], "__file__", None)
        if origin is None or not Path(origin).resolve().is_relative_to(base):
            del sys.modules[name]


def _relative(path: Path, base: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else str(path)


def _load_file(target: str, base: Path, ref: str) -> types.ModuleType:
    path = Path(target)
    path = (path if path.is_absolute() else base / path).resolve()
    if not path.is_file():
        raise PipelineNotFoundError(
            f"Pipeline file {str(path)!r} (from {ref!r}) does not exist.",
            hint="Give a path relative to the project root, e.g. pipelines/train.py:training.",
            ref=ref,
            path=str(path),
        )
    if path.is_relative_to(base):
        name = ".".join(path.relative_to(base).with_suffix("").parts)
    else:
        name = "conveyor_pipeline_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:  # a file Python does not import, such as train.txt
        raise PipelineNotFoundError(
            f"Cannot import {str(path)!r}: pipeline files must be Python (.py) files.",
            hint="Point the reference at a .py file (pipelines/train.py:training) "
            "or a module (pipelines.train:training).",
            ref=ref,
        )
    return _execute_fresh(spec, path, ref)


def _load_module(target: str, base: Path, ref: str, fresh: bool) -> types.ModuleType:
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError) as exc:
        spec = None
        cause: Exception | None = exc
    else:
        cause = None
    if spec is None:
        raise PipelineNotFoundError(
            f"No module named {target!r} (searched the project root {str(base)!r} and the "
            "installed packages).",
            hint="Check the module path (dots, no .py), or pass a file: path/to/file.py:NAME.",
            ref=ref,
            module=target,
        ) from cause
    origin = Path(spec.origin) if spec.origin else None
    if fresh and origin is not None and origin.suffix == ".py" and origin.is_file():
        return _execute_fresh(spec, origin, ref)
    try:
        return importlib.import_module(target)
    except Exception as exc:
        raise _import_failed(target, ref, exc) from exc


def _execute_fresh(spec: importlib.machinery.ModuleSpec, path: Path, ref: str) -> types.ModuleType:
    # Compile the text read now (not cached bytecode, whose mtime check has one-second
    # resolution) and pin it in linecache, so the code that runs and the source that cache
    # keys hash are the same text.
    text = _source_text(path, ref)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    linecache.cache[str(path)] = (len(text), None, text.splitlines(True), str(path))
    previous = sys.modules.get(spec.name)
    sys.modules[spec.name] = module
    try:
        exec(compile(text, str(path), "exec"), module.__dict__)  # noqa: S102 - user's own code
    except Exception as exc:
        if previous is None:
            sys.modules.pop(spec.name, None)
        else:
            sys.modules[spec.name] = previous
        raise _import_failed(spec.name, ref, exc) from exc
    return module


def _source_text(path: Path, ref: str) -> str:
    """The file's text in its declared encoding (PEP 263), UTF-8 by default.

    Raises:
        PipelineDefinitionError: the bytes do not decode, with the file and byte offset.
    """
    data = path.read_bytes()
    try:
        try:
            return importlib.util.decode_source(data)
        except SyntaxError as exc:
            # Raised for an undecodable first or second line too: say which byte if so.
            data.decode("utf-8")
            raise PipelineDefinitionError(
                f"Pipeline file {str(path)!r} (from {ref!r}) cannot be read: {exc.msg}.",
                hint="Fix the `# -*- coding: ... -*-` line (or remove it: the default is UTF-8).",
                ref=ref,
                path=str(path),
            ) from exc
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.end]
        encoding = "UTF-8" if exc.encoding.replace("-", "").lower() == "utf8" else exc.encoding
        line = data.count(b"\n", 0, exc.start) + 1
        raise PipelineDefinitionError(
            f"Pipeline file {str(path)!r} (from {ref!r}) is not valid {encoding}: byte "
            f"{exc.start} (line {line}) is 0x{bad.hex()} ({exc.reason}).",
            hint="Save the file as UTF-8, or declare its encoding on the first or second "
            "line, e.g. `# -*- coding: latin-1 -*-`.",
            ref=ref,
            path=str(path),
            offset=exc.start,
            encoding=encoding,
        ) from exc


def _import_failed(target: str, ref: str, exc: Exception) -> PipelineDefinitionError:
    return PipelineDefinitionError(
        f"Importing {target!r} for pipeline {ref!r} failed: {type(exc).__name__}: {exc}.",
        hint="Fix the error in the module (run with --verbose for the traceback).",
        ref=ref,
        module=target,
    )
