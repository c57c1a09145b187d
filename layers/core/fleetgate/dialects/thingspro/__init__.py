"""The ThingsPro dialect over HTTPS: Moxa's ThingsPro Cloud API, per gateway, under
``/thingspro/gateways/{gateway_id}/api/v1`` (the operations of ``fleetgate.contracts.thingspro``), so a
script written for a gateway works with only its base URL changed.

- Authentication is ThingsPro's: ``POST …/api/v1/auth`` with ``{"name", "password", "acceptEULA"}``
  (an operator's sign-in) answers ``{"data": {"token", "user"}}``; requests carry
  ``Authorization: Bearer <token>`` or ``mx-api-token: <token>``.
- A request is checked against Moxa's schema (path, query and body) before anything is stored or sent;
  a bad one is 400 in ThingsPro's error envelope: ``{"error": {"code", "message"}}``, or
  ``{"error": "<message>"}`` for the operations whose 400 Moxa declares so (``Operation.errors``).
- A read (GET, not a runtime read) answers what the gateway last confirmed for that path, with
  ``X-Fleetgate-Pending`` (and, in a ``{data}`` envelope, a ``pending`` list) naming the requests still
  to be applied that may change it. Anything else, and a read with nothing confirmed, becomes a
  remote-API request (``fleetgate.services.thingspro``): when the gateway answers within the long-poll
  cap its status and payload are the answer (secrets masked); otherwise 202
  ``{"data": {"requestId", "state", "expiresAt"}}``, followed at
  ``/manage/v1/thingspro/gateways/{gateway_id}/requests/{requestId}``.
- ``X-Fleetgate-Expires-In`` (seconds, 10 s to 7 days; a day by default) is how long a request may wait
  for an offline gateway; it becomes the request's ``request-expired-time``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Protocol

from fleetgate import clock, multipart
from fleetgate.domain import thingspro as tpe
from fleetgate.domain import thingspro_messages as messages
from fleetgate.domain.commands import Command, State
from fleetgate.endpoint import Content, Result, done, serve_http
from fleetgate.errors import FleetgateError, InvalidRequest, NotFound, retry_headers
from fleetgate.http import HttpRequest, response
from fleetgate.jsonutil import dumps, loads
from fleetgate.observability import logger
from fleetgate.services import longpoll
from fleetgate.services import thingspro as service


class Operation(Protocol):
    """One operation of Moxa's document, as the contracts' table gives it."""

    method: str
    path: str
    body: Any  # its JSON body's model, None when it takes none
    multipart: tuple[str, ...]
    json_body: bool
    answer: str  # data | bare | zip | accepted
    errors: str  # core | text
    resource: str | None


class CloudApi(Protocol):
    """Moxa's operations and their schemas (``fleetgate.contracts.thingspro``, which the functions pass
    in: the contracts sit above the dialects and are never imported by them)."""

    def match(self, method: str, path: str) -> tuple[Any, dict[str, str]] | None: ...

    def validate(self, operation: Any, body: object) -> object: ...

    def validate_params(
        self, operation: Any, params: Mapping[str, str], query: Mapping[str, str] | None = None
    ) -> tuple[dict[str, int | str], dict[str, bool | str]]: ...

    def is_live(self, operation: Any, query: Mapping[str, str] | None = None) -> bool: ...

    def validate_form(self, operation: Any, fields: Mapping[str, str]) -> dict[str, Any]: ...

    def is_file_field(self, name: str) -> bool: ...


BODY_LIMIT = 262_144  # the largest JSON body taken (a remote-API request must fit in an MQTT message)


def handle(event: dict[str, Any], api: CloudApi) -> dict[str, Any]:
    """One request to a gateway's ThingsPro Cloud API."""
    style = _style(event, api)
    return serve_http(
        event, lambda request: cloud_api(request, api), render, lambda exc: error_response(exc, style)
    )


def handle_auth(event: dict[str, Any]) -> dict[str, Any]:
    return serve_http(event, auth, render, lambda exc: error_response(exc, "core"))


# --------------------------------------------------------------------------- endpoints
def auth(request: HttpRequest) -> Result:
    service.gateway(request.path_parameters.get("gateway_id", ""))
    if request.method == "GET":
        service.authenticate(token_of(request))
        return done({"data": "ok"})
    body = _json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("body: must be an object")
    name, password, eula = body.get("name"), body.get("password"), body.get("acceptEULA", False)
    if not isinstance(name, str) or not name or not isinstance(password, str) or not password:
        raise InvalidRequest("name and password are required")
    if not isinstance(eula, bool):
        raise InvalidRequest("acceptEULA: must be a boolean")
    token, expires = service.login(name, password)
    now = clock.now_ms()
    user = {
        "name": name,
        "isActive": True,
        "loginAt": clock.iso_utc(now),
        "expiredAfter": (expires - now) // 1000,
        "permissions": [],
        "roles": [{"id": 1, "name": "admin"}],
    }
    return done({"data": {"token": token, "user": user}})


