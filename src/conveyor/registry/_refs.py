"""Model references: ``churn`` (latest ready version), ``churn@3`` and ``churn@champion``."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.core import validate_name
from conveyor.errors import InvalidNameError

#: The selector meaning "the newest ready version"; it can never be an alias name.
LATEST = "latest"
#: The largest version number a reference may name (the store keeps 32-bit integers).
MAX_VERSION = 2**31 - 1


def validate_alias(alias: object) -> str:
    """Return ``alias`` if it may name an alias, else raise :class:`InvalidNameError`.

    Aliases follow the model-name rules, but cannot be all digits (that reads as a version
    number) nor ``latest`` (reserved for the newest version).

    Example:
        >>> validate_alias("champion")
        'champion'
    """
    name = validate_name(alias, kind="alias name")
    if name.isdigit() or name.lower() == LATEST:
        raise InvalidNameError(
            f"Invalid alias name {name!r}: an alias cannot be all digits or 'latest', "
            "which would read as a version reference.",
            hint="Pick an alias such as 'champion', 'challenger' or 'prod-eu'.",
            name=name,
        )
    return name


@dataclass(frozen=True)
class ModelRef:
    """A model name and what selects the version: a number, an alias, or ``None`` (latest).

    Attributes:
        name: A validated model name.
        version: A version number of 1 or more, or ``None``.
        alias: An alias name, or ``None``. At most one of ``version`` and ``alias`` is set.

    Example:
        >>> str(ModelRef("churn", alias="champion"))
        'churn@champion'
    """

    name: str
    version: int | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        validate_name(self.name, kind="model name")
        if self.version is not None and self.alias is not None:
            raise InvalidNameError(
                f"Model reference {self.name!r} has both version {self.version} and alias "
                f"{self.alias!r}; give one.",
                hint=f"Use '{self.name}@{self.version}' or '{self.name}@{self.alias}'.",
                name=self.name,
            )
        if self.version is not None and (
            isinstance(self.version, bool)
            or not isinstance(self.version, int)
            or not 1 <= self.version <= MAX_VERSION
        ):
            raise InvalidNameError(
                f"Invalid version {_shown(self.version)} for model {self.name!r}: "
                f"versions are whole numbers from 1 to {MAX_VERSION}.",
                hint=f"Use '{self.name}@1', '{self.name}@champion' or just '{self.name}'.",
                name=self.name,
                version=self.version,
            )
        if self.alias is not None:
            validate_alias(self.alias)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.alias or LATEST}"


def parse_model_ref(ref: str | ModelRef) -> ModelRef:
    """Parse ``"churn"``, ``"churn@latest"``, ``"churn@3"`` or ``"churn@champion"``.

    Raises:
        InvalidNameError: The name or the selector is not valid; the message names it.

    Example:
        >>> parse_model_ref("churn@3")
        ModelRef(name='churn', version=3, alias=None)
    """
    if isinstance(ref, ModelRef):
        return ref
    if not isinstance(ref, str):
        raise InvalidNameError(
            f"Invalid model reference {ref!r}: expected text such as 'churn@3'.",
            hint="Write NAME, NAME@VERSION or NAME@ALIAS.",
            name=repr(ref),
        )
    name, sep, selector = ref.partition("@")
    if not sep or selector.strip().lower() == LATEST:
        return ModelRef(name)
    token = selector.strip()
    if token == "":
        raise InvalidNameError(
            f"Model reference {ref!r} ends with '@' but names no version or alias.",
            hint=f"Write '{name}@3', '{name}@champion' or just '{name}'.",
            name=name,
        )
    if token.isascii() and token.isdigit():
        return ModelRef(name, version=_version_number(name, token))
    if token[:1] in ("v", "V") and token[1:].isascii() and token[1:].isdigit():
        return ModelRef(name, version=_version_number(name, token[1:]))
    return ModelRef(name, alias=token)


def _version_number(name: str, digits: str) -> int:
    # Refuse before converting: int() of thousands of digits is slow, then refused by Python.
    if len(digits.lstrip("0")) > len(str(MAX_VERSION)):
        raise InvalidNameError(
            f"Invalid version {_shown(digits)} for model {name!r}: versions are whole numbers "
            f"from 1 to {MAX_VERSION}.",
            hint=f"Use '{name}@1', '{name}@champion' or just '{name}'.",
            name=name,
        )
    return int(digits)


def _shown(version: object) -> str:
    # A hostile reference may carry thousands of digits: show its start and its length.
    text = repr(version)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def format_versions(numbers: list[int]) -> str:
    """Compress version numbers into ranges for messages: ``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    ordered = sorted(set(numbers))
    if not ordered:
        return "none"
    parts: list[str] = []
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)
