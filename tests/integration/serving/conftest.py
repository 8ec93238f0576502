"""Fixtures: real uvicorn servers on 127.0.0.1 and a host serving a small real model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from serving_support import linear_model, running

from conveyor.serving import ModelHost


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Start apps on real servers for the test; all are stopped afterwards."""
    stack: list[Any] = []

    def start(app: Any) -> str:
        manager = running(app)
        url = manager.__enter__()
        stack.append(manager)
        return url

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


@pytest.fixture
def host() -> ModelHost:
    """A host serving churn@1 (a logistic regression on two numeric columns)."""
    served = ModelHost()
    served.add(linear_model())
    return served
