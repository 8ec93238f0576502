"""scikit-learn estimators through skops: never plain pickle, only trusted types load.

skops names the arrays inside its zip by ``id()`` and stamps the current time on each
member, so the archive is rewritten with ids numbered in order of appearance and a fixed
timestamp: the same fitted estimator then always gives the same bytes.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, ClassVar

from conveyor.pipelines.materializers._base import Materializer, imported_class, require
from conveyor.pipelines.materializers._errors import MaterializerError, UntrustedTypeError

#: Top-level modules whose types a stored estimator may name.
TRUSTED_ROOTS = frozenset({"sklearn", "numpy", "scipy", "conveyor"})
_SCHEMA = "schema.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_ID = re.compile(r"(\d+)(\.\w+)")


class SkopsMaterializer(Materializer):
    """Any ``sklearn.base.BaseEstimator`` (pipelines, search results, fitted models).

    Saving refuses an estimator that contains types outside sklearn, numpy and scipy
    (a custom transformer class, a lambda), because it could not be loaded safely:
    register a materializer for it instead. Loading passes skops an explicit trusted list:
    the types the file names, restricted to those modules; anything else raises
    :class:`UntrustedTypeError` before any object is built.
    """

    name: ClassVar[str] = "sklearn.skops"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/vnd.skops"
    suffix: ClassVar[str] = ".skops"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        base = imported_class("sklearn.base", "BaseEstimator")
        return base is not None and issubclass(value_type, base)

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        sio = require("skops.io", package="skops", materializer=self.name)
        try:
            data = sio.dumps(value)
        except (TypeError, ValueError, AttributeError) as exc:
            raise MaterializerError(
                f"skops cannot save the estimator {type(value).__qualname__}: {exc}.",
                hint="Register a materializer for this estimator type.",
                materializer=self.name,
            ) from exc
        data = _canonical_archive(data)
        path.write_bytes(data)
        _, untrusted = _named_types(sio, path)
        if untrusted:
            raise UntrustedTypeError(
                f"The estimator {type(value).__qualname__} contains types that could not be "
                f"loaded safely: {', '.join(untrusted)}.",
                hint="Use scikit-learn, numpy and scipy types only (no lambdas or custom "
                "classes), or register a materializer for this estimator type.",
                materializer=self.name,
                types=untrusted,
            )
        return {}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        sio = require("skops.io", package="skops", materializer=self.name)
        named, untrusted = _named_types(sio, path)
        if untrusted:
            raise UntrustedTypeError(
                f"Refusing to load {path.name}: it names types outside "
                f"{', '.join(sorted(TRUSTED_ROOTS))}: {', '.join(untrusted)}.",
                hint="Nothing was loaded. Load it only if you trust its author, with "
                "skops.io.load(path, trusted=[...]) after reviewing those types.",
                materializer=self.name,
                types=untrusted,
            )
        return sio.load(path, trusted=named)


def _named_types(sio: Any, path: Path) -> tuple[list[str], list[str]]:
    """The types the file names beyond skops' defaults, and those outside the trusted roots."""
    try:
        named = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise MaterializerError(
            f"{path.name} is not a readable skops file: {exc}.",
            hint="The stored object is not a saved estimator; check the recorded materializer.",
        ) from exc
    return list(named), sorted(t for t in named if t.partition(".")[0] not in TRUSTED_ROOTS)


def _canonical_archive(data: bytes) -> bytes:
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
