"""The interface of the deployment records: what a backend must keep for rollouts.

:class:`DeploymentStore` holds the rules (what a transition may change, how the next
revision is built, who may write when); a backend only keeps what it is given and swaps the
current deployment of an environment under a compare-and-set on its revision.
"""

from __future__ import annotations

import abc

from conveyor.core import Actor
from conveyor.deployments._records import Deployment, Transition


class BaseDeploymentRecords(abc.ABC):
    """Where deployments live: the current one per environment and its transitions.

    Every environment has at most one current :class:`Deployment`; each change of it is one
    :class:`Transition`, appended (never updated in place) with the whole deployment it led
    to, so any past revision can be rebuilt. Revisions of an environment run 1, 2, 3, ...
    without gaps.

    Values come back exactly as they were written: weights, steps and parameters (floats
    included) are not rounded, so routing is the same after a restart. Times come back
    timezone-aware, in UTC. A transition's ``reason`` and ``details`` (and the deployment
    kept with it) are stored with secrets redacted (:func:`conveyor.core.redact_value`);
    the current deployment is stored as given.

    Thread safety: an implementation may be shared by threads and processes; writers of
    the same environment are serialised by :meth:`record_transition`'s compare-and-set.
    """

    @abc.abstractmethod
    def current(self, environment: str) -> Deployment | None:
        """Return the current deployment of ``environment``.

        Returns:
            The deployment at the environment's newest revision, or ``None`` if it never
            had one.
        """

    @abc.abstractmethod
    def environments(self) -> list[Deployment]:
        """Return the current deployment of every environment that has one.

        Returns:
            One deployment per environment, ordered by environment name.
        """

    @abc.abstractmethod
    def at_revision(self, environment: str, revision: int) -> Deployment:
        """Return the deployment of ``environment`` as it was at ``revision``.

        The deployment is rebuilt from what was kept with that revision's transition; its
        ``updated_at`` and ``actor`` are the transition's ``at`` and ``actor``, and its
        ``params`` are the redacted ones.

        Raises:
            DeploymentNotFoundError: the environment never reached ``revision`` (the
                message names the revisions it has).
        """

    @abc.abstractmethod
    def history(self, environment: str) -> list[Transition]:
        """Return every transition of ``environment``, oldest (revision 1) first.

        Returns:
            The transitions as recorded (redacted ``reason`` and ``details``); empty when
            the environment was never deployed.
        """

    @abc.abstractmethod
    def history_page(
        self, environment: str, *, offset: int = 0, limit: int = 20, newest_first: bool = True
    ) -> tuple[list[Transition], int]:
        """Return one page of the transitions of ``environment`` and how many it has.

        Args:
            environment: The environment.
            offset: How many transitions to skip, counted in the page's order (0 or less:
                none).
            limit: How many transitions to return at most (0 or less: none).
            newest_first: Order by revision from the newest (``True``) or from revision 1.

        Returns:
            ``(transitions, total)``: the page's transitions in the order asked for, as
            :meth:`history` returns them, and the number of transitions of the
            environment (its newest revision; 0 when it was never deployed).
        """

    @abc.abstractmethod
    def record_transition(
        self,
        actor: Actor,
        deployment: Deployment,
        transition: Transition,
        *,
        expected_revision: int | None,
    ) -> None:
        """Make ``deployment`` the environment's current one and append ``transition``.

        Atomic: either the current deployment is replaced, the transition appended and one
        audit event ``deploy.<transition.action>`` on target ``env:<environment>`` written
        (signed by ``actor``, with the revision, both states, strategy, variants, reason
        and the transition's details), or nothing is.

        Args:
            actor: Who makes the change (signs the audit event).
            deployment: The new current deployment; its revision is
                ``expected_revision + 1`` (1 for a first deployment).
            transition: How it came about: same environment, revision and ``to_state``
                as ``deployment``.
            expected_revision: The revision the change was based on (``None`` when the
                environment had no deployment).

        Raises:
            ConcurrentDeploymentError: the environment is no longer at
                ``expected_revision`` (another writer won); nothing is written.
            DeploymentError: ``deployment`` and ``transition`` disagree, or the revision
                does not follow ``expected_revision``.
        """