def cloud_api(request: HttpRequest, api: CloudApi) -> Result:
    service.authenticate(token_of(request))
    request.check_size(BODY_LIMIT)
    operation, params = operation_of(request, api)
    lifetime = tpe.lifetime_ms(_expires_in(request))
    path_values, query = api.validate_params(operation, params, request.query)
    body = _body(operation, request, api)
    gateway_id = request.path_parameters.get("gateway_id", "")
    record = service.gateway(gateway_id)
    if operation.method == "PUT" and operation.path.endswith("/messages/test"):
        return done(_test_format(gateway_id, body))
    if isinstance(body, dict) and isinstance(body.get("format"), str):
        messages.check_format(body["format"])  # a message group's format: checked before it is sent
    if multipart.is_multipart(request.headers.get("content-type", "")):  # checked: its files are kept
        for name, data in _files(request, api):
            service.keep_file(gateway_id, "uploads", name, data)
    path = _concrete(operation.path, path_values)
    remote = tpe.RemoteRequest(operation.method, path, body, {k: _text(v) for k, v in query.items()})
    live = api.is_live(operation, request.query)
    if operation.method == "GET" and not live and operation.answer != "zip":
        kept = service.confirmed(gateway_id, remote.target)
        if kept is not None:
            pending = service.pending_for(gateway_id, remote.target)
            return _answer(operation, kept.status, kept.payload, pending)
        effects = service.Effects(confirms=remote.target)
    elif operation.method == "GET":
        effects = service.Effects()
    else:
        resource = None if operation.resource is None else _concrete(operation.resource, path_values)
        effects = service.Effects(confirms=resource, touches=path)
    command = service.submit(
        gateway_id,
        remote,
        secret_paths=tpe.secret_paths(body),
        lifetime_ms=lifetime,
        effects=effects,
        record=record,
    )
    if record.online:
        command = service.wait(command, longpoll.wait_seconds(None))
        service.confirm_answer(command)
    return _outcome(operation, command)


# --------------------------------------------------------------------------- helpers
def _test_format(gateway_id: str, body: Any) -> dict[str, Any]:
    """``…/messages/test`` in the cloud, as the gateway runs it: the format on each given tag, with the
    tag's latest value from the gateway's messages (else a typed sample), merged."""
    fields = body if isinstance(body, dict) else {}
    tags = fields.get("tags") or []
    return messages.test_format(
        fields.get("format") or "", tags, service.tag_values(gateway_id), clock.now_ms()
    )


def token_of(request: HttpRequest) -> str | None:
    """``Authorization: Bearer <token>`` or ``mx-api-token: <token>``."""
    bearer = request.headers.get("authorization", "")
    if bearer[:7].lower() == "bearer ":
        return bearer[7:].strip()
    return request.headers.get("mx-api-token")


def operation_of(request: HttpRequest, api: CloudApi) -> tuple[Operation, dict[str, str]]:
    """Moxa's operation of the request's path under the gateway's ``/api/v1`` and its path parameters:
    ThingsPro's 404 ``page not found`` when the gateway has no such path, 405 when it has it for
    other methods."""
    rest = "/" + request.path_parameters.get("proxy", "")
    found = api.match(request.method, rest)
    if found is None:
        if any(api.match(method, rest) for method in tpe.METHODS):
            raise MethodNotAllowed(f"{request.method} is not allowed on {rest}")
        raise NotFound("page not found")
    return found


def _body(operation: Operation, request: HttpRequest, api: CloudApi) -> Any:
    if multipart.is_multipart(request.headers.get("content-type", "")):
        if not operation.multipart:
            raise InvalidRequest(f"{operation.method} {operation.path} takes no multipart form")
        return api.validate_form(operation, _form(operation, request))
    if operation.body is None:
        if request.body and request.body.strip():
            raise InvalidRequest(f"{operation.method} {operation.path} takes no body")
        return None
    if not operation.json_body:
        raise InvalidRequest(f"{operation.method} {operation.path} takes a multipart form")
    return api.validate(operation, _json(request))


