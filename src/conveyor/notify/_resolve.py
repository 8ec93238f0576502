"""Which notifier the configuration asks for: the one rule every caller shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from conveyor.notify._base import BaseNotifier, LogNotifier
from conveyor.notify._webhook import WebhookNotifier

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.core import Actor
    from conveyor.store import BaseAuditRecords, MetadataStore


def resolve_notifier(
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    store: MetadataStore | BaseAuditRecords | None = None,
    actor: Actor | None = None,
) -> BaseNotifier:
    """The notifier for ``settings``: the configured webhooks, or the log.

    With endpoints under ``webhooks:``, a :class:`WebhookNotifier` posting to them, signed
    with the secrets ``secret_env`` names in ``env``, its failed deliveries recorded in
    ``store`` as ``notify.failed`` by ``actor``; which events each endpoint receives is
    set by its ``events`` patterns. With none, a :class:`LogNotifier` writing to the
    ``conveyor.notify`` logger. ``Workspace.notifier()`` calls this once per workspace.

    Args:
        settings: The loaded settings.
        env: Where secrets are read (default: the environment ``settings`` were loaded
            with).
        store: Where failed webhook deliveries are audited.
        actor: Who records them.

    Returns:
        The notifier; the caller closes it.

    Raises:
        NotifyConfigError: An endpoint's host is not in ``webhooks.allowed_hosts``, or its
            ``secret_env`` variable is not set.

    Example:
        >>> from conveyor.config import load_settings
        >>> resolve_notifier(load_settings(tmp_dir))  # doctest: +SKIP
        LogNotifier('conveyor.notify')
    """
    webhooks = settings.config.webhooks
    if not webhooks.endpoints:
        return LogNotifier()
    return WebhookNotifier(
        webhooks,
        env=settings.environ if env is None else env,
        store=store,
        actor=actor,
    )
