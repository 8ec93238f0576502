"""Batch scoring attacked as an adversary would: hostile names, shapes, files and outputs.

Every attack ends in a :class:`ConveyorError` naming the offending value (inert: a terminal
escape in a file's name or column is printed as its escape, never acted on), or in an
output equal to what the model predicts; never in a crash, a half-written output, a
temporary file left behind or a file overwritten through a link.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_predict_file import _leftovers, _parquet, built_models, models, penguins

from conveyor.errors import ConveyorError
from conveyor.serving import BatchInputError, InvalidValueError, predict_file
from conveyor.serving._batch import MAX_BATCH_ROWS

__all__ = ["built_models", "models"]  # the fixtures, shared with the local tests

ESC = "\x1b[2J"


def _said(exc: ConveyorError) -> str:
    """What the CLI prints for ``exc``: its message and hint."""
    return f"{exc}\n{exc.hint or ''}"


def _assert_inert(text: str) -> None:
    """No control character reaches the terminal but the newline between message and hint."""
    assert "\x1b" not in text
    assert text.count("\n") == 1, text
    assert all(ch.isprintable() for ch in text.replace("\n", "")), text


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


# --- hostile names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\nb", "a\\x0ab"),
        (f"x{ESC}y", "x\\x1b[2Jy"),
        ("bell\x07\x9b31m", "bell\\x07\\x9b31m"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
    ],
)
def test_a_hostile_column_name_is_shown_inert(
    models: Any, data: Path, name: str, shown: str
) -> None:
    ws, *_ = models
    source = _parquet(penguins().assign(**{name: 1}), data / "in.parquet")
    with pytest.raises(BatchInputError, match="Column\\(s\\) to keep not in") as caught:
        predict_file(ws, "penguins@1", source, data / "out.parquet", keep=["nope"])
    _assert_inert(_said(caught.value))
    assert str(caught.value.hint).endswith(f", year, {shown}.")
    assert _leftovers(data) == []


def test_a_hostile_file_name_is_shown_inert_in_a_bad_value_error(models: Any, data: Path) -> None:
    ws, *_ = models
    frame = penguins()
    frame["sex"] = frame["sex"].map({"male": 1, "female": 0})
    source = _parquet(frame, data / f"x{ESC}\ny.parquet")
    with pytest.raises(InvalidValueError, match=r"x\\x1b\[2J\\x0ay\.parquet, row 0") as caught:
        predict_file(ws, "penguins@1", source, data / "out.parquet")
    _assert_inert(_said(caught.value))
    assert caught.value.fields["input"] == str(source)  # the structured field stays exact


def test_a_csv_value_with_an_escape_is_shown_inert(models: Any, data: Path) -> None:
    ws, *_ = models
    text = penguins().drop(columns=["species"]).head(5).to_csv(index=False)
    source = data / "esc.csv"
    source.write_text(text + f"Dream,40.0,{ESC}\x00,190,3900,male,2008\n")
    with pytest.raises(BatchInputError, match=r"column 'bill_depth_mm'") as caught:
        predict_file(ws, "penguins@1", source, data / "out.csv")
    _assert_inert(_said(caught.value))
    assert "\\x1b[2J\\x00" in caught.value.message


def test_a_column_name_that_is_not_utf8_is_refused(models: Any, data: Path) -> None:
    """The footer's bytes are patched: no writer produces such a name, an attacker can."""
    ws, *_ = models
    source = data / "latin.parquet"
    pq.write_table(
        pa.Table.from_pandas(penguins().assign(zzzq=1), preserve_index=False),
        source,
        store_schema=False,
    )
    source.write_bytes(source.read_bytes().replace(b"zzzq", b"z\xffzq"))
    with pytest.raises(BatchInputError, match=r"Cannot read .*latin\.parquet: .*not valid UTF-8"):
        predict_file(ws, "penguins@1", source, data / "out.parquet")
    assert _leftovers(data) == []


