"""Loading ``conveyor.yaml`` and applying ``CONVEYOR_*`` overrides."""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from conveyor.config._model import ConveyorConfig, Settings
from conveyor.core import process_env, redact, redact_value
from conveyor.errors import ConfigError, ProjectNotFoundError

CONFIG_FILE = "conveyor.yaml"

#: Short environment variables and the dotted key each one sets. Any key can also be
#: set as ``CONVEYOR_<SECTION>__<KEY>`` (double underscore between levels).
ENV_ALIASES: dict[str, str] = {
    "CONVEYOR_PROJECT": "project.name",
    "CONVEYOR_METADATA_URL": "store.metadata_url",
    "CONVEYOR_ARTIFACT_URL": "store.artifact_url",
    "CONVEYOR_REMOTE_URL": "store.remote_url",
    "CONVEYOR_SERVER_URL": "store.server_url",
    "CONVEYOR_ENCRYPTION": "store.encryption.enabled",
    "CONVEYOR_KEY_FILE": "store.encryption.key_file",
    "CONVEYOR_HEARTBEAT_TIMEOUT_S": "runs.heartbeat_timeout_s",
    "CONVEYOR_ONLINE_URL": "features.online_url",
}
# Variables that are read elsewhere and are not configuration keys.
_NOT_KEYS = {"CONVEYOR_MASTER_KEY", "CONVEYOR_ACTOR", "CONVEYOR_REQUIRE_SERVICES", "CONVEYOR_TOKEN"}


def find_root(start: str | os.PathLike[str] = ".") -> Path:
    """Return the nearest folder at or above ``start`` that holds ``conveyor.yaml``.

    Falls back to ``start`` itself when no such folder exists, so a workspace can run
    on defaults in any folder.
    """
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return here


def find_project(start: str | os.PathLike[str] = ".", *, search_parents: bool = True) -> Path:
    """Return the project folder: the nearest folder at or above ``start`` with ``conveyor.yaml``.

    Unlike :func:`find_root` there is no fallback: commands that read or write a project's
    records call this so that running them in the wrong folder creates nothing there.

    Args:
        start: Where to start looking.
        search_parents: Look in parent folders too (as git does); else only ``start``.

    Raises:
        ProjectNotFoundError: No ``conveyor.yaml`` in ``start`` (or above it).

    Example:
        >>> find_project("src/features")  # doctest: +SKIP
        PosixPath('/home/me/shop')
    """
    here = Path(start).resolve()
    for folder in (here, *here.parents) if search_parents else (here,):
        if (folder / CONFIG_FILE).is_file():
            return folder
    where = " or any parent folder" if search_parents else ""
    raise ProjectNotFoundError(
        f"No {CONFIG_FILE} in {str(here)!r}{where}: this is not a conveyor project.",
        hint="Run `conveyor init` to create a project here, or cd into an existing project.",
        path=str(here),
    )


