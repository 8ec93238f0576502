"""Dataset references: ``orders``, ``orders@3`` and ``orders@latest``."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.core import validate_name, validate_version
from conveyor.errors import InvalidNameError

_LATEST = "latest"


@dataclass(frozen=True)
class DatasetRef:
    """A dataset name and an optional version number (``None`` means the latest).

    Attributes:
        name: A validated dataset name.
        version: A version number of 1 or more, or ``None`` for the latest version.

    Example:
        >>> str(DatasetRef("orders", 3))
        'orders@3'
    """

    name: str
    version: int | None = None

    def __post_init__(self) -> None:
        validate_name(self.name, kind="dataset name")
        if self.version is not None and (
            isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1
        ):
            raise InvalidNameError(
                f"Invalid version {self.version!r} for dataset {self.name!r}: "
                "versions are whole numbers starting at 1.",
                hint=f"Use '{self.name}@1', '{self.name}@latest' or just '{self.name}'.",
                name=self.name,
                version=self.version,
            )

    def __str__(self) -> str:
        return f"{self.name}@{_LATEST if self.version is None else self.version}"


def _parse_version(name: str, text: str) -> int | None:
    token = text.strip().lower()
    if token in ("", _LATEST):
        return None
    if token.startswith("v"):
        token = token[1:]
    if not token.isdigit() or not token.isascii():
        raise InvalidNameError(
            f"Invalid version {text!r} in dataset reference '{name}@{text}': "
            "expected a number or 'latest'.",
            hint=f"Write '{name}@3' for version 3 or '{name}@latest'.",
            name=name,
            version=text,
        )
    return validate_version(token, kind="dataset version", name=name)


def parse_dataset_ref(ref: str | DatasetRef, version: int | str | None = None) -> DatasetRef:
    """Parse ``"orders"``, ``"orders@3"`` or ``"orders@latest"`` into a :class:`DatasetRef`.

    Args:
        ref: The reference text (or an already parsed reference).
        version: An explicit version that overrides the one in ``ref``; an ``int``, a
            numeric string, ``"latest"`` or ``None`` (keep the one in ``ref``).

    Returns:
        The parsed reference.

    Raises:
        InvalidNameError: The name is not a valid dataset name or the version is not a
            positive number or ``latest``.

    Example:
        >>> parse_dataset_ref("orders@3")
        DatasetRef(name='orders', version=3)
    """
    if isinstance(ref, DatasetRef):
        parsed = ref
    else:
        name, sep, tail = str(ref).partition("@")
        validate_name(name, kind="dataset name")
        parsed = DatasetRef(name, _parse_version(name, tail) if sep else None)
    if version is None:
        return parsed
    if isinstance(version, str):
        return DatasetRef(parsed.name, _parse_version(parsed.name, version))
    return DatasetRef(parsed.name, version)
