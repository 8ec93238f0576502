"""A feature view's source: a dataset reference (``name@version``, ``name@latest``), or a
:func:`transformation` of one, versioned by the hash of its source text."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from conveyor.core import hash_bytes
from conveyor.features._errors import FeatureDefinitionError
from conveyor.features._names import checked_name

__all__ = ["Transformation", "dataset_ref", "transformation"]


@dataclass(frozen=True)
class Transformation:
    """A function from a dataset version's DataFrame to a feature view's rows.

    Versioned by the hash of its source text, as a pipeline step is: editing the function
    makes the view that uses it a new version. Made with :func:`transformation`.
    """

    function: Callable[[pd.DataFrame], pd.DataFrame]
    dataset: str
    source_hash: str

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.function(frame)

    @property
    def name(self) -> str:
        return str(getattr(self.function, "__qualname__", "transformation"))


def transformation(
    dataset: str,
) -> Callable[[Callable[[pd.DataFrame], pd.DataFrame]], Transformation]:
    """Decorate ``function(frame) -> frame`` as the source of a view over ``dataset``.

    Args:
        dataset: A dataset reference, ``name@version`` or ``name@latest`` (``name`` alone
            means latest).

    Raises:
        FeatureDefinitionError: The function's source cannot be read (defined in an
            interactive prompt), so it could not be versioned.
    """
    ref = dataset_ref(dataset)

    def decorate(function: Callable[[pd.DataFrame], pd.DataFrame]) -> Transformation:
        try:
            text = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError) as exc:
            raise FeatureDefinitionError(
                f"Cannot read the source of transformation {function!r}, so it cannot be "
                "versioned.",
                hint="Define transformations in a file (features.py), not at a prompt.",
            ) from exc
        return Transformation(function, ref, hash_bytes(text.encode("utf-8")))

    return decorate


def dataset_ref(value: object) -> str:
    """``value`` checked as a dataset reference: ``name@version`` or ``name@latest``."""
    if not isinstance(value, str) or not value:
        raise FeatureDefinitionError(
            f"A feature view's source must be a dataset reference like 'orders@latest', "
            f"got {value!r}.",
            hint="Pass 'name@version' or 'name@latest', or a @transformation.",
        )
    name, _, version = value.partition("@")
    checked_name(name, "dataset name")
    version = version or "latest"
    if version != "latest" and not (version.isdigit() and 0 < int(version) < 2**63):
        raise FeatureDefinitionError(
            f"Invalid dataset version {version!r} in the source {value!r}.",
            hint="Use a version number (orders@3) or @latest.",
            source=value,
        )
    return f"{name}@{version}"
