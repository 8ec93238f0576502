"""Errors of the prediction server; each maps to one HTTP status and a stable code."""

from __future__ import annotations

from conveyor.errors import ConfigError, ConveyorError, StoreBusyError


class ServingConfigError(ConfigError):
    """A serving setting is invalid."""

    code = "serving_config_error"


class PortInUseError(ServingConfigError):
    """The port to serve on is taken by another process (``conveyor serve`` exits 6)."""

    code = "port_in_use"
    exit_code = 6


class RequestError(ConveyorError):
    """A request was refused; ``status`` is the HTTP status it is answered with."""

    code = "bad_request"
    status = 400


class MalformedRequestError(RequestError):
    """The body is not JSON, not an object, or not shaped like any accepted payload."""

    code = "malformed_request"


class UnsupportedMediaTypeError(RequestError):
    """The body's content type is not JSON (pickles and other formats are never read)."""

    code = "unsupported_media_type"
    status = 415


class UnsupportedEncodingError(UnsupportedMediaTypeError):
    """The body declares a ``Content-Encoding`` this server does not decode (only identity)."""

    code = "unsupported_content_encoding"


class RequestTimeoutError(RequestError):
    """The body did not arrive within ``body_timeout_s`` (a slow or stalled client)."""

    code = "request_timeout"
    status = 408


class InvalidRequestIdError(MalformedRequestError):
    """A request id (header, OIP ``id``, feedback) is not 1-128 of ``A-Za-z0-9._:-``."""

    code = "invalid_request_id"


class UnknownOutputError(MalformedRequestError):
    """The request asks for an output the model does not have (``proba`` of a regressor)."""

    code = "unknown_output"


class InvalidDatatypeError(MalformedRequestError):
    """An OIP tensor's datatype is unknown, or cannot hold its column's values."""

    code = "invalid_datatype"


class PayloadTooLargeError(RequestError):
    """The body is larger than ``max_body_bytes``."""

    code = "payload_too_large"
    status = 413


class TooManyRowsError(RequestError):
    """The request holds more rows than ``max_batch_rows``."""

    code = "too_many_rows"


class MissingColumnsError(RequestError):
    """Columns the signature requires are absent; ``fields["missing"]`` lists them."""

    code = "missing_columns"


class ExtraColumnsError(RequestError):
    """Columns the signature does not name were sent and the policy rejects them."""

    code = "extra_columns"


class InvalidValueError(RequestError):
    """A value does not fit its column's type; ``fields["column"]`` names the column."""

    code = "invalid_value"
    status = 422


class NonFiniteValueError(InvalidValueError):
    """``NaN`` or ``Infinity`` was sent and the policy rejects them."""

    code = "non_finite_value"


class ModelNotServedError(RequestError):
    """The request names a model or version this server does not serve."""

    code = "model_not_served"
    status = 404


class NotReadyError(RequestError):
    """No model is loaded yet."""

    code = "not_ready"
    status = 503


class StoreBusyRequestError(RequestError, StoreBusyError):
    """The store is busy (locked by another writer); retry after ``fields["retry_after"]`` s.

    The HTTP form of :class:`~conveyor.errors.StoreBusyError`, with its code.
    """

    code = StoreBusyError.code
    status = 503


class ExplainUnsupportedError(RequestError):
    """The served model cannot be explained (its outputs or inputs, or SHAP is missing)."""

    code = "explain_unsupported"
    status = 501


class ExplainerUnavailableError(RequestError):
    """The model's explainer could not be prepared (its native files failed to load)."""

    code = "explainer_unavailable"
    status = 409


class PredictionFailedError(RequestError):
    """The model raised while predicting valid input."""

    code = "prediction_failed"
    status = 500


class FeatureColumnSentError(InvalidValueError):
    """A request to a model served with a feature service names a column the service
    provides; ``fields["columns"]`` lists them (the server looks those up itself)."""

    code = "feature_column_sent"


class EntityNotFoundError(RequestError):
    """An entity key has no online features and the service's policy is ``"error"``."""

    code = "unknown_entity"
    status = 422


class InvalidEntityKeyError(InvalidValueError):
    """An entity key value the online store cannot look up (a float NaN, a huge integer)."""

    code = "invalid_entity_key"


class FeatureStoreUnavailableError(RequestError):
    """The online store cannot be reached; the request can be retried."""

    code = "feature_store_unavailable"
    status = 503


class FeatureLookupFailedError(RequestError):
    """Looking up a request's features failed for another reason than the caller's input."""

    code = "feature_lookup_failed"
    status = 500


class FeatureServingError(ServingConfigError):
    """A version trained with a feature service cannot be served with its features (the
    project has no such service applied, or no feature store); its load fails."""

    code = "feature_serving_error"
