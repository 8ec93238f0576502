"""Built-in data checks: schema inference and validation, and statistical data tests.

This package owns the checks whose subject is a dataset version: ``schema`` (validation
against a pandera schema inferred from a good version and stored, versioned, in the
check records), ``anomalies`` (against the reference version's profile),
``data_drift`` (between two versions), ``label_leakage``, ``duplicates``, ``class_balance``
and ``feature_importance``. Each check's measurement is a plain function over DataFrames
(``find_anomalies``, ``measure_drift``, ...) wrapped by a registered :class:`Check` class;
the registry in :mod:`conveyor.checks` resolves the names to these classes.
"""

from __future__ import annotations

from conveyor.checks.data._anomalies import find_anomalies
from conveyor.checks.data._checks import (
    AnomaliesCheck,
    ClassBalanceCheck,
    DataDriftCheck,
    DuplicatesCheck,
    FeatureImportanceCheck,
    LabelLeakageCheck,
)
from conveyor.checks.data._drift import measure_drift
from conveyor.checks.data._errors import DataCheckInputError, SchemaNotFoundError
from conveyor.checks.data._importance import check_importance, permutation_importances
from conveyor.checks.data._leakage import detect_leakage, single_feature_scores
from conveyor.checks.data._outcome import Outcome
from conveyor.checks.data._quality import count_duplicates, measure_class_balance
from conveyor.checks.data._schema_check import SchemaCheck, schema_outcome
from conveyor.checks.data._schema_infer import InferOptions, build_pandera, infer_frame_schema
from conveyor.checks.data._schema_store import (
    StoredSchema,
    get_schema,
    infer_schema,
    latest_schema,
    list_schemas,
)
from conveyor.checks.data._schema_validate import ColumnFailure, validate_frame

__all__ = [
    "AnomaliesCheck",
    "ClassBalanceCheck",
    "ColumnFailure",
    "DataCheckInputError",
    "DataDriftCheck",
    "DuplicatesCheck",
    "FeatureImportanceCheck",
    "InferOptions",
    "LabelLeakageCheck",
    "Outcome",
    "SchemaCheck",
    "SchemaNotFoundError",
    "StoredSchema",
    "build_pandera",
    "check_importance",
    "count_duplicates",
    "detect_leakage",
    "find_anomalies",
    "get_schema",
    "infer_frame_schema",
    "infer_schema",
    "latest_schema",
    "list_schemas",
    "measure_class_balance",
    "measure_drift",
    "permutation_importances",
    "schema_outcome",
    "single_feature_scores",
    "validate_frame",
]
