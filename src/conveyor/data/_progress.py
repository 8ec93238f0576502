"""Byte progress over many objects: one bar for a whole transfer, fed chunk by chunk."""

from __future__ import annotations

from conveyor.core import ProgressCallback


def offset_progress(
    progress: ProgressCallback | None, label: str, base: int, total: int
) -> ProgressCallback | None:
    """A callback for one object's chunks that reports ``(label, base + done, total)``.

    The artifact store reports each object's own bytes; shifting them by the bytes of
    the objects already done turns them into progress over the whole transfer.
    """
    if progress is None:
        return None

    def report(stage: str, done: int, size: int) -> None:
        del stage, size
        progress(label, min(base + done, total), total)

    return report
