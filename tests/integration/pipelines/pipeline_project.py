"""A project in a temporary folder and pipeline modules written into it, for pipeline tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conveyor.pipelines import Pipeline, load_pipeline
from conveyor.workspace import Workspace

#: A pipeline module: every step body appends its name to calls.txt, so tests count real
#: executions. ``{extra}`` is replaced by extra source (edited steps, helpers).
FLOW = """
from __future__ import annotations

from pathlib import Path

from conveyor.pipelines import pipeline, step
from conveyor.tracking import log_metric

CALLS = Path(__file__).parent / "calls.txt"


def note(name: str) -> None:
    with CALLS.open("a") as f:
        f.write(name + "\\n")


def scale_of(x: int) -> int:
    return x * {scale}


@step
def source(n: int) -> list[int]:
    note("source")
    return list(range(n))


@step
def left(xs: list[int]) -> int:
    note("left")
    return sum(xs) + {left_offset}


@step
def right(xs: list[int]) -> int:
    note("right")
    return scale_of(len(xs))


@step
def join(a: int, b: int) -> dict[str, int]:
    note("join")
    log_metric("total", a + b)
    return {{"a": a, "b": b}}


@pipeline
def flow(n: int = 4) -> None:
    xs = source(n)
    join(left(xs), right(xs))
"""


class Project:
    """A conveyor project folder with helpers to write and load pipeline modules."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls_file = root / "calls.txt"

    def write(self, name: str, source: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    def write_flow(self, *, scale: int = 2, left_offset: int = 0) -> Path:
        return self.write("flow.py", FLOW.format(scale=scale, left_offset=left_offset))

    def load(self, ref: str = "flow.py:flow") -> Pipeline:
        return load_pipeline(ref, self.root)

    def calls(self) -> list[str]:
        """Step executions since the last call (then resets the counter)."""
        if not self.calls_file.exists():
            return []
        names = self.calls_file.read_text().split()
        self.calls_file.unlink()
        return sorted(names)

    def open(self) -> Workspace:
        return Workspace.open(self.root, search_parents=False)