def _form(operation: Operation, request: HttpRequest) -> dict[str, str]:
    """A multipart form's fields as text, as the remote API carries them (files as their text:
    certificates and keys are PEM; a binary file base64)."""
    fields: dict[str, str] = {}
    for name, data in multipart.parts(request.body, request.headers.get("content-type", "")):
        if name is None or name not in operation.multipart:
            raise InvalidRequest(f"{name}: is not a field of this form")
        if name in fields:
            raise InvalidRequest(f"{name}: is in the form twice")
        try:
            fields[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            fields[name] = base64.b64encode(data).decode()
    return fields


def _files(request: HttpRequest, api: CloudApi) -> list[tuple[str, bytes]]:
    """The file parts of a multipart form (kept in the files bucket as uploaded)."""
    parts = multipart.parts(request.body, request.headers.get("content-type", ""))
    return [(name, data) for name, data in parts if name is not None and api.is_file_field(name)]


def _json(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return loads(request.text())
    except InvalidRequest:
        raise InvalidRequest("body: must be JSON") from None


def _expires_in(request: HttpRequest) -> int | None:
    raw = request.headers.get("x-fleetgate-expires-in")
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidRequest("X-Fleetgate-Expires-In must be a whole number of seconds")
    return int(raw)


def _concrete(template: str, values: dict[str, int | str]) -> str:
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def _text(value: bool | str) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else value


def _pending_view(pending: list[Command]) -> list[dict[str, Any]]:
    return [
        {
            "requestId": str(c.seq),
            "method": c.params.get("method"),
            "path": c.params.get("target"),
            "state": tpe.VOCABULARY.status(c.state),
            "createdAt": clock.iso_utc(c.created),
            "expiresAt": clock.iso_utc(c.expires),
            "requestBody": tpe.masked(c.params.get("body")),
        }
        for c in pending
    ]


def _answer(
    operation: Operation, status: int, payload: Any, pending: list[Command], gateway_id: str = ""
) -> Result:
    headers = {"X-Fleetgate-Pending": str(len(pending))}
    if operation.answer == "zip" and 200 <= status < 300:
        return _zip(payload, headers, gateway_id)
    body = tpe.mask(payload)
    if pending and isinstance(body, dict) and "data" in body:
        body = {**body, "pending": _pending_view(pending)}
    return done(body, status=status if status < 500 else 502, headers=headers)


def _zip(payload: Any, headers: dict[str, str], gateway_id: str) -> Result:
    data = payload.get("data") if isinstance(payload, dict) else None
    try:
        blob = base64.b64decode(data or "", validate=True)
    except (binascii.Error, TypeError):
        raise FleetgateError("The gateway's answer held no zip") from None
    if gateway_id:
        service.keep_file(gateway_id, "downloads", "sparkplug-configuration.zip", blob)
    zipped = Content(blob, "application/zip", "sparkplug-configuration.zip")
    return Result(content=zipped, extra={"headers": headers})


def _outcome(operation: Operation, command: Command) -> Result:
    result = command.result
    if command.state in (State.SUCCEEDED, State.FAILED) and isinstance(result, dict) and "state" in result:
        return _answer(operation, int(result["state"]), result.get("payload"), [], command.device_id)
    if command.open:
        return done(
            {
                "data": {
                    "requestId": str(command.seq),
                    "state": tpe.VOCABULARY.status(command.state),
                    "expiresAt": clock.iso_utc(command.expires),
                }
            },
            status=202,
        )
    reason = command.reason or f"The request is {tpe.VOCABULARY.status(command.state)}"
    raise _Ended(reason)


class MethodNotAllowed(FleetgateError):
    status = 405
    code = "MethodNotAllowed"


class _Ended(FleetgateError):
    """The request ended without an answer from the gateway (expired, failed to publish, unanswered)."""

    status = 504
    code = "GatewayTimeout"


# --------------------------------------------------------------------------- rendering
def render(result: Result) -> dict[str, Any]:
    status = result.extra.get("status", 200)
    headers = result.extra.get("headers")
    if result.content is not None:
        content = result.content
        return response(status, content.data, content_type=content.content_type, headers=headers)
    return response(status, dumps(result.value), content_type="application/json", headers=headers)


def error_body(exc: FleetgateError, style: str) -> dict[str, Any]:
    shown = exc.status < 500 or exc.code in ("ServiceUnavailable", "GatewayTimeout")
    message = exc.message if shown else "Internal server error"
    if style == "text":
        return {"error": message}
    return {"error": {"code": exc.status, "message": message}}


def error_response(exc: FleetgateError, style: str) -> dict[str, Any]:
    if exc.status >= 500 and exc.code not in ("ServiceUnavailable", "GatewayTimeout"):
        logger.exception("Request failed")
    return response(
        exc.status, dumps(error_body(exc, style)), content_type="application/json", headers=retry_headers(exc)
    )


def _style(event: dict[str, Any], api: CloudApi) -> str:
    """The error body of the request's operation (``core`` when there is none)."""
    try:
        request = HttpRequest.from_event(event)
        found = api.match(request.method, "/" + request.path_parameters.get("proxy", ""))
    except FleetgateError:
        return "core"
    return "core" if found is None else found[0].errors


# --------------------------------------------------------------------------- operator views
def request_view(command: Command) -> dict[str, Any]:
    """A remote-API request as the operator API shows it (secrets masked)."""
    result = command.result
    answer = None
    if isinstance(result, dict) and "state" in result:
        answer = {"state": result["state"], "payload": tpe.mask(result.get("payload"))}
    return {
        "requestId": str(command.seq),
        "method": command.params.get("method"),
        "path": command.params.get("target"),
        "state": tpe.VOCABULARY.status(command.effective_state(clock.now_ms())),
        "createdAt": clock.iso_utc(command.created),
        "expiresAt": clock.iso_utc(command.expires),
        "requestBody": tpe.masked(command.params.get("body")),
        "answer": answer,
        "reason": command.reason,
    }
