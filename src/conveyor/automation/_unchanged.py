"""Recognising a retraining that would reproduce, or did reproduce, the serving model.

Drift, degradation or a schedule say the model *should* change; they do not give it
anything new to learn from. When the version serving the trigger's environment was trained
on exactly the dataset versions the pipeline would read now (same content hashes), a
retraining run finds every step cached and yields the same model: the agent records "no
change" instead, registers and deploys nothing, and says what it would need
(:func:`nothing_new`). When it could not tell beforehand (the serving version records no
training data) and the retrained model's artifact is the serving one's, byte for byte, it
deploys nothing (:func:`reproduced`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.config import TriggerConfig
    from conveyor.workspace import Workspace


def serving_ref(ws: Workspace, trigger: TriggerConfig) -> str | None:
    """``name@version`` of ``trigger.model`` serving ``trigger.env`` at 100 %, if any."""
    current = ws.deployments.current(trigger.env)
    serving = None if current is None or current.in_progress else current.full
    if serving is None or serving.model != trigger.model:
        return None
    return serving.ref


def reproduced(ws: Workspace, trigger: TriggerConfig, candidate: str) -> str | None:
    """Why ``candidate`` must not be deployed because it is the serving model, or ``None``.

    The two versions are the same model when their content hashes (the hash of the
    manifest listing every model file's hash, the flavor and the signature) are equal.
    """
    ref = serving_ref(ws, trigger)
    if ref is None or ref == candidate:
        return None
    try:
        serving, new = ws.models.get(ref), ws.models.get(candidate)
    except ConveyorError:
        return None
    if serving.content_hash != new.content_hash:
        return None
    return (
        f"no change: retraining reproduced {ref} serving {trigger.env} (identical artifact, "
        f"content hash {new.content_hash[:12]}); {candidate} is registered but not deployed. "
        f"It needs new training data or {_traffic_hint(trigger)}"
    )


def nothing_new(ws: Workspace, trigger: TriggerConfig) -> str | None:
    """Why retraining for ``trigger`` would reproduce the serving version, or ``None``.

    ``None`` (retrain) for a ``new_data`` trigger, when nothing of ``trigger.model``
    serves ``trigger.env`` at 100 %, when the serving version has no run or its run read
    no dataset, or when any dataset it read has a newer version with other content.

    Returns:
        The reason to record, naming what would make a retraining worthwhile.

    Example:
        >>> nothing_new(ws, trigger)  # doctest: +SKIP
        'no change: clf@1 serving production was trained on points@1, ...'
    """
    if trigger.kind == "new_data":
        return None
    ref = serving_ref(ws, trigger)
    if ref is None:
        return None
    try:
        version = ws.models.get(ref)
        read = ws.runs.datasets(version.run_id) if version.run_id else []
    except ConveyorError:
        return None
    if not read:
        return None
    for dataset in read:
        try:
            latest = ws.datasets.get(f"{dataset['name']}@latest")
        except ConveyorError:
            return None
        if latest.content_hash != dataset["content_hash"]:
            return None
    names = ", ".join(f"{d['name']}@{d['version']}" for d in read)
    first = read[0]["name"]
    needs = f"a new version of {first} (`conveyor data add {first} PATH`) or " + _traffic_hint(
        trigger
    )
    return (
        f"no change: {ref} serving {trigger.env} was trained on {names}, still the "
        f"latest data, so retraining would reproduce it; registered nothing, deployed "
        f"nothing. It needs {needs}"
    )


def _traffic_hint(trigger: TriggerConfig) -> str:
    if trigger.include_traffic is None:
        return (
            f"labelled traffic (set include_traffic on trigger {trigger.name!r} and send "
            "labels to /v1/feedback)"
        )
    return (
        f"labelled traffic from {trigger.env} (none with feedback yet: send labels to /v1/feedback)"
    )
