"""``conveyor init``: scaffold a new project folder."""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path

from conveyor.config import CONFIG_FILE, render_default_config
from conveyor.core import validate_name
from conveyor.errors import ConfigError

_GITIGNORE_LINE = ".conveyor/"

#: ``--ci`` choices: the workflow template shipped with the package and where it goes.
CI_TEMPLATES: dict[str, tuple[str, str]] = {
    "github": ("github-workflow.yml", ".github/workflows/conveyor.yml"),
    "gitlab": ("gitlab-ci.yml", ".gitlab-ci.yml"),
}

_PIPELINE_PLACEHOLDER = '''\
"""The project's pipelines.

Version your data first:

    conveyor data add orders data/orders.csv

Pipelines (``@conveyor.step`` / ``@conveyor.pipeline``) go in this module and are run with
``conveyor run pipelines:training``.
"""
'''


def init_project(
    directory: str | os.PathLike[str] = ".",
    *,
    name: str | None = None,
    force: bool = False,
    ci: str | None = None,
    server_url: str | None = None,
) -> list[Path]:
    """Create a conveyor project in ``directory`` and return the files written.

    Writes ``conveyor.yaml`` (commented defaults), ``pipelines.py`` (a placeholder for the
    project's pipelines) and a ``.gitignore`` entry for ``.conveyor/`` (the local stores),
    leaving ``conveyor.lock`` to be committed. Existing files other than ``conveyor.yaml``
    are kept; ``.gitignore`` is appended to, never replaced.

    Args:
        directory: The project folder; created if missing.
        name: Project name; default the folder's name made safe.
        force: Overwrite an existing ``conveyor.yaml`` (and the CI workflow file).
        ci: ``"github"`` or ``"gitlab"``: also write a workflow that runs ``conveyor ci``
            on pull (merge) requests and posts the Markdown report as a comment. In a
            folder that already has ``conveyor.yaml``, only the workflow is written.
        server_url: The team server the workflow's ``conveyor ci`` works through (written
            into the workflow); default the CI system's ``CONVEYOR_SERVER_URL`` variable.
            The token always comes from the CI system's secrets (``CONVEYOR_TOKEN``).

    Raises:
        ConfigError: ``conveyor.yaml`` (or the workflow file) already exists and ``force``
            is false, ``ci`` is not a known CI system, or ``server_url`` is not an http(s)
            URL fit to send a token to.
        InvalidNameError: ``name`` is not a valid project name.
    """
    root = Path(directory).resolve()
    if server_url is not None:
        from conveyor.remote import check_server_url  # the HTTP client, only when needed

        server_url = check_server_url(server_url)
    if ci is not None and ci not in CI_TEMPLATES:
        raise ConfigError(
            f"Unknown CI system {ci!r}.",
            hint=f"Use --ci with one of: {', '.join(sorted(CI_TEMPLATES))}.",
            ci=ci,
        )
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_FILE
    if ci is not None and config_path.exists() and not force:
        # Adding CI to an existing project must not require overwriting its configuration.
        return [_write_ci(root, ci, force=force, server_url=server_url)]
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
    if ci is not None:
        written.append(_write_ci(root, ci, force=force, server_url=server_url))
    return written


def _write_ci(root: Path, ci: str, *, force: bool, server_url: str | None) -> Path:
    template, relative = CI_TEMPLATES[ci]
    target = root / relative
    if target.exists() and not force:
        raise ConfigError(
            f"{target} already exists.",
            hint="Edit it, or pass --force to replace it with conveyor's workflow.",
            path=str(target),
        )
    text = (
        resources.files("conveyor.workspace")
        .joinpath("templates", template)
        .read_text(encoding="utf-8")
    )
    if server_url:
        text = text.replace("__SERVER_URL__", json.dumps(server_url))
    elif ci == "github":
        text = text.replace("__SERVER_URL__", "${{ vars.CONVEYOR_SERVER_URL }}")
    else:  # GitLab passes the project's CI/CD variable CONVEYOR_SERVER_URL on its own
        text = text.replace("  variables:\n    CONVEYOR_SERVER_URL: __SERVER_URL__\n", "")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _safe_name(folder: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folder).strip("-._")
    return cleaned[:128] or "conveyor-project"
