"""The audit pages: the event log with filters, and the hash chain's verification.

The log pages back in time by position (``before``): each page is one indexed query,
however long the log. Verifying the chain reads every event, so it runs only when asked
(``/audit/verify``).
"""

from __future__ import annotations

from starlette.responses import Response

from conveyor.core import validate_name
from conveyor.ui._core import UI, FormError, PageRequest

#: Events per page.
PAGE_SIZE = 100


def add_pages(ui: UI) -> None:
    """Add ``/audit`` and ``/audit/verify`` to ``ui``."""

    @ui.page("/audit", name="audit")
    def audit(page: PageRequest) -> Response:
        action = page.query("action", max_length=128)
        if action is not None and not _action_like(action):
            raise FormError(
                f"Invalid action filter {action!r}: actions look like 'dataset.add'.",
                hint="Pick an action from the table, or clear the filter.",
                parameter="action",
            )
        actor = page.query("actor", max_length=128)
        target = page.query("target", max_length=512)
        before = page.query_int("before", 0, low=0, high=2**63 - 1) or None
        events = page.ws.audit.audit_log(
            limit=PAGE_SIZE + 1,
            action=action,
            target_prefix=target,
            by_actor=actor,
            before_seq=before,
        )
        older = len(events) > PAGE_SIZE
        shown = list(reversed(events[-PAGE_SIZE:]))
        query = {"action": action, "actor": actor, "target": target}
        return ui.render(
            page,
            "audit.html.j2",
            events=shown,
            query=query,
            before=before,
            older=shown[-1].seq if older and shown else None,
        )

    @ui.page("/audit/verify", name="audit.verify")
    def verify(page: PageRequest) -> Response:
        return ui.render(page, "audit_verify.html.j2", result=page.ws.verify_audit())


def _action_like(text: str) -> bool:
    """``dataset.add``, ``ui.login``: names joined by dots."""
    try:
        for part in text.split("."):
            validate_name(part, kind="action")
    except ValueError:
        return False
    return True
