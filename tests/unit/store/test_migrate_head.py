"""The store knows its schema head without loading Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from conveyor.store import open_store
from conveyor.store._migrate import (
    HEAD_REVISION,
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
)


def test_head_constant_is_alembics_head() -> None:
    # A new migration must update HEAD_REVISION, or stores would never migrate to it.
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [HEAD_REVISION]
    assert head_revision() == HEAD_REVISION


def test_current_revision_reads_the_version_table(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as connection:
        assert current_revision(connection) is None
        connection.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32))"))
        assert current_revision(connection) is None
        connection.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES ('0009')"))
        assert current_revision(connection) == "0009"
    engine.dispose()


def test_opening_a_current_store_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    open_store(url).close()  # migrated here, so the fresh interpreter below finds it current
    script = (
        "import sys\n"
        "from conveyor.store import open_store\n"
        f"open_store({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
