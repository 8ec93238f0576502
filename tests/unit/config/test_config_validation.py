"""Configuration mistakes are caught where they are made: typos name the closest key,
metric names are checked, values are shown without secrets, and a command outside a
project refuses instead of creating one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conveyor.checks import validate_config
from conveyor.config import find_project, load_settings, render_default_config
from conveyor.errors import ConfigError, ProjectNotFoundError


def _write(root: Path, text: str) -> None:
    (root / "conveyor.yaml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "key", "closest"),
    [
        ("store:\n  metadata_uri: sqlite:///x.db\n", "store.metadata_uri", "metadata_url"),
        ("environments:\n  staging: {stratgy: canary}\n", "environments.staging.stratgy",
         "strategy"),
        ("gates:\n  - {chek: min_metric}\n", "gates.0.chek", "check"),
        ("environments:\n  prod:\n    analysis: {max_divergense: 0.3}\n",
         "environments.prod.analysis.max_divergense", "max_divergence"),
        ("triggers:\n  - {name: t, kind: drift, model: m, cooldown: 5}\n", "triggers.0.cooldown",
         "cooldown_s"),
        ("evaluation:\n  targt: label\n", "evaluation.targt", "target"),
        ("evalution:\n  target: label\n", "evalution", "evaluation"),
    ],
)  # fmt: skip
def test_an_unknown_key_names_the_closest_valid_key(
    tmp_path: Path, text: str, key: str, closest: str
) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"unknown key '{key}' \(did you mean '{closest}'\?\)"):
        load_settings(tmp_path, env={})


def test_a_key_like_nothing_lists_the_valid_keys_without_guessing(tmp_path: Path) -> None:
    _write(tmp_path, "store:\n  zzzz: 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, env={})
    assert "did you mean" not in str(info.value)
    assert "valid keys here: artifact_url, busy_timeout_s" in str(info.value)


def test_a_bad_value_is_shown_without_its_password(tmp_path: Path) -> None:
    _write(tmp_path, "store:\n  metadata_url: mysql://root:hunter2@db/x\n")
    with pytest.raises(ConfigError, match=r"mysql://root:\*\*\*@db/x") as info:
        load_settings(tmp_path, env={})
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value.fields)


def test_a_typo_in_a_gate_metric_is_refused_naming_the_known_one(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "evaluation: {target: label}\n"
        "gates:\n  - {check: min_metric, params: {metric: auc, min: 0.8}}\n",
    )
    config = load_settings(tmp_path, env={}).config
    with pytest.raises(ConfigError, match=r"gates\[0\].*unknown metric 'auc'.*'roc_auc'") as info:
        validate_config(config)
    assert info.value.hint is not None
    assert "source: recorded" in info.value.hint


@pytest.mark.parametrize(
    "gate",
    [
        "{check: min_metric, params: {metric: roc_auc, min: 0.8}}",
        "{check: min_metric, params: {metric: my_logged_auc, min: 0.8, source: recorded}}",
        "{check: champion_comparison, params: {metric: accuracy}}",
        "{check: loss_decreases, params: {metric: train_loss}}",
    ],
)
def test_known_and_recorded_metrics_pass(tmp_path: Path, gate: str) -> None:
    _write(tmp_path, f"evaluation: {{target: label}}\ngates:\n  - {gate}\n")
    validate_config(load_settings(tmp_path, env={}).config)


def test_a_recorded_metric_is_allowed_when_no_holdout_is_configured(tmp_path: Path) -> None:
    _write(tmp_path, "gates:\n  - {check: min_metric, params: {metric: auc, min: 0.8}}\n")
    validate_config(load_settings(tmp_path, env={}).config)


def test_champion_comparison_always_needs_a_holdout_metric(tmp_path: Path) -> None:
    _write(tmp_path, "gates:\n  - {check: champion_comparison, params: {metric: acuracy}}\n")
    with pytest.raises(ConfigError, match=r"unknown metric 'acuracy' \(did you mean 'accuracy'"):
        validate_config(load_settings(tmp_path, env={}).config)


def test_an_unknown_check_names_the_closest_one(tmp_path: Path) -> None:
    _write(tmp_path, "gates:\n  - {check: min_metrics, params: {metric: f1, min: 0.5}}\n")
    with pytest.raises(
        ConfigError, match=r"unknown check 'min_metrics' \(did you mean 'min_metric'"
    ):
        validate_config(load_settings(tmp_path, env={}).config)


def test_find_project_looks_in_parent_folders(tmp_path: Path) -> None:
    _write(tmp_path, "project: {name: shop}\n")
    inner = tmp_path / "src" / "features"
    inner.mkdir(parents=True)
    assert find_project(inner) == tmp_path.resolve()


def test_find_project_refuses_outside_a_project_with_an_init_hint(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="not a conveyor project") as info:
        find_project(tmp_path)
    assert info.value.hint is not None
    assert "conveyor init" in info.value.hint
    assert isinstance(info.value, ConfigError)
    assert list(tmp_path.iterdir()) == []


def test_the_scaffolded_configuration_declares_staging_and_production(tmp_path: Path) -> None:
    text = render_default_config("shop")
    assert set(yaml.safe_load(text)["environments"]) == {"staging", "production"}
    _write(tmp_path, text)
    settings = load_settings(tmp_path, env={})
    assert set(settings.config.environments) == {"staging", "production"}


def test_settings_keep_the_environment_they_were_loaded_with_out_of_sight(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={"HOOK_SECRET": "s3cret-value", "CONVEYOR_PROJECT": "p"})
    assert settings.environ["HOOK_SECRET"] == "s3cret-value"
    assert "s3cret-value" not in repr(settings)


def test_looking_up_a_misspelt_check_names_the_registered_one() -> None:
    from conveyor.checks import UnknownCheckError, get_check

    with pytest.raises(UnknownCheckError, match=r"'min_metrc' is registered \(did you mean"):
        get_check("min_metrc")
