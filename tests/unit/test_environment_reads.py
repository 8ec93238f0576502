"""Library code reads the process environment in one place: the settings loader.

Everything else receives an environment (``Workspace.open(env=...)``, ``Settings.environ``)
or asks :func:`conveyor.config.process_env`, so conveyor can be driven with any
environment and no behaviour hides in a variable read deep inside a package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import conveyor

SRC = Path(conveyor.__file__).parent
#: The settings loader, the one module that touches ``os.environ``.
ALLOWED = {SRC / "core" / "_env.py"}


def _environment_uses(path: Path, root: Path = SRC) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in {"environ", "getenv", "putenv", "unsetenv", "environb"}
        ):
            found.append((node.lineno, f"os.{node.attr}"))
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            names = {alias.name for alias in node.names}
            if names & {"environ", "getenv", "putenv", "environb"}:
                found.append((node.lineno, "from os import ..."))
    return [f"{path.relative_to(root)}:{line}: {what}" for line, what in sorted(found)]


def test_only_the_settings_loader_reads_the_environment() -> None:
    uses = [
        use
        for path in sorted(SRC.rglob("*.py"))
        if path not in ALLOWED
        for use in _environment_uses(path)
    ]
    assert uses == []


def test_the_check_sees_every_form_of_read(tmp_path: Path) -> None:
    module = tmp_path / "sneaky.py"
    module.write_text(
        "import os\nfrom os import getenv\n"
        "TIMEOUT = os.environ.get('X', '1')\nNAME = os.getenv('Y')\n"
    )
    assert _environment_uses(module, tmp_path) == [
        "sneaky.py:2: from os import ...",
        "sneaky.py:3: os.environ",
        "sneaky.py:4: os.getenv",
    ]
