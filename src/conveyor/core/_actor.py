"""Who performs a mutation. Every write to a store is attributed to an :class:`Actor`."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The user or service on whose behalf a change is made.

    Attributes:
        name: A stable identifier, e.g. ``"alice"`` or ``"agent"``.
        kind: ``"user"`` for people, ``"service"`` for automation.
    """

    name: str
    kind: str = "user"

    @classmethod
    def resolve(cls, env: Mapping[str, str]) -> Actor:
        """The default actor: ``CONVEYOR_ACTOR`` in ``env`` if set, else the operating-system user.

        Args:
            env: The environment settings were read from (``Settings.environ``).
        """
        name = env.get("CONVEYOR_ACTOR", "").strip()
        if name:
            return cls(name=name)
        try:
            return cls(name=getpass.getuser())
        except (KeyError, OSError):  # no passwd entry (some containers)
            return cls(name=f"uid-{os.getuid()}")

    def __str__(self) -> str:
        return self.name
