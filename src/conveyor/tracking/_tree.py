"""Metrics of a run tree: a pipeline run's own values and those of its steps, named.

Only step runs log metrics when a pipeline runs, yet users list, show and compare pipeline
runs. :func:`tree_sources` finds where each value of a tree lives (the run itself, each
step's newest finished run, and for a cached step the run whose work it reused), and
:func:`name_keys` applies the naming rule: a key logged by exactly one step keeps its plain
name (``accuracy``), a key logged by several steps is qualified by the step's name
(``train.accuracy``, ``evaluate.accuracy``), and a key the pipeline run logged itself
always keeps its plain name (its steps' values of that key are then qualified).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.tracking._records import Run

_FINISHED = ("completed", "cached")


@dataclass(frozen=True)
class Source:
    """One run of a tree whose values count.

    Attributes:
        name: The step's name, or ``None`` for the run itself.
        run_id: The run holding the values (a cached step's original run).
    """

    name: str | None
    run_id: str


def tree_sources(run: Run, children: Sequence[Run], step: str | None = None) -> list[Source]:
    """Where the values of ``run``'s tree live, the run itself first, then steps by name.

    Only ``kind="step"`` children count (a tuning study's trials stay with the study). A
    step that ran several times in one pipeline run (a failed attempt, then a resumed one)
    counts once: its newest finished run, else its newest run.

    Args:
        run: The root run.
        children: Its direct children, oldest first.
        step: Only this step's run (the root's own values are left out).

    Returns:
        The sources; empty when ``step`` names no step of the run.
    """
    chosen: dict[str, Run] = {}
    for child in children:
        if child.kind != "step":
            continue
        current = chosen.get(child.name)
        if current is None or _rank(child) >= _rank(current):
            chosen[child.name] = child
    steps = [Source(name, r.cached_from or r.id) for name, r in sorted(chosen.items())]
    if step is not None:
        return [s for s in steps if s.name == step]
    return [Source(None, run.cached_from or run.id), *steps]


def _rank(run: Run) -> tuple[bool, object]:
    return (run.status in _FINISHED, run.started_at)


def name_keys(logged: dict[Source, list[str]]) -> dict[tuple[Source, str], str]:
    """The tree key of each ``(source, logged key)`` by the rule in the module docstring."""
    own = {key for source, keys in logged.items() if source.name is None for key in keys}
    by_steps = Counter(key for source, keys in logged.items() if source.name for key in keys)
    names: dict[tuple[Source, str], str] = {}
    for source, keys in logged.items():
        for key in keys:
            plain = source.name is None or (key not in own and by_steps[key] == 1)
            names[source, key] = key if plain else f"{source.name}.{key}"
    return names
