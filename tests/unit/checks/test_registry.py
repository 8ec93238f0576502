"""The checks registry: built-ins listed by name, user classes, entry-point plug-ins."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from conveyor.checks import (
    ENTRY_POINT_GROUP,
    Check,
    CheckContext,
    CheckRegistryError,
    CheckResult,
    UnknownCheckError,
    _plugins,
    available_checks,
    get_check,
    load_entry_points,
    register_check,
    unregister_check,
)
from conveyor.errors import ConfigError

BUILTIN_NAMES = {
    "schema", "anomalies", "data_drift", "label_leakage", "duplicates", "class_balance",
    "feature_importance", "loss_decreases", "overfitting", "min_metric", "champion_comparison",
    "slices", "fairness", "robustness", "invariance", "calibration", "latency", "artifact_size",
    "save_load_parity", "pipeline_sample", "signature_serving", "serving_roundtrip",
}  # fmt: skip


class RowCountCheck(Check):
    name = "row_count_test"
    subject_kind = "dataset"

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        return self.result(ctx, passed=True)


@pytest.fixture
def registered() -> Iterator[type[Check]]:
    register_check(RowCountCheck)
    yield RowCountCheck
    unregister_check(RowCountCheck.name)


def test_every_built_in_check_is_listed_without_importing_it() -> None:
    assert set(available_checks()) >= BUILTIN_NAMES
    assert available_checks() == sorted(available_checks())


def test_built_ins_are_declared_as_module_and_class() -> None:
    for name, target in _plugins.BUILTINS.items():
        module, sep, cls = target.partition(":")
        assert sep == ":", name
        assert module.startswith("conveyor."), name
        assert cls.endswith("Check"), name


def test_registered_check_is_found_by_name_and_listed(registered: type[Check]) -> None:
    assert get_check("row_count_test") is registered
    assert "row_count_test" in available_checks()


def test_unregistered_check_is_gone(registered: type[Check]) -> None:
    unregister_check(registered.name)
    assert "row_count_test" not in available_checks()
    register_check(registered)  # the fixture removes it again


def test_unknown_check_is_a_config_error_listing_valid_names() -> None:
    with pytest.raises(UnknownCheckError, match="No check named 'nope'") as info:
        get_check("nope")
    assert isinstance(info.value, ConfigError)
    assert info.value.hint is not None
    assert "min_metric" in info.value.hint
    assert "min_metric" in info.value.fields["valid"]


def test_registering_a_non_check_is_refused() -> None:
    with pytest.raises(CheckRegistryError, match="not a Check subclass"):
        register_check(dict)  # type: ignore[arg-type]


def test_built_in_whose_module_fails_to_import_gives_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(_plugins.BUILTINS, "broken", "conveyor.checks._missing_mod:BrokenCheck")
    with pytest.raises(CheckRegistryError, match="built-in check 'broken' could not be loaded"):
        get_check("broken")


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "acme_checks.py").write_text(
        textwrap.dedent(
            """
            from conveyor.checks import Check

            class AcmeCheck(Check):
                name = "acme"
                subject_kind = "model"

                def run(self, ctx, **params):
                    return self.result(ctx, passed=True)

            class PluginLatencyCheck(Check):
                name = "latency"
                subject_kind = "model"

                def run(self, ctx, **params):
                    return self.result(ctx, passed=True)

            NOT_A_CHECK = 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "acme_checks"


def test_entry_points_load_check_classes_by_their_name(plugin_module: str) -> None:
    point = EntryPoint("acme", f"{plugin_module}:AcmeCheck", "conveyor.checks")
    found = load_entry_points([point])
    assert list(found) == ["acme"]
    assert issubclass(found["acme"], Check)


def test_entry_point_that_fails_to_import_names_the_plugin() -> None:
    point = EntryPoint("ghost", "no_such_module_xyz:Ghost", "conveyor.checks")
    with pytest.raises(CheckRegistryError, match=r"plug-in .ghost.*failed to load"):
        load_entry_points([point])


def test_entry_point_that_is_not_a_check_is_refused(plugin_module: str) -> None:
    point = EntryPoint("odd", f"{plugin_module}:NOT_A_CHECK", "conveyor.checks")
    with pytest.raises(CheckRegistryError, match="not a Check subclass"):
        load_entry_points([point])


@pytest.fixture
def installed_plugin(plugin_module: str, tmp_path: Path) -> Iterator[str]:
    """A distribution on ``sys.path`` declaring two checks, one named like a built-in."""
    info = tmp_path / "acme_checks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nacme = {plugin_module}:AcmeCheck\n"
        f"latency = {plugin_module}:PluginLatencyCheck\n"
    )
    _plugins.reset_plugins()
    yield "acme"
    _plugins.reset_plugins()  # the next lookup reads the entry points without it


def test_installed_plugins_are_looked_up_before_built_ins(installed_plugin: str) -> None:
    assert get_check(installed_plugin).__name__ == "AcmeCheck"
    assert get_check("latency").__name__ == "PluginLatencyCheck"
    assert installed_plugin in available_checks()


def test_installed_plugins_are_read_once_until_reset(tmp_path: Path, installed_plugin: str) -> None:
    assert installed_plugin in available_checks()
    (tmp_path / "acme_checks-1.0.dist-info" / "entry_points.txt").write_text("")
    assert installed_plugin in available_checks()  # cached for the process
    _plugins.reset_plugins()
    assert installed_plugin not in available_checks()


def test_each_check_error_class_has_its_own_code() -> None:
    from conveyor.checks import CheckError
    from conveyor.checks.data import DataCheckInputError, SchemaNotFoundError
    from conveyor.checks.model import ModelCheckInputError
    from conveyor.errors import ConveyorError

    classes = [
        ConveyorError, ConfigError, CheckError, CheckRegistryError, UnknownCheckError,
        DataCheckInputError, SchemaNotFoundError, ModelCheckInputError,
    ]  # fmt: skip
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes), codes
    assert (CheckError.code, CheckRegistryError.code, UnknownCheckError.code) == (
        "check_error",
        "check_registry_error",
        "unknown_check",
    )
