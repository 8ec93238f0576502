"""Gate decisions: PROMOTE / HOLD / REJECT with every reason, and the first-model rule."""

from __future__ import annotations

from checks_core_support import make_result, make_suite
from hypothesis import given
from hypothesis import strategies as st

from conveyor.checks import FIRST_MODEL_REASON, CheckSpec, evaluate_gates


def test_all_passing_checks_promote() -> None:
    suite = make_suite(make_result("min_metric"), make_result("calibration", severity="warning"))
    decision = evaluate_gates(suite, has_champion=True)
    assert decision.decision == "PROMOTE"
    assert decision.passed
    assert decision.champion_ref == "churn@1"
    assert "all 2 counted check(s) passed" in decision.reasons


def test_failed_warning_gate_holds_and_says_why() -> None:
    suite = make_suite(
        make_result("min_metric"), make_result("calibration", "failed", severity="warning")
    )
    decision = evaluate_gates(suite, has_champion=True)
    assert decision.decision == "HOLD"
    assert decision.reasons[0].startswith("calibration failed (warning): calibration measured")


def test_failed_error_gate_rejects_and_lists_every_reason() -> None:
    suite = make_suite(
        make_result("min_metric", "failed"),
        make_result("calibration", "failed", severity="warning"),
        make_result("slices", "error"),
    )
    decision = evaluate_gates(suite, has_champion=True)
    assert decision.decision == "REJECT"
    assert [r.split(" ")[0] for r in decision.reasons[:3]] == [
        "min_metric",
        "slices",
        "calibration",
    ]
    assert "slices errored (error)" in decision.reasons[1]


def test_errored_check_rejects_like_a_failure() -> None:
    decision = evaluate_gates(make_suite(make_result("latency", "error")), has_champion=True)
    assert decision.decision == "REJECT"


def test_first_model_is_judged_on_absolute_checks_only() -> None:
    suite = make_suite(
        make_result("min_metric"),
        make_result("versus_champion_test", "error"),
        champion=None,
    )
    decision = evaluate_gates(suite, has_champion=False)
    assert decision.decision == "PROMOTE"
    assert decision.reasons[0] == FIRST_MODEL_REASON
    assert "versus_champion_test: not applicable without a champion" in decision.reasons
    assert decision.champion_ref is None


def test_relative_checks_count_once_a_champion_exists() -> None:
    suite = make_suite(make_result("min_metric"), make_result("versus_champion_test", "failed"))
    assert evaluate_gates(suite, has_champion=True).decision == "REJECT"


def test_configured_gate_that_did_not_run_rejects() -> None:
    suite = make_suite(make_result("min_metric"))
    decision = evaluate_gates(suite, [CheckSpec("fairness")], has_champion=True)
    assert decision.decision == "REJECT"
    assert "fairness: configured as a gate but did not run" in decision.reasons


def test_skipped_checks_do_not_block() -> None:
    suite = make_suite(make_result("min_metric"), make_result("latency", "skipped"))
    decision = evaluate_gates(suite, has_champion=True)
    assert decision.decision == "PROMOTE"
    assert any(r.startswith("latency skipped") for r in decision.reasons)


def test_no_checks_holds() -> None:
    decision = evaluate_gates(make_suite(), has_champion=True)
    assert decision.decision == "HOLD"


outcomes = st.lists(
    st.tuples(
        st.sampled_from(["passed", "failed", "error", "skipped"]),
        st.sampled_from(["error", "warning"]),
    ),
    min_size=1,
    max_size=8,
)


@given(outcomes)
def test_decision_follows_the_worst_counted_outcome(items: list[tuple[str, str]]) -> None:
    suite = make_suite(*(make_result(f"c{i}", s, sev) for i, (s, sev) in enumerate(items)))
    decision = evaluate_gates(suite, has_champion=True).decision
    bad = [sev for status, sev in items if status in ("failed", "error")]
    expected = "REJECT" if "error" in bad else "HOLD" if bad else "PROMOTE"
    assert decision == expected
