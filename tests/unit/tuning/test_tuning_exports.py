"""The public surface of conveyor.tuning and conveyor.tuning.automl."""

from __future__ import annotations

import conveyor.tuning
import conveyor.tuning.automl


def test_all_is_sorted_and_every_name_is_importable() -> None:
    for module in (conveyor.tuning, conveyor.tuning.automl):
        names = module.__all__
        assert names == sorted(names)
        for name in names:
            assert getattr(module, name) is not None
    for needed in ("Categorical", "Float", "Int", "Trial", "TrialPruned", "TuneResult", "tune"):
        assert needed in conveyor.tuning.__all__
    assert "search" in conveyor.tuning.automl.__all__
