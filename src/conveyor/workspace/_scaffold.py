"""``conveyor init``: scaffold a new project folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conveyor.config import CONFIG_FILE, render_default_config
from conveyor.core import validate_name
from conveyor.errors import ConfigError

_GITIGNORE_LINE = ".conveyor/"

_PIPELINE_PLACEHOLDER = '''\
"""The project's pipelines.

Version your data first:

    conveyor data add orders data/orders.csv

Pipelines (``@conveyor.step`` / ``@conveyor.pipeline``) go in this module and are run with
``conveyor run pipelines:training``.
"""
'''


def init_project(
    directory: str | os.PathLike[str] = ".", *, name: str | None = None, force: bool = False
) -> list[Path]:
    """Create a conveyor project in ``directory`` and return the files written.

    Writes ``conveyor.yaml`` (commented defaults), ``pipelines.py`` (a placeholder for the
    project's pipelines) and a ``.gitignore`` entry for ``.conveyor/`` (the local stores),
    leaving ``conveyor.lock`` to be committed. Existing files other than ``conveyor.yaml``
    are kept; ``.gitignore`` is appended to, never replaced.

    Args:
        directory: The project folder; created if missing.
        name: Project name; default the folder's name made safe.
        force: Overwrite an existing ``conveyor.yaml``.

    Raises:
        ConfigError: ``conveyor.yaml`` already exists and ``force`` is false.
        InvalidNameError: ``name`` is not a valid project name.
    """
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_FILE
    if config_path.exists() and not force:
        raise ConfigError(
            f"{config_path} already exists.",
            hint="Edit it, or run `conveyor init --force` to overwrite it with the defaults.",
            path=str(config_path),
        )
    project = validate_name(name or _safe_name(root.name), kind="project name")
    written = [config_path]
    config_path.write_text(render_default_config(project), encoding="utf-8")
    pipelines = root / "pipelines.py"
    if not pipelines.exists():
        pipelines.write_text(_PIPELINE_PLACEHOLDER, encoding="utf-8")
        written.append(pipelines)
    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if _GITIGNORE_LINE not in existing.splitlines():
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        with gitignore.open("a", encoding="utf-8") as fh:
            fh.write(
                f"{prefix}# conveyor's local stores (data is restored by `conveyor data pull`)\n"
            )
            fh.write(f"{_GITIGNORE_LINE}\n")
        written.append(gitignore)
    return written


def _safe_name(folder: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folder).strip("-._")
    return cleaned[:128] or "conveyor-project"
