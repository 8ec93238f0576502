"""Validating the ``gates:`` section of ``conveyor.yaml`` against the checks registry.

``conveyor.config`` only knows the shape of a gate (check, params, severity); whether the
check exists and its params fit is known here. :func:`validate_config` turns every problem
into a :class:`~conveyor.errors.ConfigError` naming the gate, listing the valid choices.
"""

from __future__ import annotations

from conveyor.checks._registry import UnknownCheckError, available_checks
from conveyor.checks._suite import CheckSpec, resolve_specs
from conveyor.config import ConveyorConfig
from conveyor.errors import ConfigError


def specs_from_config(config: ConveyorConfig) -> list[CheckSpec]:
    """The configured gates as check specs, in file order."""
    return [
        CheckSpec(check=gate.check, params=dict(gate.params), severity=gate.severity)
        for gate in config.gates
    ]


def validate_config(config: ConveyorConfig) -> list[CheckSpec]:
    """Check every gate's name and params against the registry; return the specs.

    Raises:
        ConfigError: ``gates[i]`` names an unknown check (the message lists the valid
            names), has params of the wrong name or type (naming the param and the
            expected type), or names a built-in that failed to import.
    """
    specs = specs_from_config(config)
    for index, spec in enumerate(specs):
        try:
            resolved = resolve_specs([spec])
        except UnknownCheckError as exc:
            raise ConfigError(
                f"gates[{index}]: unknown check {spec.check!r}.",
                hint=f"Valid checks: {', '.join(available_checks())}.",
                gate=index,
                check=spec.check,
                valid=available_checks(),
            ) from exc
        except ConfigError as exc:
            raise ConfigError(
                f"gates[{index}]: {exc.message}",
                hint=exc.hint,
                gate=index,
                check=spec.check,
            ) from exc
        error = resolved[0].load_error
        if error is not None:
            raise ConfigError(
                f"gates[{index}]: {error.message}",
                hint=error.hint,
                gate=index,
                check=spec.check,
            ) from error
    return specs
