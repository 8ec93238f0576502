"""Running the training pipeline end to end on a sample of its data, in a scratch project.

The sample run must not touch the project's records: it gets its own temporary project
(SQLite and a local artifact folder) holding a seeded random sample of each table dataset
the real run read, and runs the pipeline there without the cache. The pipeline module is
imported from the real project, so the code under test is the code being reviewed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.pipelines import PipelineFailedError, load_pipeline

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

#: Variables that would point the scratch project's steps at the real stores.
STORE_VARIABLES = ("CONVEYOR_METADATA_URL", "CONVEYOR_ARTIFACT_URL")

_SCRATCH_CONFIG = """\
project:
  name: pipeline-sample
store:
  metadata_url: sqlite:///.conveyor/conveyor.db
  artifact_url: .conveyor/artifacts
"""


@dataclass(frozen=True)
class SampleRun:
    """How the pipeline fared on the sample.

    Attributes:
        status: ``completed``, ``failed`` or ``skipped``.
        rows: Rows per sampled dataset.
        steps: Step name -> status.
        failed_steps: Steps that failed.
        error: The failure (first failing step's error), or why the run was skipped.
        seconds: Wall-clock duration of the sample run.
    """

    status: str
    rows: dict[str, int] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)
    failed_steps: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0


def run_on_sample(
    ws: Workspace,
    pipeline_ref: str,
    datasets: Mapping[str, int],
    *,
    params: Mapping[str, Any] | None = None,
    rows: int = 200,
    seed: int = 0,
    env: Mapping[str, str] | None = None,
) -> SampleRun:
    """Run ``pipeline_ref`` on at most ``rows`` rows of each of ``datasets``.

    Args:
        ws: The real project (datasets are read from it; nothing is written to it).
        pipeline_ref: ``MODULE:PIPELINE`` relative to the project root.
        datasets: ``{name: version}`` to sample (tables are sampled, other kinds copied).
        params: Pipeline parameters.
        rows: Rows to keep per table.
        seed: Seed of the random sample.
        env: Environment to inspect for store overrides (default: the one the workspace's
            settings were read from).

    Returns:
        The outcome; a step failure is reported, not raised.
    """
    env = ws.settings.environ if env is None else env
    overridden = [name for name in STORE_VARIABLES if env.get(name)]
    if overridden:
        return SampleRun(
            "skipped",
            error=f"{', '.join(overridden)} is set, so the scratch project's steps would write "
            "to the shared store; unset it for this check to run.",
        )
    from conveyor.workspace import Workspace

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="conveyor-sample-") as tmp:
        root = Path(tmp)
        definitions = _copy_definitions(ws, root)
        config = _SCRATCH_CONFIG
        if definitions is not None:
            config += f"features:\n  definitions: {definitions!r}\n"
        (root / "conveyor.yaml").write_text(config, encoding="utf-8")
        with Workspace.open(root, search_parents=False, actor=ws.actor) as scratch:
            sizes, pins = _copy_sample(ws, scratch, datasets, rows=rows, seed=seed)
            if definitions is not None:
                _copy_feature_data(ws, scratch, pins)
            pipeline = load_pipeline(pipeline_ref, ws.root)
            try:
                # Pins make any reference the parameters hold (`cancer@7`) read the sample.
                result = pipeline.run(
                    scratch, params=dict(params or {}), cache=False, dataset_pins=pins
                )
            except PipelineFailedError as exc:
                failed = exc.result
                steps = {} if failed is None else {s.name: s.status for s in failed.steps.values()}
                bad = tuple(n for n, s in steps.items() if s == "failed")
                return SampleRun(
                    "failed",
                    sizes,
                    steps,
                    bad,
                    _first_error(exc),
                    time.perf_counter() - started,
                )
    return SampleRun(
        result.status,
        sizes,
        {s.name: s.status for s in result.steps.values()},
        seconds=time.perf_counter() - started,
    )


def _copy_definitions(ws: Workspace, root: Path) -> str | None:
    """Copy the project's feature definitions into the scratch project (if it has any)."""
    relative = ws.settings.config.features.definitions
    source = (ws.root / relative).resolve()
    if not source.is_file() or not source.is_relative_to(ws.root.resolve()):
        return None
    target = root / source.relative_to(ws.root.resolve())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return str(target.relative_to(root))


def _copy_feature_data(ws: Workspace, scratch: Workspace, pins: Mapping[str, int]) -> None:
    """Copy, in full, the dataset versions the applied feature views read now (a sample of
    a feature table would leave most entities without features), then apply the views."""
    views = ws.features.definitions().views.values()
    for name in sorted({view.dataset.partition("@")[0] for view in views}):
        if name in pins:
            continue  # already sampled as a dataset the pipeline reads
        record = ws.datasets.get(name)
        scratch.datasets.add(name, ws.datasets.load(record.ref))
    scratch.features.apply()


def _copy_sample(
    ws: Workspace, scratch: Workspace, datasets: Mapping[str, int], *, rows: int, seed: int
) -> tuple[dict[str, int], dict[str, int]]:
    sizes: dict[str, int] = {}
    pins: dict[str, int] = {}
    for name, version in sorted(datasets.items()):
        record = ws.datasets.get(f"{name}@{version}")
        if record.kind == "table":
            frame = ws.datasets.load(record.ref)
            if len(frame) > rows:
                frame = frame.sample(n=rows, random_state=seed).reset_index(drop=True)
            pins[name] = scratch.datasets.add(name, frame).version
            sizes[name] = len(frame)
        else:
            checkout = scratch.root / ".conveyor" / "sample-input" / name
            checkout.mkdir(parents=True)
            ws.datasets.checkout(record.ref, checkout, force=True)
            pins[name] = scratch.datasets.add(name, checkout).version
            sizes[name] = -1
    return sizes, pins


def _first_error(exc: PipelineFailedError) -> str:
    result = exc.result
    if result is not None:
        for step in result.steps.values():
            if step.status == "failed" and step.error:
                return f"step {step.name!r} failed: {step.error.strip().splitlines()[-1]}"
    return str(exc)
