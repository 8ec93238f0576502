"""The one load policy: what a stored or imported model may name, and how big it may grow.

Every loader that turns bytes from outside into Python objects goes through this package:
the scikit-learn, boosting and PyTorch flavors (and the materializers, which store models
through them) and the MLflow importer. The rules:

* **Types are trusted by exact name** (``module.Qualified``), never by module prefix:
  skops' own defaults (public scikit-learn estimators, numpy and scipy ufuncs, numpy
  scalar types) plus :data:`SKOPS_TRUSTED_TYPES`. Anything else is refused, naming the
  type, before any object is built, unless the caller passes ``trusted=True`` (the
  version was registered trusted).
* **Class paths** read from files are checked before anything is imported: boosting
  classes (``xgboost.model_class`` ...) against an exact list (:func:`check_class_path`);
  PyTorch module classes against :data:`TORCH_CLASSES`, the caller's trust, or the
  project's own code already imported by the running process (:func:`check_model_class`).
* **Archives are bounded before they are inflated**: member count, declared sizes,
  compression ratio, the sizes numpy array headers claim, the depth and node count of
  the skops schema (:class:`ArchiveLimits`).
* **Paths from a model directory are references**: :func:`resolve_inside` resolves them
  (symlinks included) and refuses any that leave the directory.
"""

from __future__ import annotations

from conveyor.core._trust._archives import (
    ArchiveLimits,
    check_archive,
    load_skops,
    skops_types,
    untrusted_types,
)
from conveyor.core._trust._classes import (
    check_class_path,
    check_model_class,
    imported_class,
    imported_subclass,
    is_project_class,
)
from conveyor.core._trust._errors import (
    ArchiveLimitError,
    LoadPolicyError,
    UnreadableArchiveError,
    UnsafePathError,
    UntrustedContentError,
)
from conveyor.core._trust._lists import (
    LIGHTGBM_CLASSES,
    SKOPS_TRUSTED_TYPES,
    TORCH_CLASSES,
    XGBOOST_CLASSES,
)
from conveyor.core._trust._paths import resolve_inside

__all__ = [
    "ArchiveLimitError",
    "ArchiveLimits",
    "LIGHTGBM_CLASSES",
    "LoadPolicyError",
    "SKOPS_TRUSTED_TYPES",
    "TORCH_CLASSES",
    "UnreadableArchiveError",
    "UnsafePathError",
    "UntrustedContentError",
    "XGBOOST_CLASSES",
    "check_archive",
    "check_class_path",
    "check_model_class",
    "imported_class",
    "imported_subclass",
    "is_project_class",
    "load_skops",
    "resolve_inside",
    "skops_types",
    "untrusted_types",
]
