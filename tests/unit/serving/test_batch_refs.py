"""Batch scoring's pieces: ``NAME@ENV`` resolves to what the environment serves (an alias of
that name wins), and record batches are cut into batches of exactly ``batch_rows`` rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from conveyor.deployments import Variant
from conveyor.registry import AliasNotFoundError
from conveyor.serving._batch import resolve_version
from conveyor.serving._batch_io import _rebatch
from conveyor.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """diabetes@1 and @2; production serves 2 (champion, 90 %) and 1 (challenger, 10 %)."""
    data = load_diabetes(as_frame=True)
    with Workspace.open(tmp_path) as workspace:
        for alpha in (1.0, 2.0):
            model = Ridge(alpha=alpha).fit(data.data, data.target)
            workspace.models.register("diabetes", model, input_example=data.data.head(5))
        variants = (
            Variant("diabetes", 2, "champion", 90.0),
            Variant("diabetes", 1, "challenger", 10.0),
        )
        workspace.deployments.transition(
            "production", expected_revision=None, action="deploy", reason="test",
            strategy="canary", state="progressing", variants=variants, steps=(10, 100),
        )  # fmt: skip
        yield workspace


def test_name_at_env_is_the_live_variant_with_the_largest_weight(ws: Workspace) -> None:
    assert resolve_version(ws, "diabetes@production").version == 2


def test_an_alias_wins_over_an_environment_of_the_same_name(ws: Workspace) -> None:
    ws.models.set_alias("diabetes", 1, "production")
    assert resolve_version(ws, "diabetes@production").version == 1


def test_an_unknown_alias_and_environment_is_the_registrys_error(ws: Workspace) -> None:
    with pytest.raises(AliasNotFoundError, match="staging"):
        resolve_version(ws, "diabetes@staging")


def test_record_batches_are_cut_into_batches_of_the_requested_size() -> None:
    batches = [
        pa.record_batch({"x": list(range(start, start + n))})
        for start, n in [(0, 7), (7, 2), (9, 14)]
    ]
    tables = list(_rebatch(batches, 5))
    assert [t.num_rows for t in tables] == [5, 5, 5, 5, 3]
    assert [v for t in tables for v in t.column("x").to_pylist()] == list(range(23))
