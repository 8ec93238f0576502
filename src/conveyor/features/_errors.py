"""Errors of the feature store (the shared ones live in :mod:`conveyor.errors`)."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class FeatureDefinitionError(ConveyorError, ValueError):
    """A definition is malformed: a bad name, join key, schema type, TTL or source."""

    code = "feature_definition_error"


class FeatureNotFoundError(ConveyorError, KeyError):
    """A feature view, service or feature name does not exist (the message lists those that do)."""

    code = "feature_not_found"
    status = 404

    def __str__(self) -> str:
        return self.message


class EntityFrameError(ConveyorError, ValueError):
    """The entity frame of a point-in-time join lacks a column or mixes timestamp kinds."""

    code = "entity_frame_error"


class FeatureSourceError(ConveyorError, ValueError):
    """A view's source lacks a declared column, or its transformation failed or returned
    something other than a DataFrame."""

    code = "feature_source_error"


class FeatureChangeRefusedError(ConveyorError):
    """``apply`` would change the features of a view or service that a registered model
    version was trained with; the definition must take a new name (or ``--force``)."""

    code = "feature_change_refused"
    status = 409


class OnlineStoreUnavailableError(ConveyorError):
    """The online store (Redis, say) cannot be reached; the lookup can be retried."""

    code = "online_store_unavailable"
    status = 503


class MissingEntityError(ConveyorError, KeyError):
    """Online lookup of an entity key that was never materialized, with the policy
    ``on_missing="error"``; the message names the key."""

    code = "missing_entity"
    status = 422

    def __str__(self) -> str:
        return self.message
