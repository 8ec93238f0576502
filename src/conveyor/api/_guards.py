"""Checks a records call needs beyond its route's permission: the environment it changes.

A route's policy says what any call to it needs (``deployment/record_transition`` needs
``deploy``). Some calls change one environment, named only in their body: moving a
deployment, or an alias named like an environment. Those are authorized here against
that environment, so a protected one (``environments.<env>.protected``) takes a token
with the ``protected`` permission (deployer or admin), whatever the client's code did;
and a deployment into an environment with ``require_signature`` is refused unless every
version it serves carries a valid signature by a configured key.
"""

from __future__ import annotations

from typing import Any

from conveyor.rollout import Controller
from conveyor.security import Permission, TokenInfo, authorize
from conveyor.workspace import Workspace

_ACTIONS = {
    "promote": Permission.PROMOTE,
    "rollback": Permission.ROLLBACK,
    "approve": Permission.APPROVE,
}


def check_call(ws: Workspace, token: TokenInfo, interface: str, method: str, body: Any) -> None:
    """Authorize the environment-scoped part of a records call.

    Raises:
        AccessDeniedError: The token may not make this change in that environment.
        SignatureRequiredError: The environment requires signed versions and one served
            by the new deployment has no valid signature.
    """
    environments = ws.settings.config.environments
    if interface == "deployment" and method == "record_transition":
        env = body.deployment.environment
        cfg = environments.get(env)
        action = str(body.transition.action)
        permission = _ACTIONS.get(action, Permission.DEPLOY)
        authorize(
            token, permission, environment=env, protected=bool(cfg is not None and cfg.protected)
        )
        if cfg is not None and cfg.require_signature:
            controller = Controller(ws)
            for variant in body.deployment.variants:
                controller.check_signature(f"{variant.model}@{variant.version}", env, cfg)
    elif interface == "model" and method in ("set_aliases", "remove_alias"):
        aliases = body.aliases if method == "set_aliases" else [body.alias]
        for alias in aliases:
            cfg = environments.get(alias)
            if cfg is not None:
                authorize(token, Permission.PROMOTE, environment=alias, protected=cfg.protected)
