"""scikit-learn estimators through skops: never plain pickle, only trusted types load.

Loading goes through :func:`conveyor.core.load_skops`, the load policy every loader
shares: the archive is bounded before it is inflated and only types on the exact trusted
list are built.

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

from conveyor.core import (
    UnreadableArchiveError,
    UntrustedContentError,
    load_skops,
    skops_types,
    untrusted_types,
)
from conveyor.pipelines.materializers._base import Materializer, imported_class, require
from conveyor.pipelines.materializers._errors import MaterializerError, UntrustedTypeError

_SCHEMA = "schema.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_ID = re.compile(r"(\d+)(\.\w+)")


class SkopsMaterializer(Materializer):
    """Any ``sklearn.base.BaseEstimator`` (pipelines, search results, fitted models).

    Saving refuses an estimator that contains types outside the exact trusted list
    (a custom transformer class, a lambda), because it could not be loaded safely:
    register a materializer for it instead. Loading goes through
    :func:`conveyor.core.load_skops`; a file naming any other type raises
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
        untrusted = untrusted_types(_named_types(data, path.name))
        if untrusted:
            raise UntrustedTypeError(
                f"The estimator {type(value).__qualname__} contains types that could not be "
                f"loaded safely: {', '.join(untrusted)}.",
                hint="Use scikit-learn estimators and the types listed in "
                "conveyor.core.SKOPS_TRUSTED_TYPES only (no lambdas or custom classes), or "
                "register a materializer for this estimator type.",
                materializer=self.name,
                types=untrusted,
            )
        path.write_bytes(data)
        return {}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        try:
            return load_skops(path.read_bytes(), source=path.name)
        except UntrustedContentError as exc:
            raise UntrustedTypeError(
                exc.message,
                hint="Nothing was loaded. Load it only if you trust its author, with "
                "skops.io.load(path, trusted=[...]) after reviewing those types.",
                materializer=self.name,
                types=exc.fields["types"],
            ) from exc
        except UnreadableArchiveError as exc:
            raise _unreadable(path.name, exc) from exc


def _named_types(data: bytes, source: str) -> list[str]:
    """The types the archive names beyond skops' defaults."""
    try:
        return skops_types(data, source=source)
    except UnreadableArchiveError as exc:
        raise _unreadable(source, exc) from exc


def _unreadable(source: str, exc: UnreadableArchiveError) -> MaterializerError:
    detail = exc.__cause__ if exc.__cause__ is not None else exc
    return MaterializerError(
        f"{source} is not a readable skops file: {detail}.",
        hint="The stored object is not a saved estimator; check the recorded materializer.",
        materializer=SkopsMaterializer.name,
    )


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
