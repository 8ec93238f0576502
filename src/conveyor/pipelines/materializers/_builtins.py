"""Materializers for plain Python values: JSON-able data, bytes and files (paths)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path, PurePath
from typing import Any, ClassVar

from conveyor.pipelines.materializers._base import Materializer
from conveyor.pipelines.materializers._errors import MaterializerError, UnsupportedTypeError

_JSON_TYPES: tuple[type, ...] = (dict, list, tuple, int, float, str, bool, type(None))
_SCALARS = (str, int, float, type(None))  # bool is an int
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class JsonMaterializer(Materializer):
    """``dict``/``list``/``tuple``/``int``/``float``/``str``/``bool``/``None`` as canonical JSON.

    Keys are sorted and whitespace is fixed, so equal values give equal bytes. Tuples come
    back as tuples (their positions are recorded in the metadata). Dict keys must be
    strings; nested numbers that subclass ``int``/``float`` (NumPy scalars, enums) are
    stored as plain numbers. NaN and infinities round-trip.
    """

    name: ClassVar[str] = "json"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/json"
    suffix: ClassVar[str] = ".json"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return value_type in _JSON_TYPES

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        tuples: list[list[str | int]] = []
        _check_json(value, [], tuples)
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        path.write_text(text, encoding="utf-8")
        return {"tuples": tuples} if tuples else {}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        value = json.loads(path.read_text(encoding="utf-8"))
        # Deepest first, so a tuple's elements are final before it is frozen.
        for location in sorted(meta.get("tuples", []), key=len, reverse=True):
            value = _replace(value, location, tuple)
        return value


def _check_json(value: Any, where: list[str | int], tuples: list[list[str | int]]) -> None:
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, (list, tuple)):
        if type(value) is tuple:
            tuples.append(list(where))
        elif type(value) is not list:
            raise _nested_error(value, where)
        for index, item in enumerate(value):
            _check_json(item, [*where, index], tuples)
        return
    if type(value) is dict:
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsupportedTypeError(
                    f"Cannot save a dict with the non-string key {key!r} at {_where(where)} as "
                    "JSON.",
                    hint="Use string keys, or return a pandas DataFrame / register a "
                    "materializer for this structure.",
                    type_name=type(key).__qualname__,
                )
            _check_json(item, [*where, key], tuples)
        return
    raise _nested_error(value, where)


def _nested_error(value: Any, where: list[str | int]) -> UnsupportedTypeError:
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    return UnsupportedTypeError(
        f"Cannot save the value of type {name} at {_where(where)} as JSON.",
        hint="Convert it to a dict, list, str, number, bool or None, or return it as its own "
        "output so that its materializer saves it.",
        type_name=name,
    )


def _where(where: list[str | int]) -> str:
    return "value" + "".join(f"[{step!r}]" for step in where)


def _replace(value: Any, location: list[str | int], convert: type) -> Any:
    if not location:
        return convert(value)
    parent = value
    for step in location[:-1]:
        parent = parent[step]
    parent[location[-1]] = convert(parent[location[-1]])
    return value


class BytesMaterializer(Materializer):
    """``bytes`` and ``bytearray`` stored as they are."""

    name: ClassVar[str] = "bytes"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/octet-stream"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return value_type in (bytes, bytearray)

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        path.write_bytes(bytes(value))
        return {"bytearray": True} if isinstance(value, bytearray) else {}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        data = path.read_bytes()
        return bytearray(data) if meta.get("bytearray") else data


class PathMaterializer(Materializer):
    """A ``pathlib.Path`` to a file: the file's content is stored.

    Loading returns a ``Path`` to a local copy, verified against the content hash, with the
    original file name. Folders are refused: archive them, or return a table.
    """

    name: ClassVar[str] = "path"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/octet-stream"
    keeps_file: ClassVar[bool] = True

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return issubclass(value_type, PurePath)

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        source = Path(value)
        if not source.is_file():
            what = "a folder" if source.is_dir() else "missing"
            raise MaterializerError(
                f"Cannot save the path output {str(source)!r}: it is {what}, not a file.",
                hint="Return a Path to an existing file (archive a folder first).",
                materializer=self.name,
                path=str(source),
            )
        shutil.copyfile(source, path)
        return {"name": source.name}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        name = _UNSAFE_NAME.sub("_", str(meta.get("name") or "value")).lstrip(".") or "value"
        target = path.with_name(name)
        if target != path:
            path.replace(target)
        return target
