"""Fault injection for the crash-safety tests: stop the process hard at a named step.

Setting ``CONVEYOR_AGENT_CRASH_AT`` to a step name makes the agent call ``os._exit(9)``
when it reaches that step, exactly like ``kill -9`` would: no ``finally`` blocks, no
cleanup, no commit of anything in flight. The steps, in job order:

- ``fired``: the trigger firing is recorded, nothing else;
- ``run_started``: the training attempt is recorded, the trainer is about to run;
- ``trained``: the trainer returned (candidate registered and gated), nothing recorded;
- ``registered``: run, model version and gate decision are recorded;
- ``deployed``: the deployer returned, the deployment is not recorded yet.
"""

from __future__ import annotations

import os

CRASH_ENV = "CONVEYOR_AGENT_CRASH_AT"
CRASH_STEPS = ("fired", "run_started", "trained", "registered", "deployed")


def crash_point(step: str) -> None:
    """Exit the process with status 9 if ``CONVEYOR_AGENT_CRASH_AT`` names ``step``."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(9)
