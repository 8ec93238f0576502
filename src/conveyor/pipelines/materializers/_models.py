"""Model outputs stored the way the model registry stores them: through its flavors.

scikit-learn estimators, XGBoost and LightGBM models and PyTorch modules are written and
read by :mod:`conveyor.registry.flavors` (each flavor writes one file), so a pipeline
output and a registered version of the same model hold the same bytes, and both load
under the one load policy of :mod:`conveyor.core`. The registry is imported when a model
is saved or loaded, never when the package is.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from conveyor.pipelines.materializers._base import Materializer, imported_subclass
from conveyor.pipelines.materializers._errors import MaterializerError

if TYPE_CHECKING:
    from conveyor.registry.flavors import Flavor

_SAVE_REFUSED_HINT = (
    "Nothing was saved. Keep the model to the types the load policy trusts "
    "(conveyor.core.SKOPS_TRUSTED_TYPES; no lambdas or custom classes), or register a "
    "materializer for this type."
)


class FlavorMaterializer(Materializer):
    """A materializer that saves and loads through the registry flavor named ``flavor``.

    ``save`` lets the flavor write its one file and returns the flavor's metadata without
    the file name; ``load`` rebuilds the native model with ``Flavor.load_model``. Loading
    never runs code the file names: the flavor refuses it unless ``trusted`` is true.
    Failures are :class:`ModelMaterializerError` (or :class:`UntrustedTypeError`), each
    also the flavor error it stands for.
    """

    flavor: ClassVar[str]
    #: The module and the names of the classes it handles (with their subclasses).
    handled: ClassVar[tuple[str, ...]]

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return imported_subclass(value_type, *cls.handled)

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        with (
            tempfile.TemporaryDirectory(prefix="conveyor-model-", dir=path.parent) as folder,
            _model_errors(self.name, saving=True),
        ):
            meta = _flavor(self.flavor).save(value, Path(folder))
            written = Path(folder) / str(meta.pop("file"))
            written.replace(path)
        return meta

    def load(self, path: Path, meta: dict[str, Any], *, trusted: bool = False) -> Any:
        """Rebuild the model at ``path``; ``trusted`` lifts the type and class checks."""
        with _model_errors(self.name):
            flavor = _flavor(self.flavor)
            return flavor.load_model(path.parent, {**meta, "file": path.name}, trusted=trusted)


class SkopsMaterializer(FlavorMaterializer):
    """Any ``sklearn.base.BaseEstimator``, as a deterministic skops file.

    Saving refuses an estimator holding types outside the exact trusted list (a custom
    transformer class, a lambda): it could not be loaded safely.
    """

    name: ClassVar[str] = "sklearn.skops"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/vnd.skops"
    suffix: ClassVar[str] = ".skops"
    flavor: ClassVar[str] = "sklearn"
    handled: ClassVar[tuple[str, ...]] = ("sklearn.base", "BaseEstimator")


class XGBoostMaterializer(FlavorMaterializer):
    """``xgboost.Booster`` and its scikit-learn wrappers (``XGBClassifier`` ...) as UBJSON."""

    name: ClassVar[str] = "xgboost"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/ubjson"
    suffix: ClassVar[str] = ".ubj"
    flavor: ClassVar[str] = "xgboost"
    handled: ClassVar[tuple[str, ...]] = ("xgboost", "Booster", "XGBModel")


class LightGBMMaterializer(FlavorMaterializer):
    """``lightgbm.Booster`` and its scikit-learn wrappers (``LGBMClassifier`` ...) as text.

    A wrapper's parameters must be JSON-able (no callables or ``RandomState`` objects):
    the wrapper is rebuilt from them.
    """

    name: ClassVar[str] = "lightgbm"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "text/plain"
    suffix: ClassVar[str] = ".txt"
    flavor: ClassVar[str] = "lightgbm"
    handled: ClassVar[tuple[str, ...]] = ("lightgbm", "Booster", "LGBMModel")

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        meta = super().save(value, path)
        if "params_unsaved" in meta:
            from conveyor.pipelines.materializers._model_errors import ModelMaterializerError

            path.unlink()
            raise ModelMaterializerError(
                f"Cannot save this LightGBM model: {meta['params_unsaved']}.",
                hint="Use plain values for parameters (an int random_state, string class "
                "labels, no callables), or save model.booster_ instead of the wrapper.",
                materializer=self.name,
            )
        return meta


class TorchModuleMaterializer(FlavorMaterializer):
    """``torch.nn.Module``: TorchScript for scripted modules, else the state dict and class.

    The class must be importable (defined at module level) and constructible without
    arguments, or the instance must carry ``conveyor_init_kwargs`` (a JSON-able dict of
    constructor arguments). Loading checks the recorded class under the load policy
    before importing anything: one of ``conveyor.core.TORCH_CLASSES``, a class of the
    project's own code that the running process has already imported (the pipeline's
    modules), or any class when the output is loaded with ``trusted=True``. Tensors are
    read with ``torch.load(weights_only=True)`` onto the CPU.
    """

    name: ClassVar[str] = "torch.module"
    version: ClassVar[int] = 2
    media_type: ClassVar[str] = "application/x-pytorch"
    suffix: ClassVar[str] = ".pt"
    flavor: ClassVar[str] = "pytorch"
    handled: ClassVar[tuple[str, ...]] = ("torch.nn", "Module")


def _flavor(name: str) -> Flavor:
    from conveyor.registry.flavors import get_flavor  # the registry loads pandas: lazily

    return get_flavor(name)


@contextlib.contextmanager
def _model_errors(materializer: str, *, saving: bool = False) -> Iterator[None]:
    """Raise a flavor's error as the materializer error that is also that flavor error."""
    from conveyor.pipelines.materializers._model_errors import (
        ModelMaterializerError,
        UntrustedTypeError,
    )
    from conveyor.registry.flavors import FlavorError, UntrustedModelError

    try:
        yield
    except MaterializerError:
        raise
    except UntrustedModelError as exc:
        hint = _SAVE_REFUSED_HINT if saving else exc.hint
        raise UntrustedTypeError(
            exc.message, hint=hint, **{**exc.fields, "materializer": materializer}
        ) from exc
    except FlavorError as exc:
        raise ModelMaterializerError(
            exc.message, hint=exc.hint, **{**exc.fields, "materializer": materializer}
        ) from exc
