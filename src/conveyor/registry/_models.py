"""Value objects of the model registry: versions, summaries, history entries, loaded models."""

from __future__ import annotations

import shutil
import weakref
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conveyor.core import isoformat

#: Where a version's evaluation record sits inside its stored lineage.
EVALUATION_KEY = "evaluation"


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable version of a model.

    Attributes:
        name: The model name.
        version: The version number (contiguous from 1 per model).
        flavor: The flavor that saved it (``sklearn``, ``xgboost``, ``onnx`` ...).
        content_hash: Hash of the version's manifest object (it lists every file's hash).
        signature: ``{"inputs": [...], "outputs": [...] | None}`` or ``None``.
        input_example: A few example input rows (``{"columns": [...], "data": [[...]]}``).
        metrics: Metric values recorded with the version.
        params: Training parameters recorded with the version.
        tags: Free-form labels.
        description: The intended use, shown in the model card.
        run_id: The run that produced it, if known.
        lineage: ``{"run_id", "code_version", "datasets": [{name, version, content_hash}]}``.
        onnx: ``{"hash", "parity": {"passed", "max_abs_diff", "rows"}}`` when an ONNX twin exists.
        importance: Global feature importance (mean absolute SHAP value per feature).
        trusted: Registered with ``trusted=True`` (required to load a pickle).
        status: ``"ready"`` or ``"archived"``.
        created_at: When it was registered (UTC).
        created_by: Who registered it.
        aliases: Aliases that point at this version now, sorted.
        evaluation: How the version was evaluated when a pipeline registered it:
            ``metric_sources`` (metric -> the step that logged it), ``metrics_step`` (the
            configured step, if any), ``holdout_rows``, and ``decision`` (the gate's
            ``verdict``, ``reasons`` and ``champion``, recorded after gating). Empty when
            nothing was recorded. Stored with the lineage record.
    """

    name: str
    version: int
    flavor: str
    content_hash: str
    signature: dict[str, Any] | None
    input_example: Any
    metrics: dict[str, Any]
    params: dict[str, Any]
    tags: dict[str, Any]
    description: str | None
    run_id: str | None
    lineage: dict[str, Any]
    onnx: dict[str, Any] | None
    importance: dict[str, Any] | None
    trusted: bool
    status: str
    created_at: datetime
    created_by: str
    aliases: tuple[str, ...] = ()
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The exact reference ``name@version``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (timestamps as ISO 8601 text)."""
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        out["created_at"] = isoformat(self.created_at)
        out["ref"] = self.ref
        return out


@dataclass(frozen=True)
class ModelSummary:
    """One line of ``conveyor models list``.

    Attributes:
        name: The model name.
        description: The model's description (from its first registration).
        latest_version: The newest ready version, or ``None`` when all are archived.
        versions: How many versions exist (archived included).
        aliases: Alias -> version.
        updated_at: When the newest version was registered.
    """

    name: str
    description: str | None
    latest_version: int | None
    versions: int
    aliases: dict[str, int]
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = asdict(self)
        out["updated_at"] = isoformat(self.updated_at)
        return out


@dataclass(frozen=True)
class AliasEvent:
    """One alias change: set (no ``from_version``), moved, or removed (no ``to_version``)."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    at: datetime
    actor: str
    reason: str | None


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a model's history: a registration, an archive or an alias change.

    Attributes:
        kind: ``"registered"``, ``"archived"``, ``"alias.set"``, ``"alias.moved"`` or
            ``"alias.removed"``.
        at: When it happened (UTC).
        actor: Who did it.
        version: The version concerned (the new target for alias changes, if any).
        alias: The alias concerned, for alias changes.
        from_version: Where the alias pointed before, for alias changes.
        reason: Why, when given.
    """

    kind: str
    at: datetime
    actor: str
    version: int | None = None
    alias: str | None = None
    from_version: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = asdict(self)
        out["at"] = isoformat(self.at)
        return out


@dataclass(frozen=True)
class ModelCard:
    """A model card in Markdown and as a self-contained HTML page."""

    markdown: str
    html: str


@dataclass
class LoadedModel:
    """A model version loaded for prediction from hash-verified files.

    The files stay in ``folder`` (a private temporary folder) while the object lives, for
    flavors that read lazily; :meth:`close` (or garbage collection) removes them.

    Attributes:
        version: The registry record.
        predictor: The flavor's predictor (``predict(frame)``, maybe ``predict_proba`` and
            ``predict_array``).
        uses_onnx: True when the ONNX twin was loaded instead of the native model.
        folder: Where the verified files were written.
    """

    version: ModelVersion
    predictor: Any
    uses_onnx: bool
    folder: Path
    _finalizer: weakref.finalize[Any, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.folder, True)

    def predict(self, frame: Any) -> Any:
        """Predict with the loaded predictor (``frame``: a pandas DataFrame)."""
        return self.predictor.predict(frame)

    def close(self) -> None:
        """Remove the local copy of the files."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> LoadedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
