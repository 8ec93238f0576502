"""Search-space specs (:class:`Float`, :class:`Int`, :class:`Categorical`) and their checks.

Specs are plain frozen values; they are checked when turned into Optuna distributions by
:func:`to_distribution`, so each error can name the parameter it belongs to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from conveyor.tuning._errors import SearchSpaceError

__all__ = ["Categorical", "Float", "Int", "SpaceSpec", "suggest", "to_distributions"]

_HINT = (
    "Describe each parameter with conveyor.tuning.Float(low, high, log=...), "
    "Int(low, high, step=...), Categorical([choices]) or an optuna distribution."
)


@dataclass(frozen=True)
class Float:
    """A real parameter in ``[low, high]``, optionally on a log scale or a grid of ``step``.

    Example:
        >>> Float(1e-4, 1e-1, log=True)
        Float(low=0.0001, high=0.1, log=True, step=None)
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None


@dataclass(frozen=True)
class Int:
    """An integer parameter in ``[low, high]`` (both included), every ``step``-th value.

    Example:
        >>> Int(2, 32, log=True)
        Int(low=2, high=32, log=True, step=1)
    """

    low: int
    high: int
    log: bool = False
    step: int = 1


@dataclass(frozen=True)
class Categorical:
    """One of ``choices`` (``None``, bools, numbers or strings).

    Example:
        >>> Categorical(["gini", "entropy"]).choices
        ('gini', 'entropy')
    """

    choices: tuple[CategoricalChoiceType, ...]

    def __init__(self, choices: Sequence[CategoricalChoiceType]) -> None:
        object.__setattr__(self, "choices", tuple(choices))


SpaceSpec: TypeAlias = Float | Int | Categorical | BaseDistribution


def to_distributions(space: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    """Check every entry of ``space`` and return the matching Optuna distributions.

    Raises:
        SearchSpaceError: ``space`` is not a mapping, or an entry is not a valid spec; the
            message names the parameter and the offending value.
    """
    if not isinstance(space, Mapping):
        raise SearchSpaceError(
            f"The search space must be a dict of parameter name -> spec, got {space!r}.",
            hint=_HINT,
        )
    return {_check_name(name): to_distribution(name, spec) for name, spec in space.items()}


def to_distribution(name: str, spec: Any) -> BaseDistribution:
    """Turn one spec into an Optuna distribution (see :func:`to_distributions`)."""
    if isinstance(spec, Float):
        _require_numbers(name, spec, spec.low, spec.high)
        if spec.log and spec.low <= 0:
            _fail(name, spec, f"a log scale needs low > 0, got low={spec.low!r}")
        if spec.log and spec.step is not None:
            _fail(name, spec, "log=True and step cannot be combined")
        if spec.step is not None and not spec.step > 0:
            _fail(name, spec, f"step must be > 0, got {spec.step!r}")
        _require_order(name, spec, spec.low, spec.high)
        return _build(name, spec, FloatDistribution, spec.low, spec.high, spec.log, spec.step)
    if isinstance(spec, Int):
        for value in (spec.low, spec.high, spec.step):
            if isinstance(value, bool) or not isinstance(value, int):
                _fail(name, spec, f"low, high and step must be integers, got {value!r}")
        _require_order(name, spec, spec.low, spec.high)
        if spec.step < 1:
            _fail(name, spec, f"step must be >= 1, got {spec.step!r}")
        if spec.log and spec.low < 1:
            _fail(name, spec, f"a log scale needs low >= 1, got low={spec.low!r}")
        if spec.log and spec.step != 1:
            _fail(name, spec, "log=True and step cannot be combined")
        return _build(name, spec, IntDistribution, spec.low, spec.high, spec.log, spec.step)
    if isinstance(spec, Categorical):
        if not spec.choices:
            _fail(name, spec, "it has no choices")
        for choice in spec.choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                _fail(name, spec, f"choice {choice!r} is not None, a bool, number or string")
        return CategoricalDistribution(spec.choices)
    if isinstance(spec, (FloatDistribution, IntDistribution, CategoricalDistribution)):
        return spec
    raise SearchSpaceError(
        f"Search-space parameter {name!r} has an unsupported spec {spec!r} "
        f"(type {type(spec).__name__}).",
        hint=_HINT,
        param=name,
        spec=repr(spec),
    )


def suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    """Ask ``trial`` for a value of ``name`` drawn from ``distribution``."""
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise SearchSpaceError(  # to_distribution lets no other kind through
        f"Search-space parameter {name!r} has an unsupported distribution {distribution!r}.",
        hint=_HINT,
        param=name,
    )


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise SearchSpaceError(
            f"Search-space parameter names must be non-empty strings, got {name!r}.",
            hint=_HINT,
            param=repr(name),
        )
    return name


def _require_numbers(name: str, spec: Float, *values: Any) -> None:
    for value in values:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value):
            _fail(name, spec, f"low and high must be finite numbers, got {value!r}")


def _require_order(name: str, spec: Float | Int, low: float, high: float) -> None:
    if low > high:
        _fail(name, spec, f"low {low!r} is greater than high {high!r}")


def _build(name: str, spec: Float | Int, cls: Any, *args: Any) -> BaseDistribution:
    try:
        distribution: BaseDistribution = cls(*args)
    except ValueError as exc:  # optuna's own checks, e.g. a range not a multiple of step
        raise SearchSpaceError(
            f"Search-space parameter {name!r} is invalid ({spec!r}): {exc}",
            hint=_HINT,
            param=name,
            spec=repr(spec),
        ) from exc
    return distribution


def _fail(name: str, spec: Any, reason: str) -> NoReturn:
    raise SearchSpaceError(
        f"Search-space parameter {name!r} is invalid ({spec!r}): {reason}.",
        hint=_HINT,
        param=name,
        spec=repr(spec),
    )
