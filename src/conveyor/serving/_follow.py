"""Following an environment's deployment: load new variants in the background, swap at once.

A :class:`DeploymentFollower` polls the environment's current deployment (every second by
default). When the revision changes it loads the versions it does not hold yet, in its own
thread, then publishes the deployment with every variant labelled by role and revision in
one assignment (:meth:`ModelHost.serve_deployment`): requests never wait for a load and
never see half a revision. A live variant that fails to load keeps the previous revision
serving (logged, counted in ``conveyor_model_load_failures``, readiness unchanged) and is
retried after ``retry_s``; a variant without traffic (a shadow or warm standby) that fails
is left out and reported the same way. Every rollout transition the follower takes up (a
canary step, a pause, a promotion, a rollback), also those between two polls, is logged
with its action, states and recorded reason.

With several worker processes (``conveyor serve --workers N``) each worker follows on its
own, but they switch together through a :class:`SwitchBoard`, a folder the launcher
creates. A worker that has loaded a new revision first stages it in its host
(:meth:`ModelHost.stage_deployment`), gated on the revision's switch file, then leaves a
ready marker and waits. When all N are ready, the first to see it creates the switch file
(atomically; one file per revision). A worker's first revision is agreed on the same way
(a worker that starts, or restarts, after a new deployment does not answer with it before
the others do; once a revision has switched, a worker that loads it later serves it at
once). Every request checks the gate while a revision is
staged, so the moment the file exists every worker answers with the new revision, whether
or not its follower thread has woken up yet: once any answer from the new revision has
left, no request that arrives later gets the old one. A worker still not ready after
``timeout_s`` (a failed load) does not hold the others back: the ready ones switch alone,
say so in the log, and the late one switches as soon as it is ready.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from conveyor.serving._host import ModelHost
from conveyor.serving._metrics import ServerMetrics
from conveyor.serving._model import ServedModel

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from conveyor.deployments import Deployment, Transition, Variant

_log = logging.getLogger("conveyor.serving")
VersionKey = tuple[str, int]


@dataclasses.dataclass(frozen=True)
class LoadFailure:
    """A version the deployment asked for that could not be loaded.

    Attributes:
        model: Model name.
        version: Version number.
        revision: The deployment revision that asked for it.
        error: What failed.
        at: ``time.monotonic()`` of the attempt (drives the retry delay).
    """

    model: str
    version: int
    revision: int
    error: str
    at: float


class SwitchBoard:
    """Agrees with the other worker processes of a server on when to switch revisions.

    Thread safety: one follower thread per process calls :meth:`agree`; request threads
    call :meth:`switched` (one ``stat``). Processes coordinate through files in
    ``folder``: ready markers, then one switch file per revision, created atomically (the
    first writer wins; its existence is the switch).

    Args:
        folder: A folder only this server's processes use (the launcher creates it).
        workers: How many processes switch together.
        timeout_s: How long a ready process waits for the others before switching alone.
        poll_s: Time between looks at the folder while waiting.
    """

    def __init__(
        self, folder: Path, workers: int, *, timeout_s: float = 30.0, poll_s: float = 0.005
    ) -> None:
        self.folder = Path(folder)
        self.workers = workers
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # this process's markers

    def gate(self, environment: str, revision: int) -> Callable[[], bool]:
        """A check that turns true (and stays true) once ``revision`` has switched."""
        switch = self.folder / f"{_stem(environment, revision)}.switch"
        return lambda: os.path.exists(switch)

    def switched(self, environment: str, revision: int) -> bool:
        """True once the processes have switched to ``revision``."""
        return self.gate(environment, revision)()

    def agree(self, environment: str, revision: int, stop: threading.Event | None = None) -> bool:
        """Say this process is ready for ``revision``; return once the revision has switched.

        Stage the revision (gated on :meth:`gate`) before calling this: the switch can
        happen the moment the last marker is written.

        Returns:
            True once switched; False when ``stop`` was set first (nothing is published).
        """
        stem = _stem(environment, revision)
        (self.folder / f"{stem}.ready.{self._token}").touch()
        deadline = time.monotonic() + self.timeout_s
        while True:
            if (self.folder / f"{stem}.switch").exists():
                return True
            ready = _live_markers(self.folder.glob(f"{stem}.ready.*"))
            if ready >= self.workers:
                self._publish(stem)
                return True
            if stop is not None and stop.is_set():
                return False
            if time.monotonic() >= deadline:
                _log.warning(
                    "Deployment %r revision %d: only %d of %d workers loaded it after %.0f s; "
                    "this worker switches alone (the others switch once they are ready).",
                    environment,
                    revision,
                    ready,
                    self.workers,
                    self.timeout_s,
                )
                self._publish(stem)
                return True
            time.sleep(self.poll_s)

    def _publish(self, stem: str) -> None:
        """Create the switch file unless another process did (its content is for people)."""
        draft = self.folder / f"{stem}.switch.{self._token}"
        draft.write_text(f"{time.time()!r} {self._token}\n", encoding="ascii")
        try:
            os.link(draft, self.folder / f"{stem}.switch")  # atomic, fails if it exists
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)


def _stem(environment: str, revision: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', environment)}-r{revision}"


def _live_markers(markers: Iterable[Path]) -> int:
    """How many processes the ready markers stand for, leaving out those that have exited.

    A marker's suffix is ``<pid>-<random>``: a worker that died after saying it was ready
    (uvicorn starts another in its place) no longer counts. A suffix without a pid counts.
    """
    live = 0
    for marker in markers:
        head = marker.name.rpartition(".")[2].partition("-")[0]
        if head.isdigit():
            try:
                os.kill(int(head), 0)  # signal 0: only asks whether the process exists
            except (ProcessLookupError, OverflowError):  # gone, or no pid at all
                continue
            except PermissionError:
                pass  # it exists, under another user
        live += 1
    return live


class DeploymentFollower:
    """Keeps a host serving what an environment's deployment says.

    Thread safety: one background thread polls and loads; readers use ``host.state``
    and the read-only properties.

    Args:
        host: The host to publish to.
        environment: The environment followed (labels and messages).
        current: Returns the environment's current deployment (``None``: never deployed).
        load: Loads one variant's version (``model``, ``version``) as a ``ServedModel``.
        metrics: Counts load failures.
        history: Returns the environment's recorded transitions (their reasons are logged
            when the follower takes up their revisions).
        interval_s: Time between polls.
        retry_s: Time before a version that failed to load is tried again.
        switch: Agrees with the server's other worker processes on when a new revision
            takes over (``None``: one process, it takes over as soon as it is loaded).

    Example:
        >>> current = lambda: ws.deployments.current("production")  # doctest: +SKIP
        >>> DeploymentFollower(host, "production", current, load).start()  # doctest: +SKIP
    """

    def __init__(
        self,
        host: ModelHost,
        environment: str,
        current: Callable[[], Deployment | None],
        load: Callable[[str, int], ServedModel],
        *,
        metrics: ServerMetrics | None = None,
        history: Callable[[], Sequence[Transition]] | None = None,
        interval_s: float = 1.0,
        retry_s: float = 30.0,
        switch: SwitchBoard | None = None,
    ) -> None:
        self.host = host
        self.switch = switch
        self._history = history
        self.environment = environment
        self._current = current
        self._load = load
        self.metrics = metrics
        self.interval_s = interval_s
        self.retry_s = retry_s
        self._loaded: dict[VersionKey, ServedModel] = {}
        self._failures: dict[VersionKey, LoadFailure] = {}
        self._applied: Deployment | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def applied(self) -> Deployment | None:
        """The deployment revision being served (``None`` before the first one loads)."""
        return self._applied

    @property
    def failures(self) -> list[LoadFailure]:
        """Versions that failed to load and were not loaded since."""
        return list(self._failures.values())

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="conveyor-follow", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop polling (a load in progress finishes first, up to ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the server keeps serving; the next poll retries
                _log.exception("Following deployment %r failed; retrying.", self.environment)
            self._stop.wait(self.interval_s)

    def poll(self) -> bool:
        """Read the current deployment once and serve it if it changed and can be loaded.

        Returns:
            True when a new revision was published.
        """
        deployment = self._current()
        if deployment is None:
            return False
        applied = self._applied
        if applied is not None and applied.revision == deployment.revision:
            return False
        models: dict[str, ServedModel] = {}
        for variant in deployment.variants:
            base = self._version(variant, deployment.revision)
            if base is None:
                if variant.weight > 0:
                    return False  # the previous revision keeps serving
                continue
            models[variant.role] = dataclasses.replace(
                base, variant=variant.role, revision=str(deployment.revision)
            )
        if self.switch is None:
            self.host.serve_deployment(deployment, models)
        else:
            # Staged first: the switch may happen as soon as this worker says it is ready.
            # A worker's first revision goes through the switchboard too: a worker still
            # starting when a new revision was deployed must not answer with it while the
            # others still answer with the one before.
            gate = self.switch.gate(self.environment, deployment.revision)
            self.host.stage_deployment(deployment, models, gate)
            if not self.switch.agree(self.environment, deployment.revision, self._stop):
                return False  # stopping
            self.host.adopt_staged()
        self._applied = deployment
        wanted = {(v.model, v.version) for v in deployment.variants}
        self._loaded = {key: model for key, model in self._loaded.items() if key in wanted}
        self._log_transitions(None if applied is None else applied.revision, deployment)
        _log.info("Serving %s: %s", self.environment, deployment.describe())
        return True

    def _log_transitions(self, since: int | None, deployment: Deployment) -> None:
        """Log the transitions after revision ``since`` up to the one now served."""
        if self._history is None:
            return
        try:
            transitions = list(self._history())
        except Exception:  # noqa: BLE001 - logging the reasons never stops serving
            _log.exception("Reading the transitions of %r failed.", self.environment)
            return
        first = deployment.revision if since is None else since + 1
        for transition in transitions:
            if first <= transition.revision <= deployment.revision:
                _log.info(
                    "Deployment %r revision %d: %s (%s -> %s): %s",
                    self.environment,
                    transition.revision,
                    transition.action,
                    transition.from_state or "none",
                    transition.to_state,
                    transition.reason,
                )

    def _version(self, variant: Variant, revision: int) -> ServedModel | None:
        key = (variant.model, variant.version)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        failure = self._failures.get(key)
        if failure is not None and time.monotonic() - failure.at < self.retry_s:
            return None
        try:
            loaded = self._load(variant.model, variant.version)
        except Exception as exc:  # noqa: BLE001 - reported; the served revision stays
            message = f"{type(exc).__name__}: {exc}"
            self._failures[key] = LoadFailure(*key, revision, message, time.monotonic())
            _log.error(
                "Deployment %r revision %d: %s (%s) failed to load: %s. %s",
                self.environment,
                revision,
                variant.ref,
                variant.role,
                message,
                "The served revision keeps serving." if variant.weight > 0 else "Left out.",
            )
            if self.metrics is not None:
                self.metrics.load_failure(self.environment, variant.model, str(variant.version))
            return None
        self._failures.pop(key, None)
        self._loaded[key] = loaded
        return loaded


class DeploymentCollector(Collector):
    """``/metrics`` gauges of the served deployment, read at scrape time."""

    def __init__(self, follower: DeploymentFollower) -> None:
        self._follower = follower

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        follower = self._follower
        deployment = follower.applied
        revision = GaugeMetricFamily(
            "conveyor_deployment_revision",
            "Deployment revision served (0 before the first one loaded).",
            labels=("environment",),
        )
        revision.add_metric(
            (follower.environment,), 0 if deployment is None else deployment.revision
        )
        yield revision
        weights = GaugeMetricFamily(
            "conveyor_deployment_weight",
            "Percent of live traffic routed to each variant of the served revision.",
            labels=("environment", "role", "model", "version"),
        )
        for variant in () if deployment is None else deployment.variants:
            labels = (follower.environment, variant.role, variant.model, str(variant.version))
            weights.add_metric(labels, variant.weight)
        yield weights
        failing = GaugeMetricFamily(
            "conveyor_model_load_failing",
            "1 for each version the deployment asks for that currently fails to load.",
            labels=("environment", "model", "version"),
        )
        for failure in follower.failures:
            failing.add_metric((follower.environment, failure.model, str(failure.version)), 1)
        yield failing


class ReportCollector(Collector):
    """``/metrics`` gauges of the latest monitoring report (drift scores, share, metric).

    The report is read at most every ``refresh_s`` seconds; a failing read keeps the last
    gauges (scraping never fails because the metadata store is slow).

    Args:
        latest: Returns the newest report (with ``gauges() -> [(name, labels, value)]``).
        refresh_s: Time between reads.
    """

    def __init__(self, latest: Callable[[], Any], *, refresh_s: float = 15.0) -> None:
        self._latest = latest
        self._refresh_s = refresh_s
        self._read_at = -float("inf")
        self._samples: list[tuple[str, dict[str, str], float]] = []

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        if now - self._read_at >= self._refresh_s:
            self._read_at = now
            try:
                report = self._latest()
                self._samples = [] if report is None else list(report.gauges())
            except Exception:  # noqa: BLE001 - keep the previous gauges
                _log.exception("Reading the latest monitoring report failed.")
        families: dict[str, GaugeMetricFamily] = {}
        for name, labels, value in self._samples:
            family = families.get(name)
            if family is None:
                family = families[name] = GaugeMetricFamily(
                    name,
                    _REPORT_HELP.get(name, "From the latest monitoring report."),
                    labels=sorted(labels),
                )
            family.add_metric([labels[key] for key in sorted(labels)], value)
        yield from families.values()


_REPORT_HELP = {
    "conveyor_drift_score": "Drift score per feature in the latest monitoring report.",
    "conveyor_drift_share": "Share of drifted features in the latest monitoring report.",
    "conveyor_model_metric": "Model metric on labelled traffic in the latest report.",
}
