"""Feature definitions: validation, specs and version hashes, view tables from sources."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.data
import pytest

from conveyor.features import (
    Definitions,
    Entity,
    FeatureDefinitionError,
    FeatureNotFoundError,
    FeatureService,
    FeatureSourceError,
    FeatureView,
    Field,
    build_view_table,
    definition_hash,
    transformation,
)

country = Entity("country", join_keys=["country"])


def gapminder() -> pd.DataFrame:
    """Real data shipped with plotly: string keys, ints, floats and strings."""
    frame = plotly.data.gapminder()
    frame["event_timestamp"] = pd.to_datetime(frame["year"].astype(str) + "-07-01", utc=True)
    return frame


def stats_view(**changes: object) -> FeatureView:
    spec: dict[str, object] = {
        "entities": [country],
        "source": "gapminder@latest",
        "schema": {"lifeExp": "float64", "pop": "int64", "continent": "string"},
        "ttl": timedelta(days=3650),
    }
    spec.update(changes)
    return FeatureView("country_stats", **spec)  # type: ignore[arg-type]


def test_a_view_spec_names_everything_its_version_depends_on() -> None:
    spec = stats_view().spec()
    assert spec["dataset"] == "gapminder@latest"
    assert spec["entities"] == [{"kind": "entity", "name": "country", "join_keys": ["country"]}]
    assert [f["name"] for f in spec["schema"]] == ["lifeExp", "pop", "continent"]
    assert spec["ttl_s"] == 3650 * 86400
    assert definition_hash(spec) == definition_hash(stats_view().spec())
    assert definition_hash(spec) != definition_hash(stats_view(ttl=None).spec())
    assert definition_hash(spec) != definition_hash(
        stats_view(schema={"lifeExp": "float64", "pop": "float64", "continent": "string"}).spec()
    )


def test_a_transformation_is_versioned_by_its_source() -> None:
    @transformation("gapminder")
    def per_capita(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(gdp=frame["gdpPercap"] * frame["pop"])

    @transformation("gapminder")
    def per_capita_2(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(gdp=frame["gdpPercap"] * frame["pop"] / 1e9)

    a = stats_view(source=per_capita, schema={"gdp": "float64"})
    b = stats_view(source=per_capita_2, schema={"gdp": "float64"})
    assert a.dataset == "gapminder@latest"
    assert a.spec()["transformation"]["source_hash"] != b.spec()["transformation"]["source_hash"]
    assert definition_hash(a.spec()) != definition_hash(b.spec())


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"schema": {}}, "declares no features"),
        ({"schema": {"lifeExp": "decimal"}}, "'decimal'"),
        ({"schema": {"country": "string"}}, "['country']"),
        ({"ttl": timedelta(0)}, "ttl must be a positive"),
        ({"source": "gapminder@v2"}, "'v2'"),
        ({"source": "../etc@latest"}, "../etc"),
        ({"entities": []}, "at least one Entity"),
        ({"timestamp_field": "a\x00b"}, "timestamp field"),
    ],
)
def test_malformed_views_are_refused_naming_the_value(
    changes: dict[str, object], needle: str
) -> None:
    with pytest.raises(FeatureDefinitionError, match=None) as caught:
        stats_view(**changes)
    assert needle in str(caught.value)
    assert caught.value.hint


def test_hostile_names_are_refused() -> None:
    for bad in ["../x", "a/b", "", "x" * 300, "naïve\n"]:
        with pytest.raises(FeatureDefinitionError):
            FeatureView(bad, entities=[country], source="g", schema={"a": "float64"})
    with pytest.raises(FeatureDefinitionError, match="default"):
        Field("a", "float64", default=[1, 2])


def test_services_resolve_to_explicit_feature_references() -> None:
    view = stats_view()
    service = FeatureService("life", [view, "country_stats:pop"])
    defs = Definitions.collect([service])
    assert set(defs.views) == {"country_stats"}
    assert set(defs.entities) == {"country"}
    assert service.resolved(defs.views) == (
        "country_stats:lifeExp",
        "country_stats:pop",
        "country_stats:continent",
    )
    with pytest.raises(FeatureNotFoundError) as caught:
        Definitions.collect([view, FeatureService("bad", ["country_stats:gdp"])])
    assert "'gdp'" in str(caught.value)
    assert "lifeExp, pop, continent" in str(caught.value)
    with pytest.raises(FeatureNotFoundError, match="country_stats"):
        Definitions.collect([view, FeatureService("bad", ["nope:gdp"])])


def test_two_different_definitions_with_one_name_are_an_error() -> None:
    with pytest.raises(FeatureDefinitionError, match="country_stats"):
        Definitions.collect([stats_view(), stats_view(ttl=None)])


def test_view_tables_are_typed_and_utc_from_real_data() -> None:
    table = build_view_table(stats_view(), gapminder())
    assert table.column_names == ["country", "event_timestamp", "lifeExp", "pop", "continent"]
    assert str(table.schema.field("event_timestamp").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("pop").type) == "int64"
    assert table.num_rows == len(plotly.data.gapminder())


def test_a_source_lacking_a_declared_column_names_it_and_lists_the_columns() -> None:
    view = stats_view(schema={"lifeExp": "float64", "gdp_growth": "float64"})
    with pytest.raises(FeatureSourceError) as caught:
        build_view_table(view, gapminder())
    message = str(caught.value)
    assert "['gdp_growth']" in message
    assert "gdpPercap" in message


def test_a_value_that_does_not_fit_its_type_is_named() -> None:
    frame = gapminder()
    frame["pop"] = frame["pop"].astype(object)
    frame.loc[3, "pop"] = "many"
    with pytest.raises(FeatureSourceError) as caught:
        build_view_table(stats_view(), frame)
    assert "'many'" in str(caught.value)
    assert "int64" in str(caught.value)


def test_a_failing_or_wrong_transformation_is_reported() -> None:
    @transformation("gapminder")
    def broken(frame: pd.DataFrame) -> pd.DataFrame:
        raise ZeroDivisionError("no rows to divide")

    @transformation("gapminder")
    def not_a_frame(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.to_dict()  # type: ignore[return-value]

    with pytest.raises(FeatureSourceError, match="ZeroDivisionError: no rows"):
        build_view_table(stats_view(source=broken), gapminder())
    with pytest.raises(FeatureSourceError, match="returned dict"):
        build_view_table(stats_view(source=not_a_frame), gapminder())


def test_rows_without_a_timestamp_are_named() -> None:
    frame = gapminder()
    frame.loc[5, "event_timestamp"] = pd.NaT
    with pytest.raises(FeatureSourceError, match="row 5"):
        build_view_table(stats_view(), frame)
