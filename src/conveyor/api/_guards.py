"""Checks a records call needs beyond its route's permission: the environment it changes.

A route's policy says what any call to it needs (``deployment/record_transition`` needs
``deploy``). Some calls change one environment, named only in their body: moving a
deployment, or an alias named like an environment. Those are authorized here against
that environment, so a protected one (``environments.<env>.protected``) takes a token
with the ``protected`` permission (deployer or admin), whatever the client's code did;
and a deployment into an environment with ``require_signature`` is refused unless every
version it serves carries a valid signature by a configured key.

Before that, every call is checked for what the SQL records take on trust from the
Python facades: the names a write gives a model or a dataset must be valid names
(:func:`~conveyor.core.validate_name`), and no integer may exceed a 64-bit column.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel

from conveyor.core import validate_name
from conveyor.errors import ConveyorError
from conveyor.rollout import Controller
from conveyor.security import Permission, TokenInfo, authorize
from conveyor.workspace import Workspace

_INT64 = 2**63


class NumberOutOfRangeError(ConveyorError, ValueError):
    """An integer in a request does not fit a 64-bit column."""

    code = "number_out_of_range"
    status = 400


#: Writes whose ``name`` argument names a model.
_MODEL_NAMED = frozenset({"insert_version", "archive", "set_aliases", "remove_alias"})

_ACTIONS = {
    "promote": Permission.PROMOTE,
    "rollback": Permission.ROLLBACK,
    "approve": Permission.APPROVE,
}


def check_call(ws: Workspace, token: TokenInfo, interface: str, method: str, body: Any) -> None:
    """Authorize the environment-scoped part of a records call.

    Raises:
        NumberOutOfRangeError: An integer in the body does not fit 64 bits.
        InvalidNameError: A write names a model or dataset with an invalid name.
        AccessDeniedError: The token may not make this change in that environment.
        SignatureRequiredError: The environment requires signed versions and one served
            by the new deployment has no valid signature.
    """
    check_numbers(body)
    check_names(interface, method, body)
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


def check_names(interface: str, method: str, body: Any) -> None:
    """Refuse a write that names a model or dataset with an invalid name.

    Raises:
        InvalidNameError: The name is not a valid model or dataset name.
    """
    if interface == "model" and method in _MODEL_NAMED:
        validate_name(body.name, kind="model name")
    elif interface == "dataset" and method == "add_version":
        validate_name(body.version.name, kind="dataset name")
    elif interface == "dataset" and method == "import_versions":
        for version, _ in body.versions:
            validate_name(version.name, kind="dataset name")


def check_numbers(value: Any, where: str = "body", depth: int = 0) -> None:
    """Refuse an integer field anywhere in ``value`` (models, dataclasses, sequences)
    that a 64-bit column cannot hold; free-form mappings (params, tags) are left alone.

    Raises:
        NumberOutOfRangeError: naming the field.
    """
    if depth > 32:
        return
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
            raise NumberOutOfRangeError(
                f"The number {shown} at {where} does not fit a 64-bit integer.",
                hint="Send a number between -2**63 and 2**63-1.",
                field=where,
            )
        return
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            check_numbers(getattr(value, name), f"{where}.{name}", depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            check_numbers(getattr(value, field.name), f"{where}.{field.name}", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value[:10_000]):
            check_numbers(item, f"{where}[{index}]", depth + 1)
