"""Check InferenceService YAML files against the KServe SDK's models, strictly.

Run with the Python of a virtualenv holding ``kserve`` (its SDK needs pandas < 3, so it
cannot live in the project's own environment): ``python kserve_schema_check.py FILE...``.
The SDK's models are generated from the same Go types as the InferenceService CRD; each
knows its fields (``attribute_map``) and their types (``openapi_types``). Every mapping
of the document is checked against its model: an unknown field, a value of the wrong type
or a missing required field (the models' own client-side validation, run by building
each object) is an error. Prints ``ok`` per file, or the errors and exits 1.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import kserve
import kubernetes.client
import yaml

_PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def _model(name: str) -> Any:
    for module in (kserve, kserve.models, kubernetes.client, kubernetes.client.models):
        found = getattr(module, name, None)
        if found is not None:
            return found
    raise LookupError(f"no SDK model {name}")


def build(value: Any, kind: str, where: str, errors: list[str]) -> Any:
    """``value`` checked as an SDK type and built into it (``None`` after an error)."""
    if kind in ("object", "datetime"):
        return value
    if kind in _PRIMITIVES:
        if isinstance(value, bool) and kind != "bool":
            errors.append(f"{where}: expected {kind}, got a boolean")
        elif not isinstance(value, _PRIMITIVES[kind]):
            errors.append(f"{where}: expected {kind}, got {type(value).__name__} {value!r}")
        return value
    listed = re.fullmatch(r"[lL]ist\[(.+)\]", kind)
    if listed:
        if not isinstance(value, list):
            errors.append(f"{where}: expected a list, got {type(value).__name__}")
            return None
        return [
            build(item, listed.group(1), f"{where}[{i}]", errors) for i, item in enumerate(value)
        ]
    mapped = re.fullmatch(r"dict\(str, (.+)\)", kind) or re.fullmatch(r"Dict\[str, (.+)\]", kind)
    if mapped:
        if not isinstance(value, dict):
            errors.append(f"{where}: expected a mapping, got {type(value).__name__}")
            return None
        return {k: build(v, mapped.group(1), f"{where}.{k}", errors) for k, v in value.items()}
    model = _model(kind)
    if not isinstance(value, dict):
        errors.append(f"{where}: expected a {kind} mapping, got {type(value).__name__}")
        return None
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    kwargs = {}
    for key, item in value.items():
        attr = by_json.get(key)
        if attr is None:
            errors.append(f"{where}: unknown field {key!r} for {kind}")
            continue
        kwargs[attr] = build(item, model.openapi_types[attr], f"{where}.{key}", errors)
    try:
        return model(**kwargs)
    except (TypeError, ValueError) as exc:
        errors.append(f"{where}: {kind}: {exc}")
        return None


def check(document: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    if document.get("apiVersion") != "serving.kserve.io/v1beta1":
        errors.append(
            f"apiVersion: expected serving.kserve.io/v1beta1, got {document.get('apiVersion')!r}"
        )
    if document.get("kind") != "InferenceService":
        errors.append(f"kind: expected InferenceService, got {document.get('kind')!r}")
    build(document, "V1beta1InferenceService", "$", errors)
    return errors


def main(paths: list[str]) -> int:
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            documents = [d for d in yaml.safe_load_all(handle) if d is not None]
        errors = [e for document in documents for e in check(document)]
        if errors:
            failed = True
            print(f"{path}: invalid", *errors, sep="\n  ")
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
