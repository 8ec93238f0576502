"""A server's heap after a model load: frozen out of garbage collection, never leaked.

Each probe runs in a fresh process: freezing the heap of the test process would keep its
cyclic garbage.
"""

from __future__ import annotations

from process_support import fresh_process_report

_SETTLE = r"""
import gc, json, weakref
from conveyor.serving._heap import release_heap, settle_heap

class Model:  # a model with a reference cycle, as many estimators have
    def __init__(self):
        self.me = self

first = Model()
settle_heap(first)
frozen = gc.get_freeze_count()
collected_before = gc.collect()  # a full collection now walks nothing of the start-up heap
gone = weakref.ref(first)
del first  # replaced by a new deployment: only the collector can free its cycle
gc.collect()
kept_while_frozen = gone() is not None
settle_heap(Model())  # the next load collects the previous model's cycle
print(json.dumps({
    "frozen": frozen,
    "kept_while_frozen": kept_while_frozen,
    "collected_at_next_settle": gone() is None,
    "frozen_after_second": gc.get_freeze_count(),
    "released": (release_heap(), gc.get_freeze_count())[1],
}))
"""


def test_a_settled_heap_is_frozen_and_a_replaced_models_cycles_are_collected_at_the_next_load() -> (
    None
):
    report = fresh_process_report(_SETTLE)
    assert report["frozen"] > 1000  # the interpreter, the imported modules, the model
    # Frozen objects are skipped by collections: the replaced model's cycle survives them...
    assert report["kept_while_frozen"] is True
    # ...until the next settle unfreezes and collects once, so no redeploy leaks a model.
    assert report["collected_at_next_settle"] is True
    assert report["frozen_after_second"] > 1000
    # At shutdown everything goes back to the collector.
    assert report["released"] == 0
