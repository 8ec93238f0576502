"""Validating the ``gates:`` section of ``conveyor.yaml`` against the checks registry.

``conveyor.config`` only knows the shape of a gate (check, params, severity); whether the
check exists and its params fit is known here. :func:`validate_config` turns every problem
into a :class:`~conveyor.errors.ConfigError` naming the gate, listing the valid choices
and the closest one to what was written.
"""

from __future__ import annotations

import difflib
from typing import Any

from conveyor.checks._plugins import UnknownCheckError, available_checks
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
        ConfigError: ``gates[i]`` names an unknown check (the message names the closest
            valid one and the hint lists them all), has params of the wrong name or type
            (naming the param and the expected type), names a metric the check cannot
            compute on the holdout, or names a built-in that failed to import.
    """
    specs = specs_from_config(config)
    for index, spec in enumerate(specs):
        try:
            resolved = resolve_specs([spec])
        except UnknownCheckError as exc:
            valid = available_checks()
            raise ConfigError(
                f"gates[{index}]: unknown check {spec.check!r}{_did_you_mean(spec.check, valid)}.",
                hint=f"Valid checks: {', '.join(valid)}.",
                gate=index,
                check=spec.check,
                valid=valid,
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
        _validate_metric(index, spec, has_target=config.evaluation.target is not None)
    return specs


#: Checks whose ``metric`` is always computed on the holdout.
_HOLDOUT_METRIC_CHECKS = frozenset({"champion_comparison", "slices"})


def _validate_metric(index: int, spec: CheckSpec, *, has_target: bool) -> None:
    """Refuse a ``metric`` param the check would compute on the holdout but cannot.

    ``min_metric`` with ``source: auto`` computes on the holdout when an evaluation target
    is configured; a name it does not know would silently fall back to a recorded value
    of that name, which a typo (``auc``) never has, so it is refused here too.
    """
    metric: Any = spec.params.get("metric")
    if not isinstance(metric, str):
        return
    source = spec.params.get("source", "auto")
    on_holdout = spec.check in _HOLDOUT_METRIC_CHECKS or (
        spec.check == "min_metric" and source == "auto" and has_target
    )
    from conveyor.checks.model._metrics import METRICS  # numpy only; loaded when needed

    known = sorted(METRICS)
    if not on_holdout or metric in known:
        return
    recorded = " or add `source: recorded` for a metric the pipeline logs" * (
        spec.check == "min_metric"
    )
    raise ConfigError(
        f"gates[{index}] ({spec.check}): unknown metric {metric!r}{_did_you_mean(metric, known)}.",
        hint=f"Use one of: {', '.join(known)}{recorded}.",
        gate=index,
        check=spec.check,
        metric=metric,
        valid=known,
    )


def _did_you_mean(value: str, valid: list[str]) -> str:
    closest = difflib.get_close_matches(value, valid, n=1, cutoff=0.5)
    return f" (did you mean {closest[0]!r}?)" if closest else ""
