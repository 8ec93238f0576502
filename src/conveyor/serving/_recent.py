"""The request ids a server answered lately, so feedback may arrive before they are logged."""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    """The request ids a server answered lately, bounded, oldest forgotten first.

    Feedback can arrive before the prediction it labels reaches the log (the logger writes
    in the background); an id found here is accepted as pending instead of unknown. Used
    on the event loop only.

    Args:
        capacity: How many requests to remember (0: none).

    Example:
        >>> recent = RecentIds(2)
        >>> recent.add("a", 1); recent.add("b", 3)
        >>> "b:2" in recent, "b:3" in recent, "a" in recent
        (True, False, True)
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._rows: OrderedDict[str, int] = OrderedDict()

    def add(self, request_id: str, rows: int) -> None:
        """Remember ``request_id`` (``rows`` > 1: its rows are logged as ``<id>:<i>``)."""
        if self._capacity <= 0:
            return
        self._rows[request_id] = rows
        self._rows.move_to_end(request_id)
        while len(self._rows) > self._capacity:
            self._rows.popitem(last=False)

    def __contains__(self, request_id: object) -> bool:
        if not isinstance(request_id, str):
            return False
        rows = self._rows.get(request_id)
        if rows is not None:
            return rows == 1
        head, _, index = request_id.rpartition(":")
        rows = self._rows.get(head) if head else None
        return rows is not None and rows > 1 and index.isdigit() and int(index) < rows