def test_a_path_that_is_not_utf8_is_refused_naming_it(models: Any, data: Path) -> None:
    ws, *_ = models
    name = os.fsdecode(b"caf\xe9.parquet")  # latin-1 bytes on disk: a surrogate in Python
    source = (data / name).resolve()
    _parquet(penguins(), data / "good.parquet").rename(source)  # pyarrow cannot write it
    with pytest.raises(BatchInputError, match=r"Input .*caf\\udce9\.parquet is not a valid UTF-8"):
        predict_file(ws, "penguins@1", source, data / "out.parquet")
    good = _parquet(penguins(), data / "good.parquet")
    with pytest.raises(BatchInputError, match=r"Output .*caf\\udce9\.csv is not a valid UTF-8"):
        predict_file(ws, "penguins@1", good, data / name.replace("parquet", "csv"))
    assert sorted(os.listdir(data)) == sorted([name, "good.parquet"])


# --- hostile shapes --------------------------------------------------------------------


def test_duplicate_column_names_are_refused_in_parquet_and_csv(models: Any, data: Path) -> None:
    """Which ``sex`` the model reads (and which one the output keeps) would be a guess."""
    ws, *_ = models
    table = pa.Table.from_pandas(penguins(), preserve_index=False)
    table = table.append_column("sex", pa.array(["female"] * table.num_rows))
    pq.write_table(table, data / "dup.parquet")
    with pytest.raises(BatchInputError, match=r"dup\.parquet has more than one column named 'sex'"):
        predict_file(ws, "penguins@1", data / "dup.parquet", data / "out.parquet", keep=["year"])
    text = penguins().drop(columns=["species"]).to_csv(index=False).splitlines()
    lines = [text[0] + ",island", *(row + ",Biscoe" for row in text[1:])]
    (data / "dup.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(BatchInputError, match=r"dup\.csv has more than one column named 'island'"):
        predict_file(ws, "penguins@1", data / "dup.csv", data / "out.csv")
    assert not (data / "out.parquet").exists()
    assert not (data / "out.csv").exists()
    assert _leftovers(data) == []


def test_nested_and_dictionary_columns_pass_through_parquet(models: Any, data: Path) -> None:
    """Struct, list, map and dictionary columns are copied as they are; the model's own
    string column dictionary-encoded is read as strings."""
    ws, classifier, _ = models
    frame = penguins()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    n = table.num_rows
    island = table.column_names.index("island")
    table = table.set_column(island, "island", table.column("island").dictionary_encode())
    extras = {
        "struct": pa.array([{"a": i} for i in range(n)]),
        "list": pa.array([[i, i] for i in range(n)]),
        "map": pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
    }
    for name, column in extras.items():
        table = table.append_column(name, column)
    pq.write_table(table, data / "nested.parquet")
    predict_file(ws, "penguins@1", data / "nested.parquet", data / "out.parquet", batch_rows=100)
    out = pq.read_table(data / "out.parquet")
    assert out.column("list").to_pylist() == [[i, i] for i in range(n)]
    assert out.column("struct").to_pylist() == [{"a": i} for i in range(n)]
    expected = classifier.predict(frame.drop(columns=["species"]))
    assert out.column("prediction").to_pylist() == expected.tolist()


def test_nested_columns_to_a_csv_output_are_refused_naming_them(models: Any, data: Path) -> None:
    ws, *_ = models
    table = pa.Table.from_pandas(penguins(), preserve_index=False)
    table = table.append_column("tags", pa.array([["a"]] * table.num_rows))
    pq.write_table(table, data / "nested.parquet")
    with pytest.raises(BatchInputError, match=r"cannot hold the nested column\(s\) 'tags'") as e:
        predict_file(ws, "penguins@1", data / "nested.parquet", data / "out.csv")
    assert "--keep" in str(e.value.hint)
    assert not (data / "out.csv").exists()
    assert _leftovers(data) == []
    predict_file(ws, "penguins@1", data / "nested.parquet", data / "out.csv", keep=["island"])
    assert list(pd.read_csv(data / "out.csv").columns) == ["island", "prediction"]


def test_zero_rows_write_nothing(models: Any, data: Path) -> None:
    ws, *_ = models
    source = _parquet(penguins().head(0), data / "empty.parquet")
    with pytest.raises(BatchInputError, match=r"holds no rows; nothing was written to .*out"):
        predict_file(ws, "penguins@1", source, data / "out.parquet")
    header = data / "header.csv"
    header.write_text(penguins().head(0).to_csv(index=False))
    with pytest.raises(BatchInputError, match=r"holds no rows"):
        predict_file(ws, "penguins@1", header, data / "out.csv")
    assert sorted(os.listdir(data)) == ["empty.parquet", "header.csv"]


@pytest.mark.parametrize("batch_rows", [0, -1, MAX_BATCH_ROWS + 1, 10**30, True, 2.5])
def test_a_batch_size_out_of_range_is_refused(models: Any, data: Path, batch_rows: Any) -> None:
    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    with pytest.raises(BatchInputError, match=r"batch_rows must be a whole number from 1 to"):
        predict_file(ws, "penguins@1", source, data / "out.parquet", batch_rows=batch_rows)
    assert not (data / "out.parquet").exists()


def test_a_column_kept_twice_is_written_once(models: Any, data: Path) -> None:
    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    predict_file(ws, "penguins@1", source, data / "out.parquet", keep=["island", "island"])
    assert pq.read_schema(data / "out.parquet").names == ["island", "prediction"]


def _forged(source: Path, target: Path, rows: int) -> Path:
    """``source`` with every row count of its footer (file and row groups) set to ``rows``:
    the Thrift field 3 (i64, zigzag varint) rewritten, the footer's length fixed."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            low, n = n & 0x7F, n >> 7
            out.append(low | (0x80 if n else 0))
            if not n:
                return bytes(out)

    data = source.read_bytes()
    size = struct.unpack("<I", data[-8:-4])[0]
    footer = data[-8 - size : -8]
    real = pq.read_metadata(source).num_rows
    forged = footer.replace(b"\x16" + varint(real << 1), b"\x16" + varint(rows << 1))
    target.write_bytes(data[: -8 - size] + forged + struct.pack("<I", len(forged)) + b"PAR1")
    assert pq.read_metadata(target).num_rows == rows
    return target


@pytest.mark.parametrize("batch_rows", [1000, MAX_BATCH_ROWS])
def test_a_footer_claiming_billions_of_rows_is_refused_without_allocating_for_them(
    models: Any, data: Path, batch_rows: int
) -> None:
    """pyarrow sizes its buffers by the footer: read in small steps, the forged count
    costs nothing, and rows that are not there are not passed off as all of the file."""
    ws, *_ = models
    source = _forged(_parquet(penguins(), data / "in.parquet"), data / "forged.parquet", 3 * 10**9)
    pool = pa.default_memory_pool()
    before = pool.max_memory()
    with pytest.raises(BatchInputError, match=r"claims 3,000,000,000 rows .* but holds 344"):
        predict_file(ws, "penguins@1", source, data / "out.parquet", batch_rows=batch_rows)
    assert pool.max_memory() < before + (256 << 20)
    assert not (data / "out.parquet").exists()
    assert _leftovers(data) == []


# --- hostile files and folders ---------------------------------------------------------


def test_an_input_that_is_not_a_regular_file_is_refused(models: Any, data: Path) -> None:
    """A FIFO would block the run forever; a device never ends."""
    ws, *_ = models
    fifo = data / "pipe.parquet"
    os.mkfifo(fifo)
    for source in (fifo, Path("/dev/zero")):
        with pytest.raises(BatchInputError, match=r"is not a regular file"):
            predict_file(ws, "penguins@1", source, data / "out.parquet")
    assert not (data / "out.parquet").exists()


def test_a_folder_skips_hidden_parts_and_refuses_links_outside_it(
    models: Any, data: Path, tmp_path: Path
) -> None:
    """Markers (``_SUCCESS``), hidden files, sub-folders named like parts and a symlink
    loop are skipped; a part linking to a file outside the folder is refused, named."""
    ws, classifier, _ = models
    frame = penguins()
    parts = data / "parts"
    parts.mkdir()
    _parquet(frame.iloc[:200], parts / "part-0.parquet")
    _parquet(frame.iloc[200:], parts / "part-1.parquet")
    _parquet(frame.head(3).assign(sex=1), parts / ".part-2.parquet")  # would fail if read
    (parts / "_SUCCESS").write_text("")
    (parts / "_metadata.parquet").write_bytes(b"not parquet")
    (parts / "sub.parquet").mkdir()
    (parts / "loop.parquet").symlink_to("loop.parquet")
    result = predict_file(ws, "penguins@1", parts, data / "out.parquet")
    assert result.rows == len(frame)
    out = pd.read_parquet(data / "out.parquet")
    expected = classifier.predict(frame.drop(columns=["species"]))
    assert out["prediction"].tolist() == expected.tolist()

    secret = _parquet(frame, tmp_path / "secret.parquet")
    (parts / "part-2.parquet").symlink_to(secret)
    with pytest.raises(BatchInputError, match=r"part-2\.parquet of folder .* links to .*secret"):
        predict_file(ws, "penguins@1", parts, data / "again.parquet")
    assert not (data / "again.parquet").exists()


def test_parts_with_columns_in_another_order_are_aligned(models: Any, data: Path) -> None:
    ws, classifier, _ = models
    frame = penguins()
    parts = data / "parts"
    parts.mkdir()
    _parquet(frame.iloc[:100], parts / "a.parquet")
    _parquet(frame.iloc[100:][list(reversed(frame.columns))], parts / "b.parquet")
    predict_file(ws, "penguins@1", parts, data / "out.parquet", batch_rows=64)
    out = pd.read_parquet(data / "out.parquet")
    assert list(out.columns) == [*frame.columns, "prediction"]
    pd.testing.assert_frame_equal(out.drop(columns="prediction"), frame, check_dtype=False)
    assert out["prediction"].tolist() == classifier.predict(frame).tolist()


@pytest.mark.parametrize(
    ("second", "match"),
    [
        (lambda f: f.assign(extra="x"), r"b\.parquet does not have the columns .* adds 'extra'"),
        (lambda f: f.drop(columns="note"), r"b\.parquet does not have .*: it lacks 'note'\."),
        (lambda f: f.rename(columns={"note": "remark"}), r"lacks 'note'; adds 'remark'"),
        (lambda f: f.assign(note="text"), r"Column 'note' holds \w*string in a later .* int64"),
    ],
    ids=["extra column", "missing column", "renamed column", "column of another type"],
)
def test_parts_whose_columns_differ_are_refused_naming_the_part(
    models: Any, data: Path, second: Any, match: str
) -> None:
    ws, *_ = models
    frame = penguins().assign(note=1)
    parts = data / "parts"
    parts.mkdir()
    _parquet(frame.iloc[:100], parts / "a.parquet")
    _parquet(second(frame.iloc[100:]), parts / "b.parquet")
    with pytest.raises(BatchInputError, match=match):
        predict_file(ws, "penguins@1", parts, data / "out.parquet", batch_rows=64)
    assert not (data / "out.parquet").exists()
    assert _leftovers(data) == []


# --- hostile CSV -----------------------------------------------------------------------


def test_csv_with_a_bom_quoted_newlines_nul_and_na_strings_keeps_every_value(
    models: Any, data: Path
) -> None:
    """The BOM is not part of the first column's name; a quoted newline, a NUL byte and
    the strings "NA", "null" and "nan" in a copied column are values, kept as written."""
    ws, classifier, _ = models
    frame = penguins().drop(columns=["species"]).head(6)
    notes = ["line\nbreak", "nul\x00byte", "NA", "null", "nan", "N/A"]
    frame.insert(0, "note", notes)
    source = data / "tricky.csv"
    source.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False).encode())
    predict_file(ws, "penguins@1", source, data / "out.parquet")
    out = pd.read_parquet(data / "out.parquet")
    assert list(out.columns) == [*frame.columns, "prediction"]
    assert out["note"].tolist() == notes
    assert out["prediction"].tolist() == classifier.predict(frame.drop(columns="note")).tolist()


@pytest.mark.parametrize(
    ("value", "said"),
    [("1" * 10**6, "got inf"), ("1e999", "got inf"), ("-inf", "got -inf"), ("nan", "got nan")],
    ids=["a million digits", "1e999", "-inf", "nan"],
)
def test_csv_numbers_that_are_not_finite_are_refused_naming_the_row(
    models: Any, data: Path, value: str, said: str
) -> None:
    """ "nan" is not read as a missing value behind the non-finite policy's back."""
    ws, *_ = models
    text = penguins().drop(columns=["species"]).head(5).to_csv(index=False)
    source = data / "numbers.csv"
    source.write_text(text + f"Dream,{value},18.0,190,3900,male,2008\n")
    with pytest.raises(InvalidValueError, match=rf"numbers\.csv, row 5: .*'bill_length_mm' {said}"):
        predict_file(ws, "penguins@1", source, data / "out.csv")
    assert _leftovers(data) == []


def test_a_csv_line_without_end_is_refused_in_bounded_memory(models: Any, data: Path) -> None:
    """100 MB without a newline: pyarrow reads 1 MiB blocks and stops at the first."""
    ws, *_ = models
    source = data / "endless.csv"
    with source.open("wb") as f:
        f.write(b"island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n")
        block = b"A" * (1 << 20)
        for _ in range(100):
            f.write(block)
    with pytest.raises(BatchInputError, match=r"endless\.csv: a row is longer than 1 MiB"):
        predict_file(ws, "penguins@1", source, data / "out.csv")
    assert not (data / "out.csv").exists()


# --- hostile outputs -------------------------------------------------------------------


def test_an_output_symlink_is_replaced_not_written_through(
    models: Any, data: Path, tmp_path: Path
) -> None:
    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    precious = tmp_path / "precious.parquet"
    precious.write_bytes(b"the only copy")
    (data / "out.parquet").symlink_to(precious)
    predict_file(ws, "penguins@1", source, data / "out.parquet")
    assert precious.read_bytes() == b"the only copy"
    assert not (data / "out.parquet").is_symlink()
    assert pq.read_metadata(data / "out.parquet").num_rows == 344


@pytest.mark.parametrize("spelling", ["dotted", "hard link", "symlink", "parent"])
def test_the_input_under_another_spelling_is_refused_as_output(
    models: Any, data: Path, spelling: str
) -> None:
    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    before = source.read_bytes()
    other = data / "other.parquet"
    if spelling == "dotted":
        other = data / "." / "in.parquet"
    elif spelling == "parent":
        other = data / ".." / data.name / "in.parquet"
    elif spelling == "hard link":
        os.link(source, other)
    else:
        other.symlink_to(source)
    with pytest.raises(BatchInputError, match=r"is the input file"):
        predict_file(ws, "penguins@1", source, other)
    assert source.read_bytes() == before
    assert _leftovers(data) == []


def test_names_near_and_past_the_file_systems_limit(models: Any, data: Path) -> None:
    """A 248-byte output name is written (its temporary file's name is shortened); a
    300-byte name is refused, named, not an operating-system error."""
    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    long = data / ("o" * 240 + ".parquet")
    predict_file(ws, "penguins@1", source, long)
    assert pq.read_metadata(long).num_rows == 344
    too_long = "p" * 292 + ".parquet"
    with pytest.raises(
        BatchInputError, match=r"Output .*p{292}\.parquet cannot be used: .*too long"
    ):
        predict_file(ws, "penguins@1", source, data / too_long)
    with pytest.raises(
        BatchInputError, match=r"Input .*p{292}\.parquet cannot be used: .*too long"
    ):
        predict_file(ws, "penguins@1", data / too_long, data / "out.parquet")
    assert sorted(os.listdir(data)) == sorted(["in.parquet", long.name])


def test_an_output_folder_that_cannot_be_written_is_refused_before_scoring(
    models: Any, data: Path
) -> None:
    ws, *_ = models
    source = _parquet(penguins(), data / "in.parquet")
    if os.geteuid() == 0:  # root writes anywhere but where the kernel refuses
        target = Path("/proc/self/out.parquet")
    else:
        locked = data / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "out.parquet"
    with pytest.raises(BatchInputError, match=r"Cannot write output .*out\.parquet") as caught:
        predict_file(ws, "penguins@1", source, target)
    assert "folder you can write to" in str(caught.value.hint)
    assert ws.audit_log(action="model.batch_predict") == []


_SCORE = textwrap.dedent(
    """
    import resource, signal, sys
    from conveyor.workspace import Workspace
    from conveyor.serving import predict_file
    from conveyor.errors import ConveyorError

    with Workspace.open(sys.argv[1]) as ws:
        ws.models.get("penguins@1")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the limit: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            predict_file(ws, "penguins@1", sys.argv[2], sys.argv[3], batch_rows=500)
        except ConveyorError as exc:
            print(exc)
            sys.exit(1)
    """
)


def test_a_full_disk_mid_run_leaves_no_output(models: Any, data: Path) -> None:
    """The output outgrows the file-size limit (the kernel's EFBIG, like ENOSPC) after
    some batches: the error names the output, no temporary file is left."""
    ws, *_ = models
    source = _parquet(pd.concat([penguins()] * 20, ignore_index=True), data / "in.parquet")
    done = subprocess.run(
        [sys.executable, "-c", _SCORE, str(ws.root), str(source), str(data / "out.csv")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Cannot write output" in done.stdout
    assert "out.csv" in done.stdout
    assert sorted(os.listdir(data)) == ["in.parquet"]


def test_scoring_twice_with_the_output_inside_the_parts_folder_is_refused(
    models: Any, data: Path
) -> None:
    """The second run would read the first run's output as a part."""
    ws, *_ = models
    parts = data / "parts"
    parts.mkdir()
    _parquet(penguins(), parts / "part-0.parquet")
    predict_file(ws, "penguins@1", parts, parts / "scores.parquet")
    with pytest.raises(BatchInputError, match=r"is the input file"):
        predict_file(ws, "penguins@1", parts, parts / "scores.parquet")
    assert "prediction" in pq.read_schema(parts / "scores.parquet").names


# --- on Ray ----------------------------------------------------------------------------


@pytest.mark.slow  # starting Ray takes seconds
def test_ray_aligns_reordered_parts_and_names_a_part_with_other_columns(
    ray_session: Any, models: Any, data: Path
) -> None:
    """Row groups scored by actors are joined like local batches: a part whose columns
    are in another order equals the local output; one with a column more is named, and
    neither the output nor the actors' part files are left."""
    ws, *_ = models
    frame = penguins()
    parts = data / "parts"
    parts.mkdir()
    _parquet(frame.iloc[:150], parts / "a.parquet", row_group_size=50)
    _parquet(frame.iloc[150:][list(reversed(frame.columns))], parts / "b.parquet")
    predict_file(ws, "penguins@1", parts, data / "local.parquet", batch_rows=40)
    predict_file(ws, "penguins@1", parts, data / "ray.parquet", batch_rows=40, executor="ray")
    pd.testing.assert_frame_equal(
        pd.read_parquet(data / "ray.parquet"), pd.read_parquet(data / "local.parquet")
    )
    _parquet(frame.iloc[150:].assign(extra=1), parts / "b.parquet")
    with pytest.raises(BatchInputError, match=r"b\.parquet does not have the columns .* 'extra'"):
        predict_file(ws, "penguins@1", parts, data / "out.parquet", executor="ray")
    assert not (data / "out.parquet").exists()
    assert _leftovers(data) == []
