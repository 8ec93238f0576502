"""One route per method of every records interface: ``POST /api/v1/records/<iface>/<method>``.

The routes are built from the interfaces (:data:`~conveyor.api._interfaces.INTERFACES`)
with the wire format of :mod:`conveyor.remote` (the same the REST records send), so each
method's body schema appears in ``/openapi.json``. A handler:

1. takes the caller's identity from the verified token (the actor of every change; a
   client never names one);
2. authorizes the environment a call changes (:func:`~conveyor.api._guards.check_call`);
3. with an ``Idempotency-Key``, answers a key already applied with its saved answer
   instead of applying it again, and otherwise records the key in the transaction of the
   change (:meth:`~conveyor.store.MetadataStore.keyed`);
4. calls the SQL implementation and answers ``{"result": ...}``.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from typing import Any

import orjson
from fastapi import Body, FastAPI, Header, Request
from fastapi.responses import Response

from conveyor.api._guards import check_call
from conveyor.api._interfaces import INTERFACES, Interface
from conveyor.core import Actor
from conveyor.errors import ConveyorError
from conveyor.remote import API_PREFIX, MethodSpec, method_specs
from conveyor.security import TokenInfo
from conveyor.workspace import Workspace

_log = logging.getLogger("conveyor.server")
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


class IdempotencyKeyError(ConveyorError):
    """An ``Idempotency-Key`` header is not 8-128 letters, digits or ``_.:-``."""

    code = "invalid_idempotency_key"


class RequestAlreadyAppliedError(ConveyorError):
    """A keyed request was applied before but its answer was not kept."""

    code = "request_already_applied"
    status = 409


def add_records_routes(app: FastAPI, ws: Workspace) -> None:
    """Add the records routes over the stores of ``ws`` to ``app``.

    Routes are added to the application itself, with their full paths (not through an
    included router), so the access guard sees each one in the route table. FastAPI's
    own refusals (a body it cannot parse) get the API's JSON error shape.
    """
    # FastAPI answers a body it cannot parse (not UTF-8, not JSON, too deeply nested)
    # with its own HTTPException: give it the one error shape of the API too
    cache = _Records(ws)
    for interface in INTERFACES:
        for spec in method_specs(interface.base).values():
            app.add_api_route(
                f"{API_PREFIX}{spec.path}",
                _handler(ws, cache, interface, spec),
                methods=["POST"],
                name=f"{interface.name}.{spec.name}",
                summary=_summary(interface.base, spec.name),
                response_class=Response,
                responses={200: {"description": 'The method\'s answer as {"result": ...}.'}},
                tags=["records"],
            )


class _Records:
    """The SQL records of each interface, built once."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, interface: Interface) -> Any:
        with self._lock:
            records = self._built.get(interface.name)
            if records is None:
                records = self._built[interface.name] = interface.sql(self.ws.store)
            return records


def _handler(ws: Workspace, cache: _Records, interface: Interface, spec: MethodSpec) -> Any:
    required = any(f.is_required() for f in spec.request.model_fields.values())

    def handler(request: Request, body: Any = None, idempotency_key: str | None = None) -> Response:
        token: TokenInfo = request.state.token
        if body is None:
            body = spec.request()
        check_call(ws, token, interface.name, spec.name, body)
        actor = Actor(name=f"token:{token.name}", kind="service")
        records = cache.get(interface)
        if idempotency_key is None or not spec.writes:
            return _answer(spec.encode_answer(spec.call(records, actor, body)))
        if _KEY.fullmatch(idempotency_key) is None:
            raise IdempotencyKeyError(
                f"Idempotency-Key {idempotency_key[:40]!r} is not 8-128 letters, digits or _.:-.",
                hint="Send a random hex string, the same one on every retry of one request.",
            )
        applied, saved = ws.store.request_applied(idempotency_key)
        if applied:
            if saved is None and spec.response.model_fields["result"].annotation is not type(None):
                raise RequestAlreadyAppliedError(
                    f"The request keyed {idempotency_key!r} was applied already; its answer "
                    "was not kept.",
                    hint="Read the record it changed instead of sending it again.",
                )
            return _answer(orjson.dumps(saved if saved is not None else {"result": None}))
        with ws.store.keyed(idempotency_key):
            answer = spec.encode_answer(spec.call(records, actor, body))
        try:
            ws.store.save_response(idempotency_key, orjson.loads(answer))
        except ConveyorError as exc:  # the change is made; only a retry would miss the answer
            _log.warning("Could not keep the answer of request %s: %s", idempotency_key, exc)
        return _answer(answer)

    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            ),
            inspect.Parameter(
                "body",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=spec.request if required else spec.request | None,
                default=Body(...) if required else Body(None),
            ),
            inspect.Parameter(
                "idempotency_key",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str | None,
                default=Header(None, alias="Idempotency-Key"),
            ),
        ]
    )
    handler.__name__ = f"{interface.name}_{spec.name}"
    return handler


def _answer(body: bytes) -> Response:
    return Response(body, 200, media_type="application/json")


def _summary(base: type[Any], name: str) -> str:
    doc = inspect.getdoc(getattr(base, name)) or name
    return doc.split("\n", 1)[0][:120]


__all__ = ["IdempotencyKeyError", "RequestAlreadyAppliedError", "add_records_routes"]
