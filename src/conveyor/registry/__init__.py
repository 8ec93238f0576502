"""The model registry: named models with contiguous versions, aliases, lineage and cards.

A version records how its model was saved (its flavor), the input signature, an input
example, metrics, lineage (run, dataset versions, code version), an optional ONNX twin with
its parity check, global feature importance, and the hash of a manifest that lists every
stored file; loading verifies each file against its hash. Aliases (``champion``, ...) move
atomically and every change is audited and kept as history. Saving and loading particular
kinds of models lives in :mod:`conveyor.registry.flavors`. Records live behind
:class:`BaseModelRecords` (:class:`SqlModelRecords` by default); runs and dataset versions
are looked up through a :class:`LineageSource` the workspace provides. A version may carry
ed25519 signatures (:meth:`ModelRegistry.sign`), checked against configured public keys
by :meth:`ModelRegistry.verify_signatures`. A version records the packages its flavor needs
(:func:`flavor_environment`) and can be copied, number and all, into another workspace
(:func:`copy_version`).
"""

from __future__ import annotations

from conveyor.registry._base import (
    BaseModelRecords,
    DatasetFacts,
    LineageSource,
    NewVersion,
    RunLineage,
)
from conveyor.registry._card import add_card_section
from conveyor.registry._environment import ENVIRONMENT_KEY, FLAVOR_PACKAGES, flavor_environment
from conveyor.registry._errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    ModelStateError,
    ModelVersionNotFoundError,
    RegistrationError,
    TransferError,
)
from conveyor.registry._model_registry import ModelRegistry
from conveyor.registry._models import (
    AliasEvent,
    HistoryEntry,
    LoadedModel,
    ModelCard,
    ModelSummary,
    ModelVersion,
)
from conveyor.registry._prepare import ImportanceFn, PreparedModel, prepare_files, prepare_model
from conveyor.registry._refs import ModelRef, parse_model_ref, validate_alias
from conveyor.registry._signing import (
    NewSignature,
    Signature,
    SignatureCheck,
    SignatureInvalidError,
    SignatureResult,
    SigningKeyError,
    load_private_key,
)
from conveyor.registry._sql import SqlModelRecords
from conveyor.registry._text import inert
from conveyor.registry._transfer import copy_version

__all__ = [
    "AliasEvent",
    "AliasNotFoundError",
    "BaseModelRecords",
    "DatasetFacts",
    "ENVIRONMENT_KEY",
    "FLAVOR_PACKAGES",
    "HistoryEntry",
    "ImportanceFn",
    "LineageSource",
    "LoadedModel",
    "ModelCard",
    "ModelNotFoundError",
    "ModelRef",
    "ModelRegistry",
    "ModelStateError",
    "ModelSummary",
    "ModelVersion",
    "ModelVersionNotFoundError",
    "NewSignature",
    "NewVersion",
    "PreparedModel",
    "RegistrationError",
    "RunLineage",
    "Signature",
    "SignatureCheck",
    "SignatureInvalidError",
    "SignatureResult",
    "SigningKeyError",
    "SqlModelRecords",
    "TransferError",
    "add_card_section",
    "copy_version",
    "flavor_environment",
    "inert",
    "load_private_key",
    "parse_model_ref",
    "prepare_files",
    "prepare_model",
    "validate_alias",
]
