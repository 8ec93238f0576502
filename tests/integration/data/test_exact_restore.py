"""Checkout restores the bytes that were added; other formats only on request; pull
fetches any version the remote has, from a fresh clone."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from data_workspace import Workspace
from palmerpenguins import load_penguins

from conveyor.artifacts import open_artifact_store
from conveyor.data import CheckoutFormatError
from conveyor.errors import ArtifactNotFoundError, LockFileError, VersionNotFoundError


def _penguins_csv(path: Path, rows: int, **options: object) -> bytes:
    """Real data with strings and missing values, written as a person's export would be."""
    frame = load_penguins().head(rows)
    frame.to_csv(path, index=False, **options)  # type: ignore[call-overload]
    return path.read_bytes()


def test_a_csv_version_checks_out_as_that_csv_byte_for_byte(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "survey.csv"
    original = _penguins_csv(source, 200, na_rep="NA", float_format="%.2f")
    version = ws.registry.add("survey", source)
    out = ws.registry.checkout(version.ref, tmp_path / "out" / "survey-v1.csv")
    assert out.read_bytes() == original
    folder = tmp_path / "folder"
    folder.mkdir()
    inside = ws.registry.checkout(version.ref, folder)
    assert inside == folder / "survey.csv"
    assert inside.read_bytes() == original
    # load() still reads the canonical table.
    assert len(ws.registry.load(version.ref)) == 200


def test_other_formats_are_written_on_request(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "survey.csv"
    _penguins_csv(source, 50)
    csv_version = ws.registry.add("survey", source)
    as_parquet = ws.registry.checkout(csv_version.ref, tmp_path / "v1.parquet")
    assert pq.read_table(as_parquet).num_rows == 50
    explicit = ws.registry.checkout(csv_version.ref, tmp_path / "v1.bin", format="parquet")
    assert explicit.read_bytes()[:4] == b"PAR1"
    frame = pd.DataFrame({"island": ["Biscoe", "Dream", None], "mass": [3.5, None, 4.25]})
    df_version = ws.registry.add("frame", frame)
    exported = ws.registry.checkout(df_version.ref, tmp_path / "frame.csv")
    back = pd.read_csv(exported)
    assert list(back["island"].fillna("-")) == ["Biscoe", "Dream", "-"]
    assert back["mass"].iloc[2] == 4.25


def test_formats_that_do_not_fit_are_refused_with_a_valid_command(
    ws: Workspace, tmp_path: Path
) -> None:
    ws.registry.add("frame", pd.DataFrame({"x": [1, 2]}))
    with pytest.raises(CheckoutFormatError, match="no original file bytes") as info:
        ws.registry.checkout("frame@1", tmp_path / "x", format="original")
    assert "--format parquet`" in (info.value.hint or "")
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    ws.registry.add("docs", folder)
    with pytest.raises(CheckoutFormatError, match="only tables can be exported"):
        ws.registry.checkout("docs@1", tmp_path / "out", format="csv")
    with pytest.raises(CheckoutFormatError, match="Unknown checkout format 'xlsx'"):
        ws.registry.checkout("frame@1", tmp_path / "y", format="xlsx")  # type: ignore[arg-type]


def test_readding_a_reformatted_csv_of_the_same_rows_keeps_both_originals(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "survey.csv"
    first = _penguins_csv(source, 30, na_rep="NA")
    assert ws.registry.add("survey", source).version == 1
    assert ws.registry.add("survey", source).unchanged
    second = _penguins_csv(source, 30, na_rep="")
    assert second != first
    assert ws.registry.add("survey", source).version == 2
    assert ws.registry.checkout("survey@1", tmp_path / "1.csv").read_bytes() == first
    assert ws.registry.checkout("survey@2", tmp_path / "2.csv").read_bytes() == second


def _clone(origin: Workspace, make_workspace: Callable[..., Workspace], name: str) -> Workspace:
    clone = make_workspace(name)
    shutil.copy(origin.root / "conveyor.lock", clone.root / "conveyor.lock")
    return clone


def test_a_fresh_clone_pulls_any_version_on_the_remote(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    origin = make_workspace("origin")
    remote = open_artifact_store(str(tmp_path / "remote"))
    source = tmp_path / "survey.csv"
    v1_bytes = _penguins_csv(source, 100)
    origin.registry.add("survey", source)
    origin.registry.push(remote)
    v2_bytes = _penguins_csv(source, 150)
    origin.registry.add("survey", source)
    origin.registry.push(remote)

    clone = _clone(origin, make_workspace, "clone")
    pulled = clone.registry.pull(remote)
    assert pulled.datasets == ["survey@2"]
    assert clone.registry.checkout("survey@2", tmp_path / "c2.csv").read_bytes() == v2_bytes
    with pytest.raises(ArtifactNotFoundError) as missing:
        clone.registry.checkout("survey@1", tmp_path / "c1.csv")
    assert "`conveyor data pull survey@1`" in (missing.value.hint or "")

    assert clone.registry.pull(remote, ["survey@1"]).datasets == ["survey@1"]
    assert clone.registry.checkout("survey@1", tmp_path / "c1.csv").read_bytes() == v1_bytes

    with pytest.raises(VersionNotFoundError, match=r"survey@9.*1, 2") as unknown:
        clone.registry.pull(remote, ["survey@9"])
    assert "`conveyor data pull survey@9`" in (unknown.value.hint or "")
    with pytest.raises(LockFileError, match="'other'") as unpinned:
        clone.registry.pull(remote, ["other@1"])
    assert "`conveyor data add other <path>`" in (unpinned.value.hint or "")


def test_pull_all_fetches_every_version_the_remote_has_and_names_the_rest(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    origin = make_workspace("origin")
    remote = open_artifact_store(str(tmp_path / "remote"))
    source = tmp_path / "survey.csv"
    for rows in (10, 20, 30):
        _penguins_csv(source, rows)
        origin.registry.add("survey", source)
        if rows != 20:  # survey@2's bytes never reach the remote
            origin.registry.push(remote)
    clone = _clone(origin, make_workspace, "clone")
    result = clone.registry.pull(remote, all_versions=True)
    assert result.datasets == ["survey@1", "survey@3"]
    assert result.missing == ["survey@2"]
    assert len(clone.registry.load("survey@1")) == 10
    # push --all from the origin completes the remote; then every version pulls.
    assert origin.registry.push(remote, all_versions=True).missing == []
    assert clone.registry.pull(remote, all_versions=True).missing == []
    assert len(clone.registry.load("survey@2")) == 20
