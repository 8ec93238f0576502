"""A server process's heap after each model load: what is alive then leaves garbage collection.

A prediction server's heap is mostly what it imported and loaded: modules, classes, the
model (150,000 tracked objects for a scikit-learn model). Python's cyclic garbage
collector walks all of them in every full collection, and a logging server triggers full
collections often: each request's batch waits in the logger's queue long enough to reach
the oldest generation, and enough of them arriving there starts a full collection (measured
under load: four a second, about 75 ms each, stalling the event loop). :func:`settle_heap`
moves everything alive after a load into the permanent generation (``gc.freeze``), so full
collections walk only what requests created since; nothing frozen is lost to reference
counting, which frees it as before.

Only cycles among frozen objects are never collected. So that the previous model's cycles
do not outlive a redeploy, each settle first unfreezes and collects everything: a model
replaced since the last load is collected then (one full collection per load).

Only a server's own process settles its heap (the app ``conveyor serve``'s workers build),
and :func:`release_heap` at shutdown gives everything back to the collector, so a process
that goes on after the server stopped (``serve()`` called from Python) keeps no garbage.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

_lock = threading.Lock()


def settle_heap(_loaded: Any = None) -> None:
    """Collect everything once, then leave what is alive out of later collections.

    Args:
        _loaded: Ignored; lets this be a model loader's ``on_load`` hook.
    """
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def release_heap() -> None:
    """Give every frozen object back to the collector (the server is shutting down)."""
    with _lock:
        gc.unfreeze()
