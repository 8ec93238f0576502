"""The ML Test Score rubric (Breck et al., 2017) evaluated for a project.

Twenty-eight tests, seven per section (data, model development, infrastructure,
monitoring). Each scores 0, 0.5 (done manually) or 1 (automated); conveyor only awards what
it can see automated: a configured gate whose latest recorded result passed, a stored data
schema, a recorded tuning study, a CI workflow in the repository. A section scores the sum
of its points; the final score is the minimum over sections, because a project is only as
well tested as its weakest area. Every point not earned carries a hint naming what to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.ci._facts import ProjectFacts, gather_facts

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

SECTIONS = ("data", "model", "infrastructure", "monitoring")
SECTION_TITLES = {
    "data": "Data",
    "model": "Model development",
    "infrastructure": "Infrastructure",
    "monitoring": "Monitoring",
}

Verdict = tuple[float, str | None]
Rule = Callable[[ProjectFacts], Verdict]


@dataclass(frozen=True)
class ScorePoint:
    """One of the 28 tests and what the project earned for it.

    Attributes:
        section: ``data``, ``model``, ``infrastructure`` or ``monitoring``.
        number: 1-7 within its section.
        title: The test as the rubric names it.
        score: 0 (missing), 0.5 (manual) or 1 (automated).
        evidence: What conveyor found (why the point was given), or ``None``.
        hint: What to add to earn the point, or ``None`` when earned.
    """

    section: str
    number: int
    title: str
    score: float
    evidence: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "section": self.section,
            "number": self.number,
            "title": self.title,
            "score": self.score,
            "evidence": self.evidence,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class ScoreReport:
    """The rubric for one project.

    Attributes:
        points: All 28 points, section by section.
        sections: Score per section (0-7).
        final: The minimum section score.
    """

    points: tuple[ScorePoint, ...]
    sections: dict[str, float] = field(default_factory=dict)
    final: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "final": self.final,
            "sections": dict(self.sections),
            "points": [p.to_dict() for p in self.points],
        }


def _gate(check: str, why: str) -> Rule:
    """Earned when ``check`` is configured (or run by ``conveyor ci``) and last passed."""

    def rule(facts: ProjectFacts) -> Verdict:
        if check not in facts.checks:
            return 0.0, f"Add a `{check}` gate to conveyor.yaml ({why})."
        passed = facts.latest.get(check)
        if passed is None:
            return 0.0, f"`{check}` is configured but has never run: run `conveyor ci`."
        if check in facts.skipped:
            # Not a failure: the check could not judge (e.g. nothing to compare with yet).
            because = facts.skipped[check].rstrip(".") or "no reason recorded"
            return (
                0.0,
                f"The latest `{check}` result was skipped, not failed ({because}): give it "
                "what it needs and run `conveyor ci`.",
            )
        if not passed:
            return 0.0, f"The latest `{check}` result failed: fix it and run `conveyor ci`."
        return 1.0, None

    return rule


def _all(*rules: Rule) -> Rule:
    def rule(facts: ProjectFacts) -> Verdict:
        hints = [hint for score, hint in (r(facts) for r in rules) if score < 1.0]
        return (1.0, None) if not hints else (0.0, " ".join(h for h in hints if h))

    return rule


def _fact(test: Callable[[ProjectFacts], bool], hint: str) -> Rule:
    def rule(facts: ProjectFacts) -> Verdict:
        return (1.0, None) if test(facts) else (0.0, hint)

    return rule


def _section(name: str, hint: str) -> Rule:
    """Earned once the configuration has a ``name:`` section (monitoring, triggers, ...)."""
    return _fact(lambda f: name in f.sections, hint)


_SCHEMA = _all(
    _fact(
        lambda f: f.has_schema, "Infer and store a data schema (`conveyor check --data NAME@V`)."
    ),
    _gate("schema", "validates each new dataset version against the stored schema"),
)

RUBRIC: tuple[tuple[str, str, Rule], ...] = (
    ("data", "Feature expectations are captured in a schema", _SCHEMA),
    (
        "data",
        "All features are beneficial",
        _gate("feature_importance", "flags features with no importance"),
    ),
    (
        "data",
        "No feature's cost is too much",
        _gate("artifact_size", "bounds what the features cost to store and ship"),
    ),
    (
        "data",
        "Features adhere to meta-level requirements",
        _gate("label_leakage", "rejects features that leak the label"),
    ),
    (
        "data",
        "The data pipeline has appropriate privacy controls",
        _fact(
            lambda f: f.encrypted,
            "Enable encryption at rest: store.encryption.enabled: true in conveyor.yaml.",
        ),
    ),
    (
        "data",
        "New features can be added quickly",
        _fact(
            lambda f: f.pipeline is not None,
            "Name the training pipeline in conveyor.yaml (pipelines.training: MODULE:PIPELINE).",
        ),
    ),
    (
        "data",
        "All input feature code is tested",
        _gate("anomalies", "tests input feature values against the reference profile"),
    ),
    (
        "model",
        "Model specs are reviewed and submitted",
        _fact(
            lambda f: f.ci_workflow is not None,
            "Run `conveyor init --ci github|gitlab` so every change is reviewed with its report.",
        ),
    ),
    (
        "model",
        "Offline and online metrics correlate",
        _section("monitoring", "Add a monitoring: section with performance tracking."),
    ),
    (
        "model",
        "All hyperparameters have been tuned",
        _fact(
            lambda f: f.tuned,
            "Tune hyperparameters with conveyor.tune inside the training pipeline.",
        ),
    ),
    (
        "model",
        "The impact of model staleness is known",
        _section("triggers", "Add a triggers: section (scheduled retraining) to measure it."),
    ),
    (
        "model",
        "A simpler model is not better",
        _gate("champion_comparison", "compares every candidate with the champion"),
    ),
    (
        "model",
        "Model quality is sufficient on all important data slices",
        _gate("slices", "checks the metric per segment; declare evaluation.slices"),
    ),
    (
        "model",
        "The model has been tested for considerations of inclusion",
        _gate("fairness", "checks parity over evaluation.sensitive"),
    ),
    (
        "infrastructure",
        "Training is reproducible",
        _fact(
            lambda f: f.pipeline is not None and f.pinned,
            "Pin data in conveyor.lock (`conveyor data add`) and name pipelines.training.",
        ),
    ),
    (
        "infrastructure",
        "Model specs are unit tested",
        _gate("loss_decreases", "checks that training makes progress"),
    ),
    (
        "infrastructure",
        "The ML pipeline is integration tested",
        _gate("pipeline_sample", "runs the training pipeline end to end on a sample"),
    ),
    (
        "infrastructure",
        "Model quality is validated before attempting to serve it",
        _all(
            _gate("min_metric", "sets a floor on the model's quality"),
            _fact(lambda f: f.decided, "Run `conveyor ci` to record a gate decision."),
        ),
    ),
    (
        "infrastructure",
        "The model allows debugging by observing step-by-step computation",
        _gate("save_load_parity", "checks the stored artifact predicts what was trained"),
    ),
    (
        "infrastructure",
        "Models are canaried before serving",
        _section("environments", "Add an environments: section with a canary strategy."),
    ),
    (
        "infrastructure",
        "Serving models can be rolled back",
        _fact(
            lambda f: f.rollback_ready,
            "Set a champion alias with an earlier ready version to move it back to "
            "(`conveyor models alias NAME VERSION champion`).",
        ),
    ),
    (
        "monitoring",
        "Dependency changes result in notification",
        _section("webhooks", "Add a webhooks: section to be notified of changes."),
    ),
    (
        "monitoring",
        "Data invariants hold in training and serving inputs",
        _all(
            _gate("schema", "validates training inputs"),
            _gate("signature_serving", "checks serving inputs against the model signature"),
        ),
    ),
    (
        "monitoring",
        "Training and serving features compute the same values",
        _gate("serving_roundtrip", "checks the server answers what the model predicts"),
    ),
    (
        "monitoring",
        "Models are not too stale",
        _section("triggers", "Add a triggers: section (schedule or new-data retraining)."),
    ),
    (
        "monitoring",
        "The model is numerically stable",
        _gate("robustness", "checks predictions under noise and missing values"),
    ),
    (
        "monitoring",
        "The model has not experienced regressions in computational performance",
        _gate("latency", "sets a p95 prediction latency budget"),
    ),
    (
        "monitoring",
        "The model has not experienced regressions in prediction quality",
        _section("monitoring", "Add a monitoring: section (performance once labels arrive)."),
    ),
)


def score_project(ws: Workspace) -> ScoreReport:
    """Evaluate the ML Test Score rubric for the project of ``ws``.

    Args:
        ws: An open workspace (its configuration and records are read, nothing is written).

    Returns:
        Every point with its hint, the section scores and the final score (the minimum).

    Example:
        >>> report = score_project(ws)  # doctest: +SKIP
        >>> report.final <= min(report.sections.values())
        True
    """
    return score_facts(gather_facts(ws))


def score_facts(facts: ProjectFacts) -> ScoreReport:
    """The rubric for already gathered facts (see :func:`score_project`)."""
    points: list[ScorePoint] = []
    numbers: dict[str, int] = {}
    for section, title, rule in RUBRIC:
        numbers[section] = numbers.get(section, 0) + 1
        score, hint = rule(facts)
        evidence = None if hint else "automated"
        points.append(ScorePoint(section, numbers[section], title, score, evidence, hint))
    sections = {s: sum(p.score for p in points if p.section == s) for s in SECTIONS}
    return ScoreReport(tuple(points), sections, min(sections.values()))
