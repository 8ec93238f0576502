"""Every error class has its own machine-readable ``code``.

Clients (the CLI's ``--json`` output, the servers' JSON error bodies) tell failures apart by
``code``, so two different failures must never share one. A class may repeat a code only
when it is a subclass of the class that owns it: another form of the same failure (the
prediction server's 503 for a busy store is a :class:`~conveyor.errors.StoreBusyError`).
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import conveyor
from conveyor.errors import ConveyorError


def _conveyor_errors() -> list[type[ConveyorError]]:
    for info in pkgutil.walk_packages(conveyor.__path__, "conveyor."):
        if ".testing" in info.name or ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    found: list[type[ConveyorError]] = []
    todo = [ConveyorError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("conveyor.") and cls not in found:
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_error_class_declares_its_own_code() -> None:
    inheriting = [_name(c) for c in _conveyor_errors() if "code" not in vars(c)]
    assert inheriting == []


def test_codes_are_snake_case() -> None:
    bad = [
        (_name(c), c.code) for c in _conveyor_errors() if not re.fullmatch(r"[a-z0-9_]+", c.code)
    ]
    assert bad == []


def test_no_two_failures_share_a_code() -> None:
    owners: dict[str, type[ConveyorError]] = {}
    clashes: list[tuple[str, str, str]] = []
    # Base classes first, so a subclass repeating its base's code is checked against it.
    for cls in sorted(_conveyor_errors(), key=lambda c: len(c.__mro__)):
        owner = owners.setdefault(cls.code, cls)
        if owner is not cls and not issubclass(cls, owner):
            clashes.append((cls.code, _name(owner), _name(cls)))
    assert clashes == []
