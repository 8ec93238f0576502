"""``conveyor score`` tells a skipped check from a failed one."""

from __future__ import annotations

from conveyor.ci import ProjectFacts, score_facts


def _hint(facts: ProjectFacts, title: str) -> str:
    point = next(p for p in score_facts(facts).points if p.title == title)
    assert point.score == 0.0
    return point.hint or ""


def test_a_skipped_check_is_reported_as_skipped_with_its_reason() -> None:
    facts = ProjectFacts(
        checks=frozenset({"champion_comparison"}),
        latest={"champion_comparison": False},
        skipped={"champion_comparison": "no champion to compare with."},
    )
    hint = _hint(facts, "A simpler model is not better")
    assert "skipped, not failed (no champion to compare with)" in hint
    assert "failed: fix it" not in hint


def test_a_failed_check_is_still_reported_as_failed() -> None:
    facts = ProjectFacts(
        checks=frozenset({"champion_comparison"}), latest={"champion_comparison": False}
    )
    hint = _hint(facts, "A simpler model is not better")
    assert "failed: fix it" in hint
    assert "skipped" not in hint
