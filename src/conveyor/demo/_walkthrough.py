"""The short data-versioning walkthrough: add, diff, checkout, push, pull into a clone."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from conveyor.core import hash_file
from conveyor.demo._data import generate_sessions
from conveyor.demo._errors import expect
from conveyor.workspace import Workspace, init_project


@dataclass
class WalkthroughResult:
    """What the walkthrough did, for the caller (and the end-to-end test) to check."""

    directory: Path
    versions: list[int] = field(default_factory=list)
    changed_columns: list[str] = field(default_factory=list)
    restored_hash: str = ""
    audit_events: int = 0
    seconds: float = 0.0


def run_walkthrough(
    directory: str | Path | None = None, *, rows: int = 20_000, console: Console | None = None
) -> WalkthroughResult:
    """Play the data-versioning story in ``directory`` (a new temporary folder by default).

    Stages: scaffold a project; version the summer sessions (v1); version the winter
    sessions (v2) and diff them; check v1 out; push to a second store (a "remote" folder);
    clone the project into a fresh folder, pull, and check that the restored bytes are
    identical; verify the audit trail. Each stage checks its own outcome.

    Raises:
        DemoFailed: A stage did not produce what it should.
    """
    out = console or Console()
    started = time.perf_counter()
    base = (
        Path(directory).resolve() if directory else Path(tempfile.mkdtemp(prefix="conveyor-demo-"))
    )
    project, clone, remote = base / "shop", base / "shop-clone", base / "remote"
    result = WalkthroughResult(directory=base)
    out.rule("[bold]conveyor demo[/]: versioned data for an e-commerce recommender")

    init_project(project, name="shop")
    data_dir = project / "data"
    data_dir.mkdir()
    summer_csv = data_dir / "sessions.csv"
    generate_sessions(rows, seed=7, season="summer").to_csv(summer_csv, index=False)
    out.print(f"1. Project scaffolded in {project}; {rows:,} summer sessions written.")

    with Workspace.open(project) as ws:
        v1 = ws.datasets.add("sessions", summer_csv, message="summer sessions")
        expect(v1.version == 1, f"first version should be 1, got {v1.version}")
        out.print(
            f"2. [bold]data add[/] sessions -> v{v1.version} "
            f"({v1.row_count:,} rows, hash {v1.content_hash[:12]}), profile computed."
        )
        again = ws.datasets.add("sessions", summer_csv)
        expect(again.version == 1, "re-adding unchanged data must not create a version")
        out.print("3. Re-adding the same file is recognised as unchanged: still v1.")

        generate_sessions(rows, seed=7, season="winter").to_csv(summer_csv, index=False)
        v2 = ws.datasets.add("sessions", summer_csv, message="winter sessions")
        expect(v2.version == 2 and v2.parent_version == 1, "second version should be v2 <- v1")
        diff = ws.datasets.diff("sessions@1", "sessions@2")
        changed = sorted(diff.changed_columns)
        result.changed_columns = changed
        expect("price" in changed, f"the price shift should show in the diff, got {changed}")
        out.print(
            f"4. The season changes: v2 added; diff v1..v2 shows {len(changed)} columns moved:"
        )
        out.print(_diff_table(diff.stat_changes))

        checkout = ws.datasets.checkout("sessions@1", base / "checkout-v1")
        out.print(f"5. [bold]data checkout[/] sessions@1 -> {checkout} (every byte verified).")

        pushed = ws.datasets.push(ws.open_remote(str(remote)))
        out.print(f"6. [bold]data push[/] to {remote}: {pushed}")
        result.versions = [v.version for v in ws.datasets.log("sessions")]

    _clone_and_pull(project, clone, remote, result=result, out=out)

    with Workspace.open(project) as ws:
        verdict = ws.verify_audit()
        expect(verdict.ok, f"audit chain broken: {verdict.reason}")
        result.audit_events = verdict.count
    out.print(f"8. [bold]audit verify[/]: {verdict.count} events, hash chain intact.")
    result.seconds = time.perf_counter() - started
    out.rule(f"[green]demo passed[/] in {result.seconds:.1f} s  ({base})")
    return result


def _clone_and_pull(
    project: Path, clone: Path, remote: Path, *, result: WalkthroughResult, out: Console
) -> None:
    """A teammate clones the repository (conveyor.yaml and conveyor.lock, no .conveyor/),
    pulls, and must get exactly the original bytes."""
    clone.mkdir()
    for name in ("conveyor.yaml", "conveyor.lock", ".gitignore"):
        (clone / name).write_bytes((project / name).read_bytes())
    with Workspace.open(clone) as ws2:
        pulled = ws2.datasets.pull(ws2.open_remote(str(remote)))
        restored = ws2.datasets.checkout("sessions@latest", result.directory / "clone-latest")
        expected = ws2.datasets.get("sessions@latest")
        expect(expected.version == 2, "the clone should know sessions@2 after pull")
        with Workspace.open(project) as ws:
            original = ws.datasets.checkout("sessions@2", result.directory / "original-latest")
        result.restored_hash = _tree_hash(restored)
        expect(
            result.restored_hash == _tree_hash(original),
            "bytes restored in the clone differ from the original",
        )
        out.print(f"7. Fresh clone: [bold]data pull[/] {pulled}.")
        out.print("   Restored bytes are identical to the original's.")
        verdict = ws2.verify_audit()
        expect(verdict.ok, f"audit chain of the clone broken: {verdict.reason}")


def _diff_table(stat_changes: dict[str, dict[str, dict[str, object]]]) -> Table:
    table = Table(show_header=True, header_style="bold")
    for column in ("column", "mean v1", "mean v2"):
        table.add_column(column)
    for name, stats in sorted(stat_changes.items()):
        change = stats.get("mean")
        if change is not None:
            table.add_row(name, _fmt(change.get("a")), _fmt(change.get("b")))
    return table


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _tree_hash(path: Path) -> str:
    if path.is_file():
        return hash_file(path)
    parts = [
        f"{p.relative_to(path)}:{hash_file(p)}" for p in sorted(path.rglob("*")) if p.is_file()
    ]
    from conveyor.core import hash_bytes

    return hash_bytes("\n".join(parts).encode())
