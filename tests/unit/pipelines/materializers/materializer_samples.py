"""Importable classes for the materializer tests (loading must import them by name)."""

from __future__ import annotations

from typing import Any

import torch
from sklearn.base import BaseEstimator, TransformerMixin

#: Set by code that must never run while loading an untrusted file.
TRIGGERED: list[str] = []


def trigger(why: str) -> None:
    TRIGGERED.append(why)


class TinyNet(torch.nn.Module):
    """Constructible without arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 3)
        self.register_buffer("scale", torch.tensor([2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x) * self.scale


class WideNet(torch.nn.Module):
    """Needs arguments; records them in ``conveyor_init_kwargs``."""

    def __init__(self, width: int, depth: int = 1) -> None:
        super().__init__()
        self.conveyor_init_kwargs = {"width": width, "depth": depth}
        self.layers = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class NeedsArgsNet(torch.nn.Module):
    """Needs arguments and does not say which."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(width, 1)


class FlagTransformer(TransformerMixin, BaseEstimator):
    """A custom estimator from a module skops does not trust; building it sets a flag."""

    def __init__(self, factor: float = 1.0) -> None:
        self.factor = factor

    def __setstate__(self, state: dict[str, Any]) -> None:
        trigger("FlagTransformer.__setstate__")
        self.__dict__.update(state)

    def fit(self, x: Any, y: Any = None) -> FlagTransformer:
        return self

    def transform(self, x: Any) -> Any:
        return x * self.factor


class PickleBomb:
    """Unpickling this calls ``trigger``: what ``weights_only=True`` must refuse."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (trigger, ("PickleBomb unpickled",))
