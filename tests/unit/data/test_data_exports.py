"""The public surface of conveyor.data."""

from __future__ import annotations

import conveyor.data


def test_all_is_sorted_and_every_name_is_importable() -> None:
    names = conveyor.data.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(conveyor.data, name) is not None
    for needed in ("DatasetRegistry", "LockFile", "compute_profile", "parse_dataset_ref"):
        assert needed in names
