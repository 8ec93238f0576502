"""The peak resident memory of the current process (for the cost of runs and servers)."""

from __future__ import annotations

import sys

_MIB = 1024.0 * 1024.0


def peak_rss_mb() -> float | None:
    """The high-water mark of this process's resident memory, in MiB.

    This is ``getrusage(RUSAGE_SELF).ru_maxrss``: the most memory the process has held at
    any moment since it started, not what it holds now. Measured at the end of a step that
    ran in-process it is therefore the process's peak so far (which includes what earlier
    steps used); measured in a worker process it is that worker's peak.

    Returns:
        MiB (``ru_maxrss`` is KiB on Linux and bytes on macOS), or ``None`` where the
        ``resource`` module does not exist (Windows).

    Example:
        >>> (peak_rss_mb() or 1.0) > 0
        True
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak / _MIB if sys.platform == "darwin" else peak / 1024.0
