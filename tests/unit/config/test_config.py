"""Configuration: the model, file loading and environment precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config import find_root, load_settings, render_default_config
from conveyor.errors import ConfigError


def _write(root: Path, text: str) -> None:
    (root / "conveyor.yaml").write_text(text, encoding="utf-8")


def test_defaults_without_a_file_are_embedded_sqlite_and_folder(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert settings.config_file is None
    assert settings.metadata_url == f"sqlite:///{tmp_path / '.conveyor' / 'conveyor.db'}"
    assert settings.artifact_url == str(tmp_path / ".conveyor" / "artifacts")


def test_rendered_default_config_is_valid_and_round_trips(tmp_path: Path) -> None:
    _write(tmp_path, render_default_config("shop"))
    settings = load_settings(tmp_path, env={})
    assert settings.config.project.name == "shop"
    assert settings.config_file == tmp_path / "conveyor.yaml"


def test_environment_overrides_file_which_overrides_defaults(tmp_path: Path) -> None:
    _write(tmp_path, "project: {name: fromfile}\nstore: {artifact_url: s3://b/p}\n")
    env = {"CONVEYOR_PROJECT": "fromenv", "CONVEYOR_STORE__BUSY_TIMEOUT_S": "5"}
    settings = load_settings(tmp_path, env=env)
    assert settings.config.project.name == "fromenv"
    assert settings.config.store.artifact_url == "s3://b/p"
    assert settings.artifact_url == "s3://b/p"
    assert settings.config.store.busy_timeout_s == 5.0
    assert settings.env_overrides == ("project.name", "store.busy_timeout_s")


def test_unknown_key_is_an_error_listing_valid_keys(tmp_path: Path) -> None:
    _write(tmp_path, "store:\n  metadata_uri: sqlite:///x.db\n")
    with pytest.raises(ConfigError, match=r"unknown key 'store.metadata_uri'.*metadata_url"):
        load_settings(tmp_path, env={})


def test_bad_value_names_the_key_and_the_value(tmp_path: Path) -> None:
    _write(tmp_path, "store:\n  metadata_url: mysql://db\n")
    with pytest.raises(ConfigError, match=r"'store.metadata_url'.*sqlite.*mysql://db"):
        load_settings(tmp_path, env={})


def test_bad_environment_value_says_it_came_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"busy_timeout_s' \(from the environment\).*'abc'"):
        load_settings(tmp_path, env={"CONVEYOR_STORE__BUSY_TIMEOUT_S": "abc"})


@pytest.mark.parametrize(
    ("text", "match"),
    [("store: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "must be a mapping")],
)
def test_malformed_file_is_a_clear_error(tmp_path: Path, text: str, match: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        load_settings(tmp_path, env={})


def test_project_name_is_validated(tmp_path: Path) -> None:
    _write(tmp_path, "project: {name: ../evil}\n")
    with pytest.raises(ConfigError, match=r"project\.name"):
        load_settings(tmp_path, env={})


def test_find_root_walks_up_to_the_config_file(tmp_path: Path) -> None:
    _write(tmp_path, "")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_root(nested) == tmp_path


def test_master_key_is_read_from_environment_but_never_repr(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={"CONVEYOR_MASTER_KEY": "ab" * 32})
    assert settings.master_key == "ab" * 32
    assert "abab" not in repr(settings)


def test_heartbeat_timeout_defaults_to_a_minute_and_is_read_from_the_file(tmp_path: Path) -> None:
    assert load_settings(tmp_path, env={}).config.runs.heartbeat_timeout_s == 60.0
    _write(tmp_path, "runs: {heartbeat_timeout_s: 15}\n")
    assert load_settings(tmp_path, env={}).config.runs.heartbeat_timeout_s == 15.0


@pytest.mark.parametrize(
    "variable", ["CONVEYOR_HEARTBEAT_TIMEOUT_S", "CONVEYOR_RUNS__HEARTBEAT_TIMEOUT_S"]
)
def test_heartbeat_timeout_is_overridden_by_the_environment(tmp_path: Path, variable: str) -> None:
    _write(tmp_path, "runs: {heartbeat_timeout_s: 15}\n")
    settings = load_settings(tmp_path, env={variable: "2.5"})
    assert settings.config.runs.heartbeat_timeout_s == 2.5
    assert settings.env_overrides == ("runs.heartbeat_timeout_s",)


@pytest.mark.parametrize("value", ["0", "-5", "nan", "soon"])
def test_a_heartbeat_timeout_that_is_not_a_positive_number_is_refused(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ConfigError, match=r"'runs\.heartbeat_timeout_s' \(from the environment\)"):
        load_settings(tmp_path, env={"CONVEYOR_HEARTBEAT_TIMEOUT_S": value})
