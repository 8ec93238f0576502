"""Whether a process of this machine is still running (for leftovers named by their pid)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True when a process with id ``pid`` exists on this machine (owned by anyone).

    Example:
        >>> pid_alive(os.getpid())
        True
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
