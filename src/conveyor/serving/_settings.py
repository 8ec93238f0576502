"""Serving settings: limits and input policies, read once at the entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from conveyor.serving._errors import ServingConfigError

ExtraColumns = Literal["ignore", "reject"]
NonFinite = Literal["reject", "null"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServingSettings:
    """Limits and policies of the prediction server.

    Attributes:
        max_body_bytes: Largest request body accepted; larger ones get 413.
        max_batch_rows: Most rows in one request; more get 400.
        extra_columns: ``"ignore"`` drops columns the signature does not name;
            ``"reject"`` answers 400 listing them.
        non_finite: ``"reject"`` answers 422 to ``NaN``/``Infinity`` in a request;
            ``"null"`` reads them as missing values (accepted only in nullable columns).
            Responses are strict JSON either way: a non-finite prediction is sent as ``null``.
        micro_batch: Group concurrent single-row requests into one model call.
        micro_batch_max_size: Most rows in one micro-batch.
        micro_batch_max_wait_us: Longest a row waits for companions, in microseconds.
        inline_max_rows: Requests up to this many rows run on the event loop (a thread hop
            costs more than a small prediction); larger ones run in a worker thread.
        environment: Recorded with every logged prediction (``None`` outside deployments).
        log_predictions: Send every prediction to the prediction logger when one is given.
        prepare_explainers: Build each version's explainer while loading it, before it is
            ready (imports SHAP and loads the native model beside an ONNX twin: seconds
            and hundreds of MB). ``False`` (the default): on its first ``/v1/explain``
            request, which then waits for the build.
        body_timeout_s: Longest a request body may take to arrive; slower ones get 408.
        max_feedback_labels: Most labels in one ``/v1/feedback`` request; more get 400.
        recent_ids: How many answered request ids the server remembers, so that feedback
            sent before their predictions reach the log is accepted (not counted unknown).
        usage_interval_s: Seconds between writes of the server's usage record (CPU, memory,
            wall and busy time, predictions; see ``conveyor cost``); ``0``: only at shutdown.

    Example:
        >>> ServingSettings(max_batch_rows=100).max_batch_rows
        100
    """

    max_body_bytes: int = MIB
    max_batch_rows: int = 10_000
    extra_columns: ExtraColumns = "ignore"
    non_finite: NonFinite = "reject"
    micro_batch: bool = False
    micro_batch_max_size: int = 32
    micro_batch_max_wait_us: int = 500
    inline_max_rows: int = 256
    environment: str | None = None
    log_predictions: bool = True
    prepare_explainers: bool = False
    body_timeout_s: float = 30.0
    max_feedback_labels: int = 10_000
    recent_ids: int = 100_000
    usage_interval_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.body_timeout_s > 0:
            raise ServingConfigError(
                f"Serving setting body_timeout_s={self.body_timeout_s!r} must be positive.",
                hint="Pass the longest time in seconds a request body may take, e.g. 30.",
                setting="body_timeout_s",
            )
        for name in (
            "max_body_bytes",
            "max_batch_rows",
            "micro_batch_max_size",
            "max_feedback_labels",
        ):
            if getattr(self, name) < 1:
                raise ServingConfigError(
                    f"Serving setting {name}={getattr(self, name)!r} must be at least 1.",
                    hint=f"Pass a positive {name}.",
                    setting=name,
                )
        if not self.usage_interval_s >= 0:
            raise ServingConfigError(
                f"Serving setting usage_interval_s={self.usage_interval_s!r} must not be negative.",
                hint="Pass the seconds between usage records, or 0 to write one at shutdown.",
                setting="usage_interval_s",
            )
        if self.micro_batch_max_wait_us < 0 or self.inline_max_rows < 0 or self.recent_ids < 0:
            raise ServingConfigError(
                "Serving settings micro_batch_max_wait_us, inline_max_rows and recent_ids must "
                f"not be negative (got {self.micro_batch_max_wait_us}, {self.inline_max_rows}, "
                f"{self.recent_ids}).",
                hint="Pass 0 or a positive number.",
            )
        if self.extra_columns not in ("ignore", "reject"):
            raise ServingConfigError(
                f"Serving setting extra_columns={self.extra_columns!r} is not a policy.",
                hint="Use 'ignore' or 'reject'.",
                setting="extra_columns",
            )
        if self.non_finite not in ("reject", "null"):
            raise ServingConfigError(
                f"Serving setting non_finite={self.non_finite!r} is not a policy.",
                hint="Use 'reject' or 'null'.",
                setting="non_finite",
            )
