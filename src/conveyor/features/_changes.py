"""Definition changes that would change what a registered model is served: refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.features._definitions import Definitions, feature_ref
from conveyor.features._errors import FeatureChangeRefusedError, FeatureNotFoundError

if TYPE_CHECKING:
    from conveyor.features._store import FeatureStore

__all__ = ["SERVICE_TAG", "features_used_by_models", "refuse_breaking_changes"]

#: The tag a model version carries when it was trained with a feature service.
SERVICE_TAG = "conveyor.feature_service"


def refuse_breaking_changes(store_: FeatureStore, defs: Definitions) -> None:
    """Raise when ``defs`` would remove or retype a feature a registered model version
    was trained with (see ``FeatureStore.apply``)."""
    used = features_used_by_models(store_)
    for name, view in defs.views.items():
        current = store_.records.get("view", name)
        if current is None:
            continue
        before = {f["name"]: f["dtype"] for f in current.spec.get("schema", [])}
        after = {f.name: f.dtype for f in view.schema}
        for feature, dtype in before.items():
            models = used.get(feature_ref(name, feature))
            if not models or after.get(feature) == dtype:
                continue
            what = "removes" if feature not in after else f"changes the type of ({dtype} ->"
            what = what if feature not in after else f"{what} {after[feature]})"
            raise FeatureChangeRefusedError(
                f"Feature view {name!r}: the change {what} feature {feature!r}, which model "
                f"version(s) {', '.join(sorted(models))} were trained with.",
                hint="Define the changed view under a new name (and a new service for the "
                "next model), or apply with --force if those versions are retired.",
                view=name,
                feature=feature,
                models=sorted(models),
            )


def features_used_by_models(store_: FeatureStore) -> dict[str, set[str]]:
    """``{view:feature: {model@version, ...}}`` of every registered version tagged with a
    feature service."""
    used: dict[str, set[str]] = {}
    if store_.model_tags is None:
        return used
    for tags in store_.model_tags():
        ref = tags.get(SERVICE_TAG)
        model = tags.get("__model__", "?")
        if not isinstance(ref, str):
            continue
        try:
            service = store_.service_version(ref)
        except FeatureNotFoundError:
            continue
        for feature in service.features:
            used.setdefault(feature, set()).add(str(model))
    return used