def load_settings(
    root: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the configuration of the project at ``root``.

    Args:
        root: The project folder (``conveyor.yaml`` is looked for there, not above it).
        env: Environment to read ``CONVEYOR_*`` overrides from (default ``os.environ``).

    Returns:
        The validated :class:`Settings`.

    Raises:
        ConfigError: The file is not valid YAML, has unknown keys or bad values, or an
            environment variable holds a bad value. The message names each key.
    """
    env = process_env() if env is None else env
    folder = Path(root).resolve()
    path = folder / CONFIG_FILE
    data: dict[str, Any] = {}
    config_file: Path | None = None
    if path.is_file():
        config_file = path
        data = _read_yaml(path)
    overrides = _env_overrides(env)
    for dotted, value in overrides.items():
        _set_dotted(data, dotted, value)
    try:
        config = ConveyorConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, config_file, overrides) from None
    return Settings(
        root=folder,
        config=config,
        config_file=config_file,
        master_key=env.get("CONVEYOR_MASTER_KEY") or None,
        env_overrides=tuple(sorted(overrides)),
        environ=dict(env),
    )


def dump_config(config: ConveyorConfig) -> str:
    """Render a configuration as YAML (the form ``conveyor config show`` prints)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def render_default_config(project_name: str) -> str:
    """The commented ``conveyor.yaml`` that ``conveyor init`` writes."""
    return f"""\
# conveyor project configuration. Environment variables CONVEYOR_* override this file.
project:
  name: {project_name}

store:
  # Metadata (runs, versions, audit trail). PostgreSQL for teams:
  #   postgresql+psycopg://user@host:5432/db
  metadata_url: sqlite:///.conveyor/conveyor.db
  # Content-addressed artifacts: a folder, or s3://bucket/prefix
  artifact_url: .conveyor/artifacts
  # Where `conveyor data push|pull` send and fetch data (a folder or s3://...).
  remote_url: null
  encryption:
    # The master key comes from CONVEYOR_MASTER_KEY or key_file, never from this file.
    enabled: false
    key_file: null

# The training pipeline `conveyor ci` runs (MODULE:PIPELINE) and its parameters.
# pipelines:
#   training: pipelines:training
#   params: {{n_trials: 4}}

# Where `conveyor ci` finds the candidate model and the holdout in the run.
# evaluation:
#   model: my-model          # registry name the candidate is registered under
#   model_step: train        # step whose output is the fitted model
#   holdout_step: split      # step whose output holds the holdout frame
#   holdout_output: 1        # which output of that step (0-based)
#   target: target           # label column of the holdout
#   positive_label: 1        # optional, for binary metrics
#   sensitive: []            # optional: fairness attributes
#   slices: []               # optional: slice columns
#   irrelevant: []           # optional: features that must not change predictions

# Runs: a run that shows no heartbeat for this many seconds is taken for dead (its
# process was killed) and failed, so it can be resumed (env CONVEYOR_HEARTBEAT_TIMEOUT_S).
# runs:
#   heartbeat_timeout_s: 60

# Quality gates: checks with params and severity (error blocks, warning holds).
# `conveyor config validate` lists the valid check names and params.
# gates:
#   - {{check: min_metric, params: {{metric: roc_auc, min: 0.9}}, severity: error}}
#   - check: champion_comparison
#     params: {{metric: roc_auc, margin: 0.01, mode: non_inferiority}}
#   - {{check: calibration, params: {{max_ece: 0.1}}, severity: warning}}

# Where models are deployed (`conveyor deploy NAME@V --env ENV`, `conveyor serve --env ENV`).
# strategy: replace, blue-green, canary, shadow or ab.
environments:
  staging:
    strategy: replace
  production:
    strategy: replace
    # strategy: canary
    # steps: [5, 25, 50, 100]    # percent of traffic per step
    # requires_approval: true    # `conveyor approve --env production` before it starts

# Webhooks: deployments, alerts and the agent post events here (signed with HMAC-SHA256
# when secret_env names a variable holding the secret).
# webhooks:
#   allowed_hosts: [hooks.example.com]
#   endpoints:
#     - {{url: "https://hooks.example.com/conveyor", secret_env: CONVEYOR_WEBHOOK_SECRET}}
"""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc}",
            hint="Check the file's permissions and that it is UTF-8 text.",
            path=str(path),
        ) from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path.name} is not valid YAML: {exc}",
            hint="Fix the syntax, then run `conveyor config validate`.",
            path=str(path),
        ) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{path.name} must be a mapping of sections, got {type(loaded).__name__}.",
            hint="Start from the file `conveyor init` writes.",
            path=str(path),
        )
    return loaded


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith("CONVEYOR_") or key in _NOT_KEYS:
            continue
        if key in ENV_ALIASES:
            out[ENV_ALIASES[key]] = _env_value(value)
        elif "__" in key:
            dotted = ".".join(part.lower() for part in key[len("CONVEYOR_") :].split("__"))
            out[dotted] = _env_value(value)
    return out


def _env_value(value: str) -> Any:
    # YAML scalars, so CONVEYOR_ENCRYPTION=true and ...=30 get their natural types.
    try:
        return yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        return value


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _config_error(
    exc: ValidationError, config_file: Path | None, overrides: dict[str, Any]
) -> ConfigError:
    where = config_file.name if config_file else "configuration"
    problems = []
    suggestions: dict[str, str] = {}
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        source = " (from the environment)" if key in overrides else ""
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(err["loc"][:-1])
            closest = difflib.get_close_matches(str(err["loc"][-1]), valid, n=1, cutoff=0.6)
            if closest:
                suggestions[key] = closest[0]
                problems.append(
                    f"unknown key '{key}'{source} (did you mean '{closest[0]}'?); "
                    f"valid keys here: {', '.join(valid)}"
                )
            else:
                problems.append(f"unknown key '{key}'{source}; valid keys here: {', '.join(valid)}")
        else:
            # Values are shown redacted: a bad URL may still carry a real password.
            got = redact_value(err.get("input"))
            problems.append(f"'{key}'{source}: {redact(err['msg'])} (got {got!r})")
    message = f"Invalid {where}: " + "; ".join(problems)
    hint = "Fix the key(s) named above, then run `conveyor config validate`."
    if suggestions:
        renames = ", ".join(f"'{k}' -> '{v}'" for k, v in suggestions.items())
        hint = f"Rename {renames}, then run `conveyor config validate`."
    return ConfigError(message, hint=hint, problems=problems, suggestions=suggestions)


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` (a pydantic error location) of the configuration."""
    annotation: Any = ConveyorConfig
    for part in loc:
        if hasattr(annotation, "model_fields"):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
            continue
        # A list item (gates[0]) or a mapping value (environments.<name>): step inside.
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if not args:
            return []
        annotation = args[-1] if typing.get_origin(annotation) is dict else args[0]
    model = _section_model(annotation)
    return sorted(model.model_fields) if model is not None else []


def _section_model(annotation: Any) -> Any:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``tuple[X, ...]``,
    ``dict[str, X]``), or ``None`` when it holds none."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in typing.get_args(annotation):
        found = _section_model(arg)
        if found is not None:
            return found
    return None
