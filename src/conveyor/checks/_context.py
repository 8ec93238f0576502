"""The :class:`CheckContext`: everything a check may need, loaded lazily and cached.

One context serves one suite. Nothing is read until a check asks: the dataset frame, the
reference version, the candidate and champion models, and above all the predictions, which
are computed once per model per suite however many checks use them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd

from conveyor.checks._base import CheckError, Subject, SubjectKind
from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.data import DatasetVersion
    from conveyor.registry import LoadedModel, ModelVersion
    from conveyor.tracking import Run
    from conveyor.workspace import Workspace

Which = Literal["candidate", "champion"]
T = TypeVar("T")
_MISSING = object()


class CheckContext:
    """Inputs of one suite of checks, each loaded on first use.

    Args:
        workspace: The open workspace (records, datasets, models, runs).
        dataset: The dataset version under test (``"orders@3"``), for data checks.
        reference: The reference version; default the version before ``dataset``.
        run_id: The run under test (metric histories).
        candidate: The candidate model: a registry ref (``"churn@4"``) or a loaded model.
        candidate_object: The in-memory fitted candidate (for save/load parity), optional.
        champion: The champion: a registry ref, a loaded model, or ``None`` (first model).
        holdout: The evaluation frame (features and the target column).
        target: The label column of ``holdout`` (and of ``dataset`` for data checks).
        positive_label: The positive class of a binary problem, when it matters.
        sensitive: Declared fairness attributes (columns of ``holdout``).
        slices: Declared slice columns.
        irrelevant: Features that must not change predictions.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        dataset: str | None = None,
        reference: str | None = None,
        run_id: str | None = None,
        candidate: str | LoadedModel | None = None,
        candidate_object: Any = None,
        champion: str | LoadedModel | None = None,
        holdout: pd.DataFrame | None = None,
        target: str | None = None,
        positive_label: Any = None,
        sensitive: Sequence[str] = (),
        slices: Sequence[str] = (),
        irrelevant: Sequence[str] = (),
    ) -> None:
        self.workspace = workspace
        self.run_id = run_id
        self.candidate_object = candidate_object
        self.target = target
        self.positive_label = positive_label
        self.sensitive = tuple(sensitive)
        self.slices = tuple(slices)
        self.irrelevant = tuple(irrelevant)
        self._dataset_ref = dataset
        self._reference_ref = reference
        self._holdout = holdout
        self._models: dict[Which, str | LoadedModel | None] = {
            "candidate": candidate,
            "champion": champion,
        }
        self._owned: list[LoadedModel] = []
        self._cache: dict[tuple[str, ...], Any] = {}
        #: How many times each model was asked to predict on the holdout (once per suite).
        self.prediction_calls: dict[Which, int] = {"candidate": 0, "champion": 0}

    # -- subjects -------------------------------------------------------------------------

    def subject(self, kind: SubjectKind) -> Subject:
        """The subject of a check of ``kind`` in this context.

        Raises:
            CheckError: The context has no subject of that kind.
        """
        if kind == "dataset" and self._dataset_ref is not None:
            version = self.dataset_version
            return Subject("dataset", f"{version.name}@{version.version}")
        if kind == "model" and self._models["candidate"] is not None:
            return Subject("model", self.candidate_ref)
        if kind == "run" and self.run_id is not None:
            return Subject("run", self.run_id)
        if kind == "model" and self.run_id is not None:
            # An unregistered candidate is judged as part of the run that made it.
            return Subject("run", self.run_id)
        raise CheckError(
            f"This check needs a {kind} to check, but none was given.",
            hint={
                "dataset": "Pass a dataset version (e.g. --data orders@3).",
                "model": "Pass a model version (e.g. --model churn@4).",
                "run": "Pass a run id (e.g. --run RUN_ID).",
            }[kind],
            kind=kind,
        )

    # -- datasets -------------------------------------------------------------------------

    @property
    def dataset_version(self) -> DatasetVersion:
        """The dataset version under test."""
        ref = self._dataset_ref
        if ref is None:
            raise CheckError("No dataset version to check.", hint="Pass one, e.g. orders@3.")
        return self._cached(("dataset",), lambda: self.workspace.datasets.get(ref))

    @property
    def frame(self) -> pd.DataFrame:
        """The rows of the dataset version under test."""
        version = self.dataset_version
        ref = f"{version.name}@{version.version}"
        return self._cached(("frame",), lambda: self.workspace.datasets.load(ref))

    @property
    def profile(self) -> dict[str, Any]:
        """The stored statistics of the dataset version under test (``{}`` if none)."""
        return dict(self.dataset_version.profile or {})

    @property
    def reference_version(self) -> DatasetVersion | None:
        """The reference version: the one named, else the previous one, else ``None``."""

        def load() -> DatasetVersion | None:
            if self._reference_ref is not None:
                return self.workspace.datasets.get(self._reference_ref)
            if self._dataset_ref is None:
                return None
            current = self.dataset_version
            previous = current.parent_version or current.version - 1
            if previous < 1:
                return None
            return self.workspace.datasets.get(f"{current.name}@{previous}")

        return self._cached(("reference",), load)

    def _require_reference(self) -> DatasetVersion:
        version = self.reference_version
        if version is None:
            raise CheckError(
                "There is no reference dataset version to compare with "
                "(this is the first version).",
                hint="Name one with --reference NAME@V, or add a second version first.",
            )
        return version

    @property
    def reference_frame(self) -> pd.DataFrame:
        """The rows of the reference version (raises :class:`CheckError` without one)."""
        version = self._require_reference()
        ref = f"{version.name}@{version.version}"
        return self._cached(("reference_frame",), lambda: self.workspace.datasets.load(ref))

    @property
    def reference_profile(self) -> dict[str, Any]:
        """The stored statistics of the reference version."""
        return dict(self._require_reference().profile or {})

    # -- runs -----------------------------------------------------------------------------

    @property
    def run(self) -> Run:
        """The run under test."""
        run_id = self.run_id
        if run_id is None:
            raise CheckError("No run to check.", hint="Pass a run id, e.g. --run RUN_ID.")
        return self._cached(("run",), lambda: self.workspace.runs.get(run_id))

    # -- models ---------------------------------------------------------------------------

    @property
    def has_candidate(self) -> bool:
        """True when a candidate model was given."""
        return self._models["candidate"] is not None

    @property
    def has_champion(self) -> bool:
        """True when a champion exists to compare with."""
        return self._models["champion"] is not None

    @property
    def candidate_ref(self) -> str:
        """``name@version`` of the candidate."""
        return self._ref("candidate")

    @property
    def champion_ref(self) -> str | None:
        """``name@version`` of the champion, or ``None`` (first model)."""
        return self._ref("champion") if self.has_champion else None

    @property
    def candidate(self) -> LoadedModel:
        """The candidate, loaded from the registry (hash-verified) on first use."""
        return self.model("candidate")

    @property
    def champion(self) -> LoadedModel:
        """The champion, loaded on first use.

        Raises:
            CheckError: There is no champion.
            IntegrityError: The champion's artifact fails its integrity check.
        """
        return self.model("champion")

    @property
    def candidate_version(self) -> ModelVersion:
        """The registry record of the candidate."""
        return self.candidate.version

    def model(self, which: Which) -> LoadedModel:
        """The loaded ``candidate`` or ``champion`` (a load failure is raised every time)."""
        given = self._models[which]
        if given is None:
            raise CheckError(
                f"There is no {which} model in this evaluation.",
                hint="Register a model and pass it (or set the champion alias).",
                which=which,
            )
        if not isinstance(given, str):
            return given

        def load() -> LoadedModel:
            loaded = self.workspace.models.load(given)
            self._owned.append(loaded)
            return loaded

        return self._cached(("model", which), load)

    def _ref(self, which: Which) -> str:
        given = self._models[which]
        if given is None:
            return ""
        if isinstance(given, str):
            if "@" in given and given.rsplit("@", 1)[1].isdigit():
                return given
            return self.model(which).version.ref
        return given.version.ref

    # -- holdout and predictions ----------------------------------------------------------

    @property
    def holdout(self) -> pd.DataFrame:
        """The evaluation frame (raises :class:`CheckError` when missing or empty)."""
        if self._holdout is None:
            raise CheckError(
                "No holdout frame was given to evaluate the model on.",
                hint="Set evaluation.holdout_step/holdout_output in conveyor.yaml.",
            )
        if len(self._holdout) == 0:
            raise CheckError(
                "The holdout frame is empty (0 rows): nothing to evaluate the model on.",
                hint="Check the split step: it must leave rows for evaluation.",
            )
        return self._holdout

    @property
    def features(self) -> pd.DataFrame:
        """What the model sees: the holdout without the target column and, when the
        candidate has a signature, only its input columns in signature order (so slice and
        sensitive columns the model was not trained on can live in the holdout)."""
        frame = self.holdout
        target = self.target
        if target is not None and target in frame.columns:
            frame = frame.drop(columns=[target])
        inputs = self._signature_inputs()
        if inputs and all(name in frame.columns for name in inputs):
            return frame[inputs]
        return frame

    def _signature_inputs(self) -> list[str]:
        given = self._models["candidate"]
        if given is None:
            return []
        try:
            signature = self.candidate_version.signature or {}
        except ConveyorError:  # the load error surfaces where the model is used
            return []
        return [str(col["name"]) for col in signature.get("inputs") or [] if "name" in col]

    @property
    def labels(self) -> pd.Series[Any]:
        """The holdout's target column.

        Raises:
            CheckError: No target is declared, or the holdout has no such column.
        """
        frame = self.holdout
        if self.target is None or self.target not in frame.columns:
            raise CheckError(
                f"The target column {self.target!r} is not in the holdout "
                f"(columns: {', '.join(map(str, frame.columns))}).",
                hint="Set evaluation.target in conveyor.yaml to the label column.",
                target=self.target,
            )
        return frame[self.target]

    def require_columns(self, columns: Sequence[str], *, what: str) -> None:
        """Raise :class:`CheckError` naming each of ``columns`` missing from the holdout."""
        available = list(map(str, self.holdout.columns))
        missing = [c for c in columns if c not in available]
        if missing:
            raise CheckError(
                f"The {what} column(s) {', '.join(map(repr, missing))} are not in the holdout "
                f"(columns: {', '.join(available)}).",
                hint=f"Fix the {what} list in the evaluation section of conveyor.yaml.",
                missing=missing,
            )

    def predictions(self, which: Which = "candidate") -> np.ndarray[Any, Any]:
        """The model's predictions on :attr:`features`, computed once per suite."""

        def compute() -> np.ndarray[Any, Any]:
            self.prediction_calls[which] += 1
            return np.asarray(self.model(which).predict(self.features))

        return self._cached(("predictions", which), compute)

    def probabilities(self, which: Which = "candidate") -> np.ndarray[Any, Any] | None:
        """Class probabilities on :attr:`features` (``None`` if the model has none); cached."""

        def compute() -> np.ndarray[Any, Any] | None:
            predictor = self.model(which).predictor
            proba = getattr(predictor, "predict_proba", None)
            if not callable(proba):
                return None
            return np.asarray(proba(self.features))

        return self._cached(("probabilities", which), compute)

    def positive_scores(self, which: Which = "candidate") -> np.ndarray[Any, Any] | None:
        """The probability of :attr:`positive_label` (else of the last class), or ``None``."""
        proba = self.probabilities(which)
        if proba is None:
            return None
        if proba.ndim == 1:
            return proba
        column = proba.shape[1] - 1
        classes = getattr(self.model(which).predictor, "classes_", None)
        if classes is not None and self.positive_label is not None:
            matches = [i for i, c in enumerate(list(classes)) if c == self.positive_label]
            column = matches[0] if matches else column
        return proba[:, column]

    # -- lifecycle ------------------------------------------------------------------------

    def _cached(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        hit = self._cache.get(key, _MISSING)
        if hit is _MISSING:
            hit = load()
            self._cache[key] = hit
        return hit  # type: ignore[no-any-return]

    def close(self) -> None:
        """Release the models this context loaded (their temporary files)."""
        for loaded in self._owned:
            loaded.close()
        self._owned.clear()

    def __enter__(self) -> CheckContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
