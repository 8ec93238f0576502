"""Gate decisions: PROMOTE, HOLD or REJECT from a suite's results, with every reason.

The rule: any error-severity check that failed or errored rejects; otherwise any
warning-severity check that failed or errored holds; otherwise the candidate is promoted.
Relative checks (those that compare with a champion) do not count for the first model:
the decision says it was judged on absolute checks only. When a check measured the
prediction divergence expected between candidate and champion (the champion comparison
does, in ``details["expected_divergence"]``), the decision says so in a note: it is what a
canary of the candidate against that champion should expect to see live.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.checks._base import CheckResult
from conveyor.checks._decision import Decision, GateDecision
from conveyor.checks._plugins import get_check
from conveyor.checks._records import record_decision
from conveyor.checks._suite import CheckSpec, SuiteResult
from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

FIRST_MODEL_REASON = "no champion yet: judged on absolute checks only"
#: Key of a check result's details holding a recorded divergence profile.
EXPECTED_DIVERGENCE = "expected_divergence"


def evaluate_gates(
    suite: SuiteResult,
    gates: Sequence[CheckSpec] | None = None,
    *,
    has_champion: bool,
    workspace: Workspace | None = None,
) -> GateDecision:
    """Judge ``suite``: every result counts (with the severity it ran with).

    Args:
        suite: The results to judge.
        gates: The configured gates; a gate whose check is missing from the suite is a
            blocking reason (it was declared but never ran).
        has_champion: False for the first model: relative checks do not count.
        workspace: When given, the decision is recorded in the workspace's check records
            and audited (``gate.decide``).
    """
    rejects: list[str] = []
    holds: list[str] = []
    notes: list[str] = []
    counted = 0
    for result in suite.results:
        if not has_champion and _is_relative(result):
            notes.append(f"{result.name}: not applicable without a champion")
            continue
        counted += 1
        if result.status in ("passed", "skipped"):
            if result.status == "skipped":
                notes.append(f"{result.name} skipped: {result.explanation}")
            continue
        reason = _reason(result)
        (rejects if result.severity == "error" else holds).append(reason)
    ran = {r.name for r in suite.results}
    for gate in gates or ():
        if gate.check not in ran:
            rejects.append(f"{gate.check}: configured as a gate but did not run")
    decision: Decision
    if rejects:
        decision = "REJECT"
    elif holds:
        decision = "HOLD"
    elif counted == 0:
        decision = "HOLD"
        holds.append("no checks counted: configure gates in conveyor.yaml")
    else:
        decision = "PROMOTE"
        notes.insert(0, f"all {counted} counted check(s) passed")
    if not has_champion:
        notes.insert(0, FIRST_MODEL_REASON)
    else:
        notes += _divergence_notes(suite)
    verdict = GateDecision(
        decision=decision,
        reasons=(*rejects, *holds, *notes),
        subject=suite.subject,
        champion_ref=suite.champion_ref if has_champion else None,
        suite_id=suite.suite_id,
    )
    if workspace is not None:
        verdict = record_decision(workspace, verdict)
    return verdict


def _reason(result: CheckResult) -> str:
    verb = "errored" if result.status == "error" else "failed"
    return f"{result.name} {verb} ({result.severity}): {result.explanation}"


def expected_divergence(results: Sequence[CheckResult]) -> dict[str, Any] | None:
    """The divergence profile measured by one of ``results`` (the first), or ``None``.

    Example:
        >>> expected_divergence([]) is None
        True
    """
    for result in results:
        profile = result.details.get(EXPECTED_DIVERGENCE) if result.details else None
        if isinstance(profile, dict):
            return profile
    return None


def _divergence_notes(suite: SuiteResult) -> list[str]:
    profile = expected_divergence(suite.results)
    if profile is None:
        return []
    try:
        value, rows = float(profile["value"]), int(profile["rows"])
    except (KeyError, TypeError, ValueError):
        return []
    return [
        f"expected prediction divergence from {profile.get('champion_ref') or 'the champion'}: "
        f"Jensen-Shannon {value:.3f} on {rows} holdout rows (a canary pauses only beyond it)"
    ]


def _is_relative(result: CheckResult) -> bool:
    try:
        return bool(get_check(result.name).relative)
    except ConveyorError:
        return False
