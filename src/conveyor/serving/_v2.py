"""The Open Inference Protocol (KServe v2) routes, with its ``{"error": ...}`` format.

Tabular inputs arrive either as one tensor per signature column (shape ``[n]`` or ``[n, 1]``)
or as one ``[n, columns]`` tensor in signature order. Shapes are checked against the data
(negative or lying shapes are a 400). The binary tensor extension is read for numeric
tensors (raw little-endian values; nothing is ever unpickled).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

import conveyor
from conveyor.serving._errors import (
    InvalidDatatypeError,
    MalformedRequestError,
    ModelNotServedError,
    RequestError,
    UnknownOutputError,
)
from conveyor.serving._explain import explain_status
from conveyor.serving._host import RouteRequest
from conveyor.serving._inputs import Rows, as_mapping, from_columns, from_matrix
from conveyor.serving._model import ServedModel
from conveyor.serving._wire import (
    check_content_type,
    check_request_id,
    error_response,
    json_response,
    read_body,
)

if TYPE_CHECKING:
    from conveyor.serving._app import Server
    from conveyor.serving._settings import ServingSettings

_DTYPES = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip
_COLUMN_DATATYPE = {"double": "FP64", "long": "INT64", "boolean": "BOOL"}
_MAX_DIMS = 8
_INTS = frozenset(k for k in _DTYPES if k.startswith(("INT", "UINT")))
_FLOATS = frozenset({"FP16", "FP32", "FP64"})
_DATATYPES = frozenset(_DTYPES) | {"BYTES"}
#: The OIP datatypes a tensor may declare for a column of each signature type.
_ACCEPTS: dict[str, frozenset[str]] = {
    "double": _INTS | _FLOATS,
    "float": _INTS | _FLOATS,
    "long": _INTS | _FLOATS,
    "integer": _INTS | _FLOATS,
    "boolean": frozenset({"BOOL"}),
    "string": frozenset({"BYTES"}),
    "datetime": frozenset({"BYTES"}),
}
#: The datatype ``infer`` answers for each signature output type.
_OUTPUT_DATATYPE = {
    "double": "FP64",
    "float": "FP64",
    "long": "INT64",
    "integer": "INT64",
    "boolean": "BOOL",
    "string": "BYTES",
    "datetime": "BYTES",
}
PREDICT = "predict"
PROBA = "predict_proba"
#: Path parameters are bounded before use: a model name, and a version of at most 18 digits.
_MAX_NAME = 128
_VERSION = re.compile(r"[0-9]{1,18}")


def _bad(message: str) -> MalformedRequestError:
    return MalformedRequestError(
        message, hint="See the Open Inference Protocol's inference request format."
    )


def _flatten(data: Any, out: list[Any]) -> None:
    for item in data:
        if isinstance(item, list):
            _flatten(item, out)
        else:
            out.append(item)


def _tensor(
    item: Any, binary: memoryview | None, offset: int
) -> tuple[str, list[int], list[Any], int]:
    if not isinstance(item, dict):
        raise _bad("Every entry of 'inputs' must be an object with name, shape, datatype, data.")
    name, shape, datatype = item.get("name"), item.get("shape"), item.get("datatype")
    if not isinstance(name, str) or not isinstance(datatype, str):
        raise _bad("Every input needs a string 'name' and 'datatype'.")
    if datatype not in _DATATYPES:
        raise InvalidDatatypeError(
            f"Input '{name[:60]}' has datatype {datatype[:40]!r}, which the Open Inference "
            "Protocol does not define.",
            hint=f"Use one of {', '.join(sorted(_DATATYPES))}.",
            datatype=datatype[:40],
        )
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= _MAX_DIMS
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise _bad(f"Input '{name}' has an invalid shape {shape!r}: expected 1-8 sizes >= 0.")
    count = math.prod(shape)
    size = (item.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        dtype = _DTYPES.get(datatype)
        if binary is None or dtype is None or type(size) is not int or size < 0:
            raise _bad(f"Input '{name}' declares binary data this server cannot read.")
        chunk = binary[offset : offset + size]
        if len(chunk) != size or size != count * np.dtype(dtype).itemsize:
            raise _bad(f"Input '{name}': shape {shape} does not match {size} bytes of {datatype}.")
        decoded: list[Any] = np.frombuffer(chunk, dtype=dtype).tolist()
        return name, shape, decoded, offset + size
    data = item.get("data")
    if not isinstance(data, list):
        raise _bad(f"Input '{name}' needs 'data' as a list.")
    values: list[Any] = []
    _flatten(data, values)
    if len(values) != count:
        raise _bad(f"Input '{name}' has shape {shape} ({count} values) but {len(values)} values.")
    return name, shape, values, offset


def _rows(
    model: ServedModel, payload: Mapping[str, Any], binary: memoryview | None, server: Server
) -> Rows:
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad("'inputs' must be a non-empty list of tensors.")
    tensors = []
    offset = 0
    for item in inputs:
        name, shape, values, offset = _tensor(item, binary, offset)
        tensors.append((name, shape, values, item["datatype"]))
    settings = server.settings
    width = len(model.columns)
    if len(tensors) == 1 and tensors[0][0] not in model.column_index:
        name, shape, values, _ = tensors[0]
        if len(shape) != 2 or shape[1] != width:
            raise _bad(
                f"Input '{name}' must have shape [rows, {width}] (columns "
                f"{', '.join(model.column_names)}), or send one input per column."
            )
        for column in model.columns:
            _check_datatype(column.name, column.type, name, tensors[0][3])
        n = shape[0]
        return from_matrix(model, [values[i * width : (i + 1) * width] for i in range(n)], settings)
    table: dict[str, Any] = {}
    for name, shape, values, datatype in tensors:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise _bad(f"Input '{name}' must have shape [rows] or [rows, 1]; got {shape}.")
        spec = model.column_index.get(name)
        if spec is not None:
            _check_datatype(spec.name, spec.type, name, datatype)
        table[name] = values
    return from_columns(model, table, settings)


def _check_datatype(column: str, kind: str, tensor: str, datatype: str) -> None:
    """Refuse a tensor datatype that cannot hold the values of a column of type ``kind``."""
    accepted = _ACCEPTS.get(kind)
    if accepted is not None and datatype not in accepted:
        raise InvalidDatatypeError(
            f"Input '{tensor[:60]}' has datatype {datatype} but column '{column}' is {kind}.",
            hint=f"Send column '{column}' as one of {', '.join(sorted(accepted))}.",
            column=column,
            datatype=datatype,
        )


def _output(model: ServedModel, values: list[Any]) -> dict[str, Any]:
    array = np.asarray(values)
    kind = array.dtype.kind
    datatype = _KIND_DATATYPE.get(kind, "BYTES")
    data = array.reshape(-1).tolist() if kind in "fiub" else [str(v) for v in array.reshape(-1)]
    return {"name": PREDICT, "datatype": datatype, "shape": list(array.shape), "data": data}


_KIND_DATATYPE = {"f": "FP64", "i": "INT64", "u": "UINT64", "b": "BOOL"}


def _proba_output(probabilities: list[list[float]]) -> dict[str, Any]:
    array = np.asarray(probabilities, dtype=np.float64)
    return {
        "name": PROBA,
        "datatype": "FP64",
        "shape": list(array.shape),
        "data": array.reshape(-1).tolist(),
    }


def requested_outputs(model: ServedModel, payload: dict[str, Any]) -> tuple[str, ...]:
    """The output names an OIP request asks for (``predict`` when it names none).

    Raises:
        MalformedRequestError: ``outputs`` is not a list of ``{"name": ...}`` objects.
        UnknownOutputError: An output the model does not have.
    """
    wanted = payload.get("outputs")
    if wanted is None:
        return (PREDICT,)
    if not isinstance(wanted, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in wanted
    ):
        raise _bad("'outputs' must be a list of objects with a string 'name'.")
    names = tuple(dict.fromkeys(o["name"] for o in wanted))
    offered = output_names(model)
    unknown = [name[:40] for name in names if name not in offered]
    if unknown:
        raise UnknownOutputError(
            f"Model {model.name}@{model.version} has no output(s) "
            f"{', '.join(map(repr, unknown[:5]))}; it has {', '.join(offered)}.",
            hint="Ask for outputs listed by GET /v2/models/<name>.",
            unknown=unknown[:5],
        )
    return names or (PREDICT,)


def output_names(model: ServedModel) -> tuple[str, ...]:
    """The OIP outputs ``model`` answers: ``predict``, and ``predict_proba`` for classifiers."""
    return (PREDICT, PROBA) if model.has_proba else (PREDICT,)


def prediction_datatype(model: ServedModel) -> str:
    """The datatype ``infer`` returns for ``predict``: from the signature, else by predicting
    the registered input example (what metadata must agree with)."""
    recorded = _OUTPUT_DATATYPE.get(model.output_type or "")
    if recorded is not None:
        return recorded
    example = model.example
    if isinstance(example, dict) and "columns" in example and "data" in example:
        import pandas as pd

        from conveyor.serving._signature import validate_frame

        try:
            frame = pd.DataFrame(example["data"], columns=example["columns"])
            frame = validate_frame(model, frame[list(model.column_names)])
            kind = np.asarray(model.predictor.predict(frame)).dtype.kind
        except Exception:  # noqa: BLE001 - metadata then says what is most likely
            return "FP64"
        return _KIND_DATATYPE.get(kind, "BYTES")
    return "FP64"


async def _live(request: Request) -> Response:
    return json_response({"live": True})


async def _server_metadata(request: Request) -> Response:
    return json_response(
        {
            "name": "conveyor",
            "version": conveyor.__version__,
            "extensions": ["binary_tensor_data"],
        }
    )


def add_v2_routes(app: FastAPI, server: Server) -> None:
    """Mount the OIP routes on ``app`` (``server`` is the application's ``Server``)."""
    host = server.host

    def lookup(name: str, version: str | None, request: Request | None = None) -> ServedModel:
        number: int | None = None
        if len(name) > _MAX_NAME:
            raise ModelNotServedError(
                f"Model name of {len(name)} characters is not served here (names have at "
                f"most {_MAX_NAME}).",
                hint="Send the request to a served model name and version.",
            )
        if version is not None:
            if not _VERSION.fullmatch(version):
                raise ModelNotServedError(
                    f"Version {version[:20]!r}{'...' if len(version) > 20 else ''} of model "
                    f"{name} is not served here: a version is a number of 1-18 digits.",
                    hint="Send the request to a served model name and version.",
                    name=name,
                )
            number = int(version)
        headers = {} if request is None else request.headers
        return host.route(RouteRequest(name, number, "", headers))

    async def ready(request: Request) -> Response:
        ok = host.ready
        body: dict[str, Any] = {"ready": ok}
        if host.load_error is not None:
            body["error"] = f"The model failed to load: {host.load_error}"
        return json_response(body, 200 if ok else 503)

    async def model_metadata(request: Request) -> Response:
        params = request.path_params
        try:
            model = lookup(params["name"], params.get("version"))
        except RequestError as exc:
            return error_response(exc, oip=True)
        versions = sorted(str(v) for (n, v) in host.state.models if n == model.name)
        datatype = server.datatypes.get(model)
        if datatype is None:
            datatype = await anyio.to_thread.run_sync(prediction_datatype, model)
            server.datatypes[model] = datatype
        outputs = [{"name": PREDICT, "datatype": datatype, "shape": [-1]}]
        if model.has_proba:
            width = len(model.classes) if model.classes is not None else -1
            outputs.append({"name": PROBA, "datatype": "FP64", "shape": [-1, width]})
        return json_response(
            {
                "name": model.name,
                "versions": versions,
                "platform": f"conveyor/{model.flavor or 'model'}",
                # A model served with a feature service takes its entity keys and
                # request-time features; the server looks up the rest.
                "inputs": [
                    {
                        "name": c.name,
                        "datatype": _COLUMN_DATATYPE.get(c.type, "BYTES"),
                        "shape": [-1],
                    }
                    for c in (model.features.request if model.features else model).columns
                ],
                "outputs": outputs,
                # An extension of the protocol's metadata: whether /v1/explain can answer
                # for this version, and why not.
                "parameters": {"explain": explain_status(model)},
            }
        )

    async def model_ready(request: Request) -> Response:
        params = request.path_params
        try:
            lookup(params["name"], params.get("version"))
        except RequestError as exc:
            return error_response(exc, oip=True)
        return json_response({"name": params["name"], "ready": True})

    async def infer(request: Request) -> Response:
        return await _infer(server, request, lookup)

    app.router.add_route("/v2", _server_metadata, methods=["GET"])
    app.router.add_route("/v2/health/live", _live, methods=["GET"])
    app.router.add_route("/v2/health/ready", ready, methods=["GET"])
    for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        app.router.add_route(base, model_metadata, methods=["GET"])
        app.router.add_route(base + "/ready", model_ready, methods=["GET"])
        app.router.add_route(base + "/infer", infer, methods=["POST"])


async def _infer(
    server: Server, request: Request, lookup: Callable[[str, str | None, Request], ServedModel]
) -> Response:
    """``POST /v2/models/{name}[/versions/{version}]/infer``."""
    started = time.perf_counter()
    params = request.path_params
    model: ServedModel | None = None
    rows: Rows | None = None
    rid = server.request_id(request)
    route = "/v2/infer"
    try:
        check_content_type_oip(request)
        body = await read_body(
            request, server.settings.max_body_bytes, server.settings.body_timeout_s
        )
        model = lookup(params["name"], params.get("version"), request)
        payload, binary = _split_binary(request, body, server)
        given = payload.get("id")
        if given is not None and given != "":
            rid = check_request_id(given, "the OIP 'id'")
        names = requested_outputs(model, payload)

        def parse(served: ServedModel, body: Mapping[str, Any], _: ServingSettings) -> Rows:
            return _rows(served, body, binary, server)

        rows = await server.rows(model, payload, parse)
        values = await server.engine.run(model, rows)
        outputs = [_output(model, values)] if PREDICT in names else []
        if PROBA in names:
            outputs.append(_proba_output(await server.engine.proba(model, rows)))
        result = {
            "model_name": model.name,
            "model_version": str(model.version),
            "id": rid,
            "outputs": outputs,
        }
        headers = {"x-request-id": rid, "x-conveyor-model-version": f"{model.name}@{model.version}"}
        response = json_response(result, 200, headers)
    except RequestError as exc:
        server.failed(model, rid, rows, exc, started)
        server.observe(model, route, exc.status, started)
        return error_response(exc, oip=True)
    server.engine.log(model, rid, rows, values, (time.perf_counter() - started) * 1000.0)
    server.observe(model, route, 200, started)
    if params.get("version") is None:
        server.shadow(model, payload, parse, rid)
    return response


def check_content_type_oip(request: Request) -> None:
    """JSON, or the binary extension's ``application/octet-stream`` with its header length."""
    if "inference-header-content-length" in request.headers:
        return
    check_content_type(request, allow_missing=True)


def _split_binary(
    request: Request, body: bytes, server: Server
) -> tuple[dict[str, Any], memoryview | None]:
    from conveyor.serving._wire import parse_json

    header = request.headers.get("inference-header-content-length")
    if header is None:
        return dict(as_mapping(parse_json(body, server.settings))), None
    if not header.isdigit() or int(header) > len(body):
        raise _bad(
            f"Inference-Header-Content-Length {header!r} does not fit a {len(body)}-byte body."
        )
    length = int(header)
    payload = dict(as_mapping(parse_json(body[:length], server.settings)))
    return payload, memoryview(body)[length:]
