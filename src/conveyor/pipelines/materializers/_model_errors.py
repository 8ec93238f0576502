"""Errors of the model materializers: each is also the registry flavor error it stands for.

Models are saved and loaded by their registry flavor, so a failure is both a
:class:`MaterializerError` (what pipeline code catches) and a
:class:`conveyor.registry.flavors.FlavorError` (what the flavor raised). Importing this
module imports the registry, so the package exports these names lazily.
"""

from __future__ import annotations

from conveyor.pipelines.materializers._errors import MaterializerError
from conveyor.registry.flavors import FlavorError, UntrustedModelError


class ModelMaterializerError(MaterializerError, FlavorError):
    """A model output could not be saved or loaded through its flavor."""

    code = "model_materializer_error"


class UntrustedTypeError(ModelMaterializerError, UntrustedModelError):
    """A stored file names types that are not trusted to be loaded; nothing was executed.

    Also a :class:`conveyor.registry.flavors.UntrustedModelError` and a
    :class:`conveyor.core.UntrustedContentError`, the load policy's refusal.
    """

    code = "untrusted_type"
