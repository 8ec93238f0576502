"""skops archives written deterministically: the same estimator always gives the same bytes.

skops names the arrays inside its zip by ``id()`` and stamps the current time on each
member, so two saves of one fitted estimator differ. :func:`dumps_estimator` rewrites the
archive with ids numbered in order of appearance, members sorted and a fixed timestamp;
the registry's content hashes and the pipelines' step caches depend on it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from types import ModuleType
from typing import Any

from conveyor.core._trust._skops import skops_io
from conveyor.registry.flavors._base import require
from conveyor.registry.flavors._errors import FlavorError

_SCHEMA = "schema.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_ID = re.compile(r"(\d+)(\.\w+)")


def dumps_estimator(model: Any, *, flavor: str = "sklearn") -> bytes:
    """The skops archive of ``model``, byte-identical for equal estimators.

    Raises:
        FlavorError: skops cannot save the estimator.

    Example:
        >>> from sklearn.preprocessing import StandardScaler
        >>> dumps_estimator(StandardScaler()) == dumps_estimator(StandardScaler())
        True
    """
    sio = import_skops(flavor)
    try:
        data = sio.dumps(model)
    except (TypeError, ValueError, AttributeError) as exc:
        raise FlavorError(
            f"skops cannot save the estimator {type(model).__qualname__}: {exc}.",
            hint="Wrap the model in a pyfunc class, or register it with trusted=True "
            "to store it as a pickle.",
            flavor=flavor,
        ) from exc
    return canonical_archive(data)


def import_skops(flavor: str = "sklearn") -> ModuleType:
    """``skops.io`` without its walk of scikit-learn (:mod:`conveyor.core._trust._skops`).

    Raises:
        FlavorError: skops is not installed; the message names the package.
    """
    try:
        return skops_io()
    except ImportError:
        return require("skops.io", package="skops", flavor=flavor)


def canonical_archive(data: bytes) -> bytes:
    """Rewrite a skops archive with stable array ids, sorted members and a fixed time."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read(_SCHEMA))
        numbering: dict[int, int] = {}
        schema = _renumber(schema, numbering)
        members = {
            _renamed(name, numbering): source.read(name)
            for name in source.namelist()
            if name != _SCHEMA
        }
    members[_SCHEMA] = json.dumps(schema, indent=2).encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, members[name], compresslevel=6)
    return out.getvalue()


def _renumber(node: Any, numbering: dict[int, int]) -> Any:
    if isinstance(node, list):
        return [_renumber(item, numbering) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, item in node.items():
        if key == "__id__" and isinstance(item, int):
            result[key] = numbering.setdefault(item, len(numbering))
        elif key == "file" and isinstance(item, str):
            result[key] = _renamed(item, numbering)
        else:
            result[key] = _renumber(item, numbering)
    return result


def _renamed(name: str, numbering: dict[int, int]) -> str:
    match = _FILE_ID.fullmatch(name)
    if match is None:
        return name
    return f"{numbering.setdefault(int(match[1]), len(numbering))}{match[2]}"
