"""Deployment records: what each environment serves now, and how it got there.

This package owns the persisted side of rollouts. :class:`DeploymentStore` keeps the
current :class:`Deployment` of every environment (strategy, state, weighted
:class:`Variant` list, canary step, the last stable revision) and an append-only history
of :class:`Transition` rows; every change bumps a contiguous revision under optimistic
concurrency (a stale writer gets :class:`ConcurrentDeploymentError`) and is audited in the
same transaction. The records themselves sit behind :class:`BaseDeploymentRecords`
(:class:`SqlDeploymentRecords` keeps them in the metadata store). :func:`choose_variant`
is the pure routing rule shared by the server and the rollout simulator: weighted by
cumulative percent, sticky by a blake3 hash of a key.
The controller that decides transitions lives in :mod:`conveyor.rollout`.
"""

from __future__ import annotations

from conveyor.deployments._base import BaseDeploymentRecords
from conveyor.deployments._errors import (
    ConcurrentDeploymentError,
    DeploymentError,
    DeploymentNotFoundError,
)
from conveyor.deployments._records import (
    IN_PROGRESS_STATES,
    ROLES,
    STATES,
    STRATEGIES,
    Deployment,
    Transition,
    Variant,
    check_variants,
)
from conveyor.deployments._routing import choose_variant, key_fraction
from conveyor.deployments._sql import SqlDeploymentRecords
from conveyor.deployments._store import DeploymentStore

__all__ = [
    "BaseDeploymentRecords",
    "ConcurrentDeploymentError",
    "Deployment",
    "DeploymentError",
    "DeploymentNotFoundError",
    "DeploymentStore",
    "IN_PROGRESS_STATES",
    "ROLES",
    "STATES",
    "STRATEGIES",
    "SqlDeploymentRecords",
    "Transition",
    "Variant",
    "check_variants",
    "choose_variant",
    "key_fraction",
]
