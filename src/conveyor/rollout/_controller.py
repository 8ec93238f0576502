"""The deployment controller: starts rollouts and moves them on, one recorded transition each."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.checks import latest_decision
from conveyor.config import EnvironmentConfig
from conveyor.deployments import (
    IN_PROGRESS_STATES,
    STRATEGIES,
    ConcurrentDeploymentError,
    Deployment,
    DeploymentError,
    DeploymentStore,
)
from conveyor.errors import ConveyorError, InvalidNameError
from conveyor.registry import validate_alias
from conveyor.rollout import _plans as plans
from conveyor.rollout import _rollout, _tick
from conveyor.rollout._analyzer import Analyzer, LogAnalyzer
from conveyor.rollout._errors import (
    DeploymentInProgressError,
    DeployRefusedError,
    EnvironmentNotFoundError,
    GateRejectedError,
    NothingToDoError,
    SignatureRequiredError,
)

if TYPE_CHECKING:
    from conveyor.notify import BaseNotifier
    from conveyor.workspace import Workspace

_log = logging.getLogger("conveyor.rollout")
#: The alias gates compare against; it follows ``evaluation.champion_env`` only.
CHAMPION = "champion"


class Controller:
    """Starts, advances, promotes and rolls back deployments of configured environments.

    Every decision is one :meth:`DeploymentStore.transition` under optimistic concurrency,
    so the controller keeps no state of its own: a new instance (after a crash or restart)
    continues from the persisted revision with the exact weights, and of two controllers
    acting on the same revision only one succeeds (the other gets
    :class:`~conveyor.deployments.ConcurrentDeploymentError`; :meth:`tick` treats that as
    "someone else acted" and returns the fresh state). Safe to share between threads.

    Args:
        ws: The workspace (configuration, registry, gate decisions, prediction log).
        clock: Seconds since the epoch; a virtual clock makes rollouts rehearsable.
        analyzer: Statistics source and judge for canary and shadow analysis.
        notifier: Receives ``deploy.<action>`` events after each transition (default
            ``ws.notifier()``: the configured webhooks, else the ``conveyor.notify`` log).
        deployments: The deployment records (default ``ws.deployments``).

    Example:
        >>> controller = Controller(ws)  # doctest: +SKIP
        >>> controller.deploy("churn@4", "production", strategy="canary").state  # doctest: +SKIP
        'progressing'
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        clock: Callable[[], float] = time.time,
        analyzer: Analyzer | None = None,
        notifier: BaseNotifier | None = None,
        deployments: DeploymentStore | None = None,
    ) -> None:
        self.ws = ws
        self.clock = clock
        self.analyzer: Analyzer = analyzer or LogAnalyzer()
        self.notifier: BaseNotifier = ws.notifier() if notifier is None else notifier
        self.deployments: DeploymentStore = deployments or ws.deployments

    def environment(self, env: str) -> EnvironmentConfig:
        """The configuration of ``env``.

        Raises:
            EnvironmentNotFoundError: ``env`` is not under ``environments:``.
        """
        known = self.ws.settings.config.environments
        if env not in known:
            raise EnvironmentNotFoundError(
                f"Environment {env!r} is not configured. Environments: "
                f"{', '.join(sorted(known)) or 'none'}.",
                hint=f"Declare it under `environments:` in conveyor.yaml, e.g. "
                f"`environments: {{{env}: {{strategy: canary}}}}`.",
                environment=env,
                environments=sorted(known),
            )
        return known[env]

    def status(self, env: str) -> Deployment | None:
        """The current deployment of a configured environment (``None``: never deployed)."""
        self.environment(env)
        return self.deployments.current(env)

    def deploy(
        self,
        ref: str,
        env: str,
        *,
        strategy: str | None = None,
        steps: Sequence[int] | None = None,
        force_reason: str | None = None,
    ) -> Deployment:
        """Deploy model version ``ref`` to ``env`` with a strategy.

        Args:
            ref: ``name@version`` or ``name@alias``.
            env: A configured environment.
            strategy: ``replace``, ``blue-green``, ``canary``, ``shadow`` or ``ab``
                (default: the environment's).
            steps: Canary steps in percent (default: the environment's).
            force_reason: Deploy despite a REJECT gate decision; recorded.

        Returns:
            The new deployment (``awaiting_approval`` where approval is required).

        Raises:
            EnvironmentNotFoundError: unknown environment.
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.
            DeployRefusedError: archived version, already serving, bad strategy or steps.
            DeploymentInProgressError: a rollout is under way there (its state is shown).
            GateRejectedError: the gate said REJECT and no ``force_reason`` was given.
            SignatureRequiredError: ``env`` has ``require_signature`` and the version has
                no valid signature by a key under ``signing.public_keys`` (no
                ``force_reason`` lifts it).
            VersionNotReadyError: the version does not load or fails its smoke prediction.
        """
        cfg = self.environment(env)
        version = self.ws.models.get(ref)
        if version.status == "archived":
            raise DeployRefusedError(
                f"Version {version.ref} is archived and cannot be deployed.",
                hint=f"Deploy a ready version; see `conveyor models show {version.name}`.",
                ref=version.ref,
            )
        current = self.deployments.current(env)
        if current is not None and current.in_progress:
            raise DeploymentInProgressError(
                f"Environment {env!r} already has a rollout in progress: {current.describe()}.",
                hint=f"Wait for it, or run `conveyor promote --env {env}` or "
                f"`conveyor rollback --env {env}` first.",
                environment=env,
                revision=current.revision,
                state=current.state,
            )
        chosen = strategy or cfg.strategy
        if chosen not in STRATEGIES:
            raise DeployRefusedError(
                f"Unknown strategy {chosen!r}.",
                hint=f"Use one of {', '.join(STRATEGIES)}.",
                strategy=chosen,
            )
        chosen_steps = plans.check_steps(steps if steps is not None else cfg.steps)
        serving = plans.incumbent_of(current)
        if current is not None and serving is not None and serving.ref == version.ref:
            raise DeployRefusedError(
                f"{version.ref} already serves {env!r} ({current.describe()}).",
                hint="Register and deploy a new version.",
                ref=version.ref,
                environment=env,
            )
        self._check_gate(version.ref, force_reason)
        self.check_signature(version.ref, env, cfg)
        plan: dict[str, Any] = {
            "model": version.name,
            "version": version.version,
            "strategy": chosen,
            "steps": list(chosen_steps),
            "force_reason": force_reason,
        }
        if cfg.requires_approval:
            return _rollout.await_approval(self, env, current, plan)
        return _rollout.start(self, env, cfg, current, plan, action="deploy")

    def approve(self, env: str, *, reason: str = "approved") -> Deployment:
        """Start the rollout waiting for approval in ``env``.

        Raises:
            NothingToDoError: nothing awaits approval there.
            VersionNotReadyError: the pending version does not load or predict.
        """
        cfg = self.environment(env)
        current = self.deployments.current(env)
        if current is None or current.state != "awaiting_approval":
            raise NothingToDoError(
                f"Nothing awaits approval in {env!r} ({_shown(current)}).",
                hint=f"Run `conveyor deploy NAME@REF --env {env}` first.",
                environment=env,
            )
        plan = dict(current.params["pending"])
        self.check_signature(f"{plan['model']}@{plan['version']}", env, cfg)
        return _rollout.start(self, env, cfg, current, plan, action="approve", reason=reason)

    def promote(self, env: str, *, reason: str) -> Deployment:
        """Make the rollout's new version the only live one (and move ``env``'s aliases).

        Raises:
            NothingToDoError: no canary, shadow or A/B rollout is in progress in ``env``.
        """
        self.environment(env)
        current = self.deployments.current(env)
        if current is None:
            raise NothingToDoError(
                f"Nothing to promote in {env!r}: it was never deployed.",
                hint=f"Start a rollout with `conveyor deploy NAME@REF --env {env}`.",
                environment=env,
            )
        return self.promote_from(current, reason=reason)

    def promote_from(
        self, current: Deployment, *, reason: str, details: Mapping[str, Any] | None = None
    ) -> Deployment:
        """Promote exactly revision ``current`` (fails if the environment moved on).

        Raises:
            NothingToDoError: no rollout in progress there.
            SignatureRequiredError: the environment requires a signature and the candidate
                has no valid one from a configured key (the keys may have changed since
                the rollout started).
        """
        env = current.environment
        candidate = plans.candidate_of(current)
        if current.state not in ("progressing", "paused") or candidate is None:
            raise NothingToDoError(
                f"Nothing to promote in {env!r}: no rollout in progress ({_shown(current)}).",
                hint=f"Start one with `conveyor deploy NAME@REF --env {env} --strategy canary`.",
                environment=env,
                state=current.state,
            )
        self.check_signature(f"{candidate.model}@{candidate.version}", env, self.environment(env))
        deployment = self.write(
            env,
            current,
            action="promote",
            reason=reason,
            state="promoted",
            variants=plans.sole(candidate.model, candidate.version),
            step_started_at=self.now(),
            details=details,
        )
        self.move_champion(candidate.model, candidate.version, env)
        return deployment

    def rollback(self, env: str, *, to_revision: int | None = None, reason: str) -> Deployment:
        """Restore the last stable state (or revision ``to_revision``) in one transition.

        Raises:
            NothingToDoError: nothing stable came before, or ``to_revision`` is current.
            DeploymentNotFoundError: no such revision.
            DeploymentError: ``to_revision`` was a rollout in progress, not a stable state.
        """
        self.environment(env)
        current = self.deployments.current(env)
        if current is None:
            raise NothingToDoError(
                f"Nothing to roll back in {env!r}: it was never deployed.",
                hint=f"Deploy with `conveyor deploy NAME@REF --env {env}`.",
                environment=env,
            )
        return self.rollback_from(current, to_revision=to_revision, reason=reason)

    def rollback_from(
        self,
        current: Deployment,
        *,
        to_revision: int | None = None,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """Roll back exactly revision ``current`` (fails if the environment moved on)."""
        env = current.environment
        target_revision = current.stable_revision if to_revision is None else to_revision
        if target_revision is None or target_revision == current.revision:
            raise NothingToDoError(
                f"Nothing to roll back to in {env!r}: no earlier stable state ({_shown(current)}).",
                hint=f"See `conveyor deployments history --env {env}` for earlier revisions.",
                environment=env,
            )
        target = self.deployments.get(env, target_revision)
        if target.state in IN_PROGRESS_STATES:
            raise DeploymentError(
                f"Revision {target_revision} of {env!r} was a rollout in progress "
                f"({target.describe()}), not a stable state.",
                hint="Pick a revision whose state is stable, promoted or rolled_back.",
                environment=env,
                revision=target_revision,
            )
        deployment = self.write(
            env,
            current,
            action="rollback",
            reason=reason,
            state="rolled_back",
            strategy=target.strategy,
            variants=target.variants,
            steps=target.steps,
            step_index=0,
            step_started_at=self.now(),
            stable_revision=target.stable_revision,
            params={"restored_revision": target_revision, "rolled_back_from": current.revision},
            details={"restored_revision": target_revision, **dict(details or {})},
        )
        restored = plans.incumbent_of(deployment)
        if restored is not None:
            self.move_champion(restored.model, restored.version, env)
        return deployment

    def pause(self, env: str, *, reason: str = "paused") -> Deployment:
        """Freeze a progressing rollout at its current weights."""
        return self._toggle(env, "progressing", "paused", "pause", reason)

    def resume(self, env: str, *, reason: str = "resumed") -> Deployment:
        """Let a paused rollout progress again (the current step's clock restarts)."""
        return self._toggle(env, "paused", "progressing", "resume", reason)

    def tick(self, env: str, *, stats: Mapping[str, Any] | None = None) -> Deployment | None:
        """Evaluate the environment once and apply at most one transition (idempotent).

        For a progressing canary or shadow whose current step has lasted
        ``min_step_duration_s`` and whose challenger served ``min_requests`` in it, the
        analysis judges the statistics accumulated since the rollout started: ``fail``
        rolls back (reason: the evidence, labels, errors or latency), ``pass`` advances the
        canary or, at its last step (and for a shadow), promotes; ``hold`` pauses it to
        wait for labels (prediction divergence beyond what the gate expected);
        ``continue`` changes nothing. A rollout the analysis paused is evaluated again, so
        labels decide it; A/B splits, rollouts paused by an operator and stable
        deployments are left alone.

        Args:
            env: The environment.
            stats: Per-role statistics (``champion`` and ``challenger`` or ``shadow``) to
                judge instead of reading the prediction log.

        Returns:
            The deployment after the evaluation (``None``: never deployed).
        """
        current = self.deployments.current(env)
        if current is None or not _tick.evaluates(current):
            return current
        try:
            return _tick.evaluate(self, current, stats)
        except ConcurrentDeploymentError:
            return self.deployments.current(env)

    def run_loop(
        self, envs: Iterable[str], *, interval_s: float = 1.0, stop: threading.Event
    ) -> None:
        """Call :meth:`tick` on every environment every ``interval_s`` until ``stop`` is set.

        Errors are logged and the loop goes on: a failing analysis must not stop the
        server that hosts the loop.
        """
        names = list(envs)
        while not stop.is_set():
            for env in names:
                try:
                    self.tick(env)
                except ConveyorError as exc:
                    _log.warning("Deployment controller tick for %r failed: %s", env, exc)
            stop.wait(interval_s)

    # -- used by the rollout and tick modules ----------------------------------------------

    def now(self) -> datetime:
        """The controller clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def write(
        self,
        env: str,
        current: Deployment | None,
        *,
        action: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
        **changes: Any,
    ) -> Deployment:
        """Record one transition based on ``current`` and announce it."""
        deployment = self.deployments.transition(
            env,
            expected_revision=None if current is None else current.revision,
            action=action,
            reason=reason,
            details=dict(details or {}),
            at=self.now(),
            **changes,
        )
        payload = {**deployment.to_dict(), "action": action, "reason": reason}
        try:
            self.notifier.send(f"deploy.{action}", payload)
        except Exception:  # noqa: BLE001 - an announcement must never undo or block a rollout
            _log.exception("Could not announce deploy.%s for %r", action, env)
        return deployment

    def move_champion(self, model: str, version: int, env: str) -> None:
        """Point ``env``'s aliases at the version now serving it at 100 %.

        Each environment moves only its own alias (``churn@production``,
        ``churn@staging``); the ``champion`` alias, which gates compare against, follows
        only the environment named by ``evaluation.champion_env``. Both move in one
        transaction, and the recorded reason names the environment, so
        ``conveyor models history`` shows which environment moved what.
        """
        aliases = [] if env == CHAMPION else [env]
        if env == self.ws.settings.config.evaluation.champion_env:
            aliases.append(CHAMPION)
        try:
            validate_alias(env)
        except InvalidNameError:
            # An environment named like a version ("1", "latest") cannot have an alias.
            _log.warning("Environment %r cannot name an alias; only champion moves.", env)
            aliases = [a for a in aliases if a != env]
        self.ws.models.set_aliases(
            model, version, aliases, reason=f"environment {env!r} serves it at 100%"
        )

    def check_signature(self, ref: str, env: str, cfg: EnvironmentConfig) -> None:
        """Refuse ``ref`` in ``env`` when the environment requires a signature it lacks.

        Raises:
            SignatureRequiredError: ``cfg.require_signature`` and no key under
                ``signing.public_keys`` signed ``ref`` validly.
        """
        if not cfg.require_signature:
            return
        keys = self.ws.settings.config.signing.public_keys
        check = self.ws.models.verify_signatures(ref, keys)
        if check.trusted:
            return
        configured = ", ".join(sorted(keys)) or "none configured"
        raise SignatureRequiredError(
            f"Environment {env!r} requires a signed version and {check.ref} has no valid "
            f"signature by a configured key ({check.describe()}; keys: {configured}).",
            hint=f"Sign it with `conveyor models sign {check.ref} --key KEYFILE --key-name "
            "NAME`, where NAME's public key is listed under `signing.public_keys` in "
            "conveyor.yaml (see docs/signing.md).",
            ref=check.ref,
            environment=env,
            signatures=[r.to_dict() for r in check.results],
        )

    def _check_gate(self, ref: str, force_reason: str | None) -> None:
        decision = latest_decision(self.ws, ref)
        if decision is None or decision.decision != "REJECT" or force_reason:
            return
        raise GateRejectedError(
            f"The gate rejected {ref}: {'; '.join(decision.reasons)}.",
            hint="Deploy a version the gate accepts, or pass --force-reason TEXT to deploy "
            "anyway (the reason is recorded).",
            ref=ref,
            reasons=list(decision.reasons),
        )

    def _toggle(self, env: str, source: str, target: str, action: str, reason: str) -> Deployment:
        self.environment(env)
        current = self.deployments.current(env)
        if current is None or current.state != source:
            raise NothingToDoError(
                f"Cannot {action} {env!r}: it is not {source} ({_shown(current)}).",
                hint=f"Run `conveyor deployments status --env {env}`.",
                environment=env,
            )
        return self.write(
            env, current, action=action, reason=reason, state=target, step_started_at=self.now()
        )


def _shown(current: Deployment | None) -> str:
    return "never deployed" if current is None else current.describe()
