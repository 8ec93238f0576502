"""The integration checks: the pipeline on a sample, the serving signature, the served answers.

They live in layer 4 because they exercise the layers a check may not import: the
pipeline runner (``pipeline_sample``) and the prediction server (``signature_serving``,
``serving_roundtrip``). The checks registry declares them as built-ins by name and imports
them from :mod:`conveyor.ci` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from conveyor.checks import Check, CheckParams, CheckResult
from conveyor.ci._roundtrip import serve_and_compare
from conveyor.ci._sample import run_on_sample
from conveyor.data import LockFile

if TYPE_CHECKING:
    from conveyor.checks import CheckContext


class PipelineSampleCheck(Check):
    """The training pipeline runs end to end on a sample of its data."""

    name = "pipeline_sample"
    subject_kind = "run"
    description = "The training pipeline runs end to end on a data sample."

    class Params(CheckParams):
        """``rows``: rows kept per dataset; ``seed``; ``params``: pipeline params."""

        rows: int = Field(default=200, ge=10)
        seed: int = 0
        params: dict[str, Any] | None = None

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Run the configured pipeline in a scratch project on ``rows`` sampled rows."""
        ws = ctx.workspace
        pipelines = ws.settings.config.pipelines
        ref = pipelines.training
        if not ref:
            return self.skip(ctx, "No training pipeline configured (pipelines.training).")
        run_params = dict(pipelines.params)
        run_params.update(params["params"] or {})
        run_id = ctx.run_id
        if run_id is not None:
            datasets = {d["name"]: int(d["version"]) for d in ws.runs.datasets(run_id)}
        else:
            datasets = {n: e.version for n, e in LockFile.load(ws.root).entries.items()}
        outcome = run_on_sample(
            ws, ref, datasets, params=run_params, rows=params["rows"], seed=params["seed"]
        )
        details = {
            "pipeline": str(ref),
            "rows": outcome.rows,
            "steps": outcome.steps,
            "seconds": round(outcome.seconds, 3),
        }
        if outcome.status == "skipped":
            return self.skip(ctx, outcome.error or "skipped")
        sampled = ", ".join(f"{n} ({r} rows)" for n, r in outcome.rows.items()) or "no datasets"
        if outcome.status != "completed":
            failed = ", ".join(outcome.failed_steps) or "?"
            return self.result(
                ctx,
                passed=False,
                value=len(outcome.failed_steps),
                threshold=0,
                explanation=f"Pipeline {ref} failed on a sample of {sampled}: step(s) "
                f"{failed} failed; {outcome.error}.",
                details={**details, "error": outcome.error},
            )
        return self.result(
            ctx,
            passed=True,
            value=0,
            threshold=0,
            explanation=f"Pipeline {ref} ran end to end ({len(outcome.steps)} steps) on a "
            f"sample of {sampled}.",
            details=details,
        )


class SignatureServingCheck(Check):
    """The model's signature matches the columns the serving path receives."""

    name = "signature_serving"
    subject_kind = "model"
    description = "The model signature matches the serving columns."

    class Params(CheckParams):
        """No params."""

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Compare the signature's inputs with the holdout's columns without the target."""
        from conveyor.registry.flavors import Signature, SignatureError

        version = ctx.candidate_version
        frame = ctx.features
        if not version.signature:
            return self.result(
                ctx,
                passed=False,
                explanation=f"Model {version.ref} has no signature, so serving cannot validate "
                "its inputs.",
            )
        signature = Signature.from_dict(version.signature)
        expected, received = signature.columns, [str(c) for c in frame.columns]
        missing = [c for c in expected if c not in received]
        extra = [c for c in received if c not in expected]
        details: dict[str, Any] = {"missing": missing, "extra": extra, "expected": expected}
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing from the serving input: {', '.join(missing)}")
            if extra:
                parts.append(f"not in the signature: {', '.join(extra)}")
            return self.result(
                ctx,
                passed=False,
                value=len(missing) + len(extra),
                threshold=0,
                explanation=f"Signature of {version.ref} does not match the serving columns "
                f"({'; '.join(parts)}).",
                details=details,
            )
        try:
            signature.validate(frame, extra="reject", check_nulls=False)
        except SignatureError as exc:
            return self.result(
                ctx,
                passed=False,
                value=1,
                threshold=0,
                explanation=f"Serving input does not fit the signature of {version.ref}: "
                f"{exc.message}",
                details={**details, "error": exc.message},
            )
        return self.result(
            ctx,
            passed=True,
            value=0,
            threshold=0,
            explanation=f"All {len(expected)} serving columns match the signature of "
            f"{version.ref} in name and type.",
            details=details,
        )


class ServingRoundtripCheck(Check):
    """The prediction server answers exactly what the model predicts directly."""

    name = "serving_roundtrip"
    subject_kind = "model"
    description = "Served predictions equal direct predictions."

    class Params(CheckParams):
        """``rows``: holdout rows to send; ``tolerance``: allowed numeric difference."""

        rows: int = Field(default=50, ge=1)
        tolerance: float = Field(default=1e-9, ge=0)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Serve the candidate in process; compare ``/v1/predict`` with ``predict``."""
        frame = ctx.features.head(params["rows"]).reset_index(drop=True)
        loaded = ctx.candidate
        ref = loaded.version.ref
        outcome = serve_and_compare(loaded, frame, tolerance=params["tolerance"])
        details: dict[str, Any] = {
            "rows": outcome.rows,
            "max_abs_diff": outcome.max_abs_diff,
            "status_code": outcome.status_code,
            "examples": outcome.examples,
        }
        if outcome.error is not None:
            return self.result(
                ctx,
                passed=False,
                value=outcome.mismatches,
                threshold=0,
                explanation=f"The prediction server did not answer for {ref}: "
                f"{outcome.error} (HTTP {outcome.status_code}).",
                details=details,
            )
        return self.result(
            ctx,
            passed=outcome.mismatches == 0,
            value=outcome.mismatches,
            threshold=0,
            explanation=f"{outcome.mismatches} of {outcome.rows} rows answered by /v1/predict "
            f"differ from direct predictions of {ref} (max abs diff {outcome.max_abs_diff:.3g}; "
            f"allowed {params['tolerance']:.3g}).",
            details=details,
        )
