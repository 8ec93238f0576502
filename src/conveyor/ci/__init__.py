"""Continuous integration for models: ``conveyor ci``, integration checks and the ML Test Score.

This package owns the CI entry point :func:`run_ci` (restore pinned data, run the training
pipeline, register the candidate, run the configured gates and the integration checks
against the champion, record the decision, write Markdown, JUnit, JSON and HTML reports,
and map the decision to an exit code), the integration checks that need the layers a check
may not import (``pipeline_sample``: the pipeline on a data sample; ``signature_serving``:
the signature against the serving columns; ``serving_roundtrip``: the prediction server
answering like the model), and :func:`score_project`, the ML Test Score rubric computed
from what a project configures and what passed.
"""

from __future__ import annotations

from conveyor.ci._check import DEFAULT_DATA_CHECKS, CheckOutcome, check_subject
from conveyor.ci._facts import INTEGRATION_CHECKS, ProjectFacts, gather_facts
from conveyor.ci._integration import (
    PipelineSampleCheck,
    ServingRoundtripCheck,
    SignatureServingCheck,
)
from conveyor.ci._plan import CIPlan
from conveyor.ci._preflight import check_columns, pinned_columns
from conveyor.ci._restore import restore_data
from conveyor.ci._run import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_HOLD,
    EXIT_PROMOTE,
    EXIT_REJECT,
    CIResult,
    champion_of,
    run_ci,
)
from conveyor.ci._score import (
    RUBRIC,
    SECTION_TITLES,
    SECTIONS,
    ScorePoint,
    ScoreReport,
    score_facts,
    score_project,
)

__all__ = [
    "CIPlan",
    "CIResult",
    "CheckOutcome",
    "DEFAULT_DATA_CHECKS",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_HOLD",
    "EXIT_PROMOTE",
    "EXIT_REJECT",
    "INTEGRATION_CHECKS",
    "PipelineSampleCheck",
    "ProjectFacts",
    "RUBRIC",
    "SECTIONS",
    "SECTION_TITLES",
    "ScorePoint",
    "ScoreReport",
    "ServingRoundtripCheck",
    "SignatureServingCheck",
    "champion_of",
    "check_columns",
    "check_subject",
    "gather_facts",
    "pinned_columns",
    "restore_data",
    "run_ci",
    "score_facts",
    "score_project",
]
