"""Cache keys: what a step's result depends on, hashed canonically.

A key covers the step's source and the sources of the project functions and classes it
uses (found by walking the global names its code refers to, recursively), its literal
arguments, the content hashes of its inputs, the materializer registry and a format
version. Anything outside the project (installed libraries) is covered by the run's
environment record, not by the key.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import sys
import textwrap
import threading
import types
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from conveyor.core import hash_json
from conveyor.pipelines._errors import PipelineDefinitionError
from conveyor.pipelines._handles import StepOutput

#: Bump when the key's composition changes, so old entries stop matching.
CACHE_FORMAT = 1

#: What :func:`source_closure` keeps per function: the files read, their (mtime, size)
#: then, and the closure found.
_Kept = tuple[tuple[str, ...], tuple[tuple[int, int], ...], dict[str, str]]


def check_literal(step: str, param: str, value: Any) -> None:
    """Raise if a literal argument cannot be fingerprinted for the cache key.

    Raises:
        PipelineDefinitionError: The value is not JSON-like (numbers, strings, booleans,
            None, lists, tuples and dicts of those).
    """
    try:
        literal_fingerprint(value)
    except TypeError as exc:
        raise PipelineDefinitionError(
            f"Step {step!r}: the literal argument {param}={_short(value)} of type "
            f"{type(value).__name__} cannot be part of a cache key.",
            hint="Pass numbers, strings, booleans, None or lists/dicts of them; produce "
            "other values inside a step and pass its output.",
            step=step,
            param=param,
        ) from exc


def literal_fingerprint(value: Any) -> Any:
    """A canonical JSON-able form of a literal (tuples and non-finite floats tagged).

    Raises:
        TypeError: The value is not JSON-like.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, list):
        return [literal_fingerprint(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [literal_fingerprint(v) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("dict keys must be strings")
        return {"$dict": {k: literal_fingerprint(v) for k, v in sorted(value.items())}}
    if isinstance(value, Path):
        return {"$path": str(value)}
    raise TypeError(f"unsupported literal type {type(value).__name__}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def source_closure(fn: Callable[..., Any], roots: Iterable[Path]) -> dict[str, str]:
    """Sources of ``fn`` and of every project function/class it reaches, by qualified name.

    Project code is code whose file lies under one of ``roots``. The walk follows the
    global names referenced by each function's code (including nested functions,
    lambdas and comprehensions) and attributes used on project modules; it is cycle-safe.

    The result is kept per function (for this process) and reused while every file it
    was read from keeps its modification time and size, so a pipeline re-run does not
    read and parse unchanged sources again.
    """
    bases = tuple(r.resolve() for r in roots)
    try:
        with _closures_lock:
            kept = _closures.get(fn, {}).get(bases)
    except TypeError:  # not weakly referenceable: nothing to key a cache on
        kept = None
    if kept is not None and _stamps(kept[0]) == kept[1]:
        return dict(kept[2])
    found, files = _walk(fn, bases)
    with contextlib.suppress(TypeError), _closures_lock:
        _closures.setdefault(fn, {})[bases] = (files, _stamps(files), found)
    return dict(found)


#: ``fn -> {roots: (files, their stamps, closure)}`` of :func:`source_closure`.
_closures: weakref.WeakKeyDictionary[Any, dict[tuple[Path, ...], _Kept]] = (
    weakref.WeakKeyDictionary()
)
_closures_lock = threading.Lock()


def _stamps(files: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    stamps: list[tuple[int, int]] = []
    for name in files:
        try:
            stat = os.stat(name)
        except OSError:
            stamps.append((-1, -1))
            continue
        stamps.append((stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def _walk(
    fn: Callable[..., Any], bases: tuple[Path, ...]
) -> tuple[dict[str, str], tuple[str, ...]]:
    found: dict[str, str] = {}
    files: set[str] = set()
    pending: list[Any] = [fn]
    while pending:
        obj = _unwrap(pending.pop())
        key = _qualified(obj)
        if key in found:
            continue
        source = _source(obj)
        if source is None:
            continue
        found[key] = source
        with contextlib.suppress(TypeError):
            files.add(inspect.getsourcefile(obj) or "")
        for referenced in _references(obj):
            target = _unwrap(referenced)
            if isinstance(target, types.FunctionType | type) and _in_project(target, list(bases)):
                pending.append(target)
    return dict(sorted(found.items())), tuple(sorted(files - {""}))


def _unwrap(obj: Any) -> Any:
    inner = getattr(obj, "fn", None)  # a Step
    if callable(inner) and hasattr(obj, "output_names"):
        return inner
    return inspect.unwrap(obj) if isinstance(obj, types.FunctionType) else obj


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _source(obj: Any) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return None


def _references(obj: Any) -> list[Any]:
    if isinstance(obj, type):
        members = [v for v in vars(obj).values() if isinstance(v, types.FunctionType)]
        return [ref for m in members for ref in _references(m)]
    if not isinstance(obj, types.FunctionType):
        return []
    names: set[str] = set()
    codes = [obj.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    scope = obj.__globals__
    refs: list[Any] = []
    for name in sorted(names):
        value = scope.get(name)
        if isinstance(value, types.ModuleType):
            # `helpers.clean(...)`: the attribute names are in co_names too.
            # The module's own namespace, not getattr: a module-level __getattr__ (numpy's
            # deprecated aliases) would warn or compute for names that are not its own.
            namespace = vars(value)
            refs.extend(namespace[n] for n in sorted(names) if n in namespace)
        elif value is not None:
            refs.append(value)
    if obj.__closure__:
        for cell in obj.__closure__:
            try:
                refs.append(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
    return refs


def _in_project(obj: Any, bases: list[Path]) -> bool:
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    filename = getattr(module, "__file__", None)
    if filename is None:
        try:
            filename = inspect.getsourcefile(obj)
        except TypeError:
            return False
    if filename is None:
        return False
    path = Path(filename).resolve()
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    return any(path.is_relative_to(base) for base in bases)


def fingerprint_arguments(arguments: Mapping[str, Any], hash_of: Callable[[Any], str]) -> Any:
    """Canonical form of bound arguments: literals as is, handles as their input's hash."""

    def walk(value: Any) -> Any:
        if isinstance(value, StepOutput):
            return {"$input": hash_of(value)}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, tuple):
            return {"$tuple": [walk(v) for v in value]}
        if isinstance(value, dict):
            return {"$dict": {str(k): walk(v) for k, v in sorted(value.items())}}
        return literal_fingerprint(value)

    return {name: walk(value) for name, value in arguments.items()}


def cache_key(
    *,
    step: str,
    sources: Mapping[str, str],
    arguments: Any,
    materializers: Mapping[str, int],
    outputs: list[str],
) -> str:
    """The BLAKE3 hash of the canonical JSON of everything a step's result depends on."""
    document = {
        "format": CACHE_FORMAT,
        "step": step,
        "sources": dict(sources),
        "arguments": arguments,
        "materializers": dict(materializers),
        "outputs": outputs,
    }
    return hash_json(document)
