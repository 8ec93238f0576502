"""The materializer contract: how one Python value becomes one file and back."""

from __future__ import annotations

import importlib
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from conveyor.core import imported_class as imported_class  # noqa: PLC0414 - re-exported
from conveyor.core import imported_subclass as imported_subclass  # noqa: PLC0414 - re-exported
from conveyor.pipelines.materializers._errors import MaterializerError


class Materializer(ABC):
    """Saves values of some types to ONE file and loads them back.

    A materializer is stateless: one instance may be used by many threads at once. The
    registry picks the materializer for a value by walking ``type(value).__mro__``; the one
    whose most general handled class is the most specific wins, and on a tie user
    registrations come before plug-ins, which come before built-ins.

    Subclasses set three class attributes and implement :meth:`handles`, :meth:`save` and
    :meth:`load`:

    Attributes:
        name: Registry name, stored with every output (``"pandas.dataframe"``). Never reuse
            a name for a different format: stored outputs are loaded by name.
        version: Format version; bump it when :meth:`save` writes different bytes for the
            same value (it is part of step cache keys, so bumping it invalidates caches).
        media_type: MIME type of the file written (``"application/vnd.apache.parquet"``).
        suffix: File name suffix some libraries need to recognise the format (``".npy"``).
        keeps_file: ``True`` when the loaded value refers to the file itself (``Path``
            outputs): the file is then fetched into a folder that is not removed, and
            ``load`` may move it within its folder.

    Contract:
        * ``handles(t)`` is ``True`` for ``t`` and each subclass of ``t`` it can save, and
          must not import anything: a library whose types are not yet imported cannot be
          the type of the value (use :func:`imported_class`, which looks a class up in
          ``sys.modules`` only).
        * ``save`` writes exactly one file at ``path`` and returns small JSON-able metadata
          that ``load`` needs (``{}`` if none). Saving the same value twice must write the
          same bytes, so that equal outputs get equal content hashes (caching depends on it).
        * ``load(path, meta)`` returns a value equal to the one saved. It must never run
          code named by the file (no plain pickle); it raises :class:`UntrustedTypeError`
          when the file asks for it. A materializer whose ``load`` also takes
          ``trusted=`` (the model materializers) is passed the caller's trust.
        * Both raise :class:`MaterializerError` (or a subclass) with a hint on failure.

    Example:
        >>> class TextMaterializer(Materializer):
        ...     name, version, media_type = "text", 1, "text/plain"
        ...     @classmethod
        ...     def handles(cls, value_type: type) -> bool:
        ...         return issubclass(value_type, str)
        ...     def save(self, value, path):
        ...         path.write_text(value, encoding="utf-8")
        ...         return {}
        ...     def load(self, path, meta):
        ...         return path.read_text(encoding="utf-8")
    """

    name: ClassVar[str]
    version: ClassVar[int]
    media_type: ClassVar[str]
    suffix: ClassVar[str] = ""
    keeps_file: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def handles(cls, value_type: type) -> bool:
        """True if values of ``value_type`` (a class, never an instance) can be saved."""

    @abstractmethod
    def save(self, value: Any, path: Path) -> dict[str, Any]:
        """Write ``value`` to the file ``path``; return the JSON-able metadata to load it."""

    @abstractmethod
    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        """Read back the value saved at ``path`` with the metadata ``save`` returned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version})"


def require(module: str, *, package: str, materializer: str) -> ModuleType:
    """Import ``module`` for a materializer, or explain which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MaterializerError(
            f"Materializer {materializer!r} needs the Python package {package!r}, "
            "which is not installed.",
            hint=f"Run: pip install {package}",
            materializer=materializer,
            package=package,
        ) from exc


def qualified_name(value_type: type) -> str:
    """The public dotted name of a class: the shortest imported parent module exporting it.

    ``pandas.DataFrame`` rather than ``pandas.core.frame.DataFrame``,
    ``sklearn.ensemble.RandomForestClassifier`` rather than its private module.

    Example:
        >>> qualified_name(dict)
        'builtins.dict'
    """
    parts = value_type.__module__.split(".")
    for end in range(1, len(parts)):
        parent = ".".join(parts[:end])
        if getattr(sys.modules.get(parent), value_type.__qualname__, None) is value_type:
            return f"{parent}.{value_type.__qualname__}"
    return f"{value_type.__module__}.{value_type.__qualname__}"


def import_failed(path: str, exc: Exception, *, materializer: str) -> MaterializerError:
    """The error for a materializer class at ``path`` that failed to import with ``exc``."""
    return MaterializerError(
        f"Materializer {materializer!r} cannot import the class {path!r}: {exc}.",
        hint="Make sure the module that defines it is importable (installed, or on "
        "sys.path from the project root).",
        materializer=materializer,
        cls=path,
    )
