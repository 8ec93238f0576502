"""The feature store: features defined once, point-in-time correct for training and
looked up online at serving time, so training and serving see the same values.

Definitions live in code (a project's ``features.py``): :class:`Entity`,
:class:`FeatureView` over a versioned dataset (or a :func:`transformation` of one) and
:class:`FeatureService`. ``conveyor features apply`` records a version of each definition
per change. ``ws.features.historical`` joins features to an entity frame as of each row's
timestamp (DuckDB ``ASOF JOIN``); ``conveyor features materialize`` writes the latest
values per entity to the online store (SQLite, or Redis), which ``ws.features.online`` and
the prediction server read.
"""

from conveyor.features._changes import SERVICE_TAG
from conveyor.features._definitions import (
    DTYPES,
    Definitions,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    Transformation,
    definition_hash,
    feature_ref,
    split_ref,
    transformation,
)
from conveyor.features._errors import (
    EntityFrameError,
    FeatureChangeRefusedError,
    FeatureDefinitionError,
    FeatureNotFoundError,
    FeatureSourceError,
    MissingEntityError,
    OnlineStoreUnavailableError,
)
from conveyor.features._loader import load_definitions
from conveyor.features._materialize import Materialized
from conveyor.features._offline import ViewTable, point_in_time_join
from conveyor.features._online import OnlineRow, OnlineStore, OnlineValue, open_online_store
from conveyor.features._online_redis import RedisOnlineStore
from conveyor.features._online_sqlite import SqliteOnlineStore
from conveyor.features._records import (
    BaseFeatureRecords,
    DefinitionRecord,
    FeatureTableRecord,
    MaterializationRecord,
    SqlFeatureRecords,
)
from conveyor.features._skew import (
    FeatureSkew,
    SkewExample,
    SkewReport,
    ViewSkew,
    feature_skew,
    same_value,
)
from conveyor.features._store import (
    PROFILE_ARTIFACT,
    AppliedDefinition,
    FeatureSet,
    FeatureStore,
    ServiceVersion,
)
from conveyor.features._tables import build_view_table

__all__ = [
    "AppliedDefinition",
    "BaseFeatureRecords",
    "DTYPES",
    "DefinitionRecord",
    "Definitions",
    "Entity",
    "EntityFrameError",
    "FeatureChangeRefusedError",
    "FeatureDefinitionError",
    "FeatureNotFoundError",
    "FeatureService",
    "FeatureSet",
    "FeatureSkew",
    "FeatureSourceError",
    "FeatureStore",
    "FeatureTableRecord",
    "FeatureView",
    "Field",
    "MaterializationRecord",
    "Materialized",
    "MissingEntityError",
    "OnlineRow",
    "OnlineStore",
    "OnlineStoreUnavailableError",
    "OnlineValue",
    "PROFILE_ARTIFACT",
    "RedisOnlineStore",
    "SERVICE_TAG",
    "ServiceVersion",
    "SkewExample",
    "SkewReport",
    "SqlFeatureRecords",
    "SqliteOnlineStore",
    "Transformation",
    "ViewSkew",
    "ViewTable",
    "build_view_table",
    "definition_hash",
    "feature_ref",
    "feature_skew",
    "load_definitions",
    "open_online_store",
    "point_in_time_join",
    "same_value",
    "split_ref",
    "transformation",
]
