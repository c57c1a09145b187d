"""The EMQX Fleets ThingDatas HTTPS dialect: ``/api/v1/thing-datas/...``.

- Every route authenticates with ``Authorization: Basic base64(apiKeyId:apiSecret)``; the key's
  permissions (HTTP method + path prefix) must cover the request, and a key limited to some things may
  touch only those.
- Bodies are strict JSON objects; ``thingName`` names a device of the registry.
- Endpoints return ``Result``s (``fleetgate.endpoint``); this package alone renders them, for HTTP
  here and for MQTT messages in ``.mqtt``.
- Errors have one body (``error_body``, the same in HTTP answers and MQTT error replies), since
  Fleets' own is undocumented: ``{"code": "<MachineCode>", "message": ...}`` with the HTTP status,
  plus fields that help the caller recover (the shadow's current ``version`` on a version conflict,
  a job execution's ``executionState``). Every error is mapped here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetgate.domain.apikeys import ApiKey
from fleetgate.domain.devices import NAME_PATTERN, Thing
from fleetgate.endpoint import Result, done, serve_http
from fleetgate.errors import (
    FleetgateError,
    Forbidden,
    InvalidRequest,
    Unauthorized,
    VersionConflict,
    retry_headers,
)
from fleetgate.http import HttpRequest, response
from fleetgate.jsonutil import dumps, loads
from fleetgate.observability import logger
from fleetgate.services import apikeys, devices
from fleetgate.settings import get_settings

MAX_CLIENT_TOKEN_BYTES = 64
_CODES = {"NotFound": "ResourceNotFound", "InternalFailure": "InternalError"}

Endpoint = Callable[[HttpRequest, ApiKey], Result]


def handle(event: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    """Run a ThingDatas endpoint: the API key and its permissions, the size limit, then the endpoint."""

    def checked(request: HttpRequest) -> Result:
        key = apikeys.authenticate(request.headers.get("authorization"), request.method, request.path)
        request.check_size(get_settings().device_payload_limit_bytes)
        return endpoint(request, key)

    return serve_http(event, checked, render, error_response)


def render(result: Result) -> dict[str, Any]:
    """A JSON answer, 200 unless the endpoint asked for another status (``done(body, status=...)``)."""
    return response(result.extra.get("status", 200), dumps(result.value), content_type="application/json")


def error_body(exc: FleetgateError) -> dict[str, Any]:
    """The one error body, for HTTP answers and MQTT error replies alike."""
    if exc.status >= 500:
        body: dict[str, Any] = {"code": _CODES.get(exc.code, exc.code), "message": "Internal service failure"}
        if exc.code == "ServiceUnavailable":
            body["message"] = exc.message
        return body
    body = {"code": _CODES.get(exc.code, exc.code), "message": exc.message}
    if isinstance(exc, VersionConflict) and exc.current_version is not None:
        body["version"] = exc.current_version
    body.update({k: _detail(v) for k, v in exc.details.items() if k not in ("code", "message")})
    return body


def _detail(value: object) -> object:
    """An error detail as JSON: a job execution (the domain's 409s carry it) is its ``JobExecutionState``."""
    from fleetgate.domain.jobs import Execution  # noqa: PLC0415 - only jobs errors carry one

    if isinstance(value, Execution):
        from fleetgate.dialects.thingdatas.jobs import execution_state  # noqa: PLC0415

        return execution_state(value)
    return value


def error_response(exc: FleetgateError) -> dict[str, Any]:
    if exc.status >= 500:
        logger.exception("Request failed")
    headers = {"www-authenticate": 'Basic realm="fleetgate"'} if isinstance(exc, Unauthorized) else None
    headers = retry_headers(exc) or headers
    return response(exc.status, dumps(error_body(exc)), content_type="application/json", headers=headers)


def ok(body: Any, status: int = 200) -> Result:
    return done(body, status=status)


def answer(body: dict[str, Any], epoch_s: int, client_token: str | None) -> Result:
    """A 200 in the AWS IoT Jobs style: ``body`` plus ``timestamp`` (epoch seconds) and the request's
    ``clientToken``, echoed when it sent one."""
    stamped: dict[str, Any] = {**body, "timestamp": epoch_s}
    if client_token is not None:
        stamped["clientToken"] = client_token
    return ok(stamped)


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The body: one strict JSON object (``jsonutil.loads``: no NaN/Infinity, out-of-range numbers, lone
    surrogates or runaway nesting; no trailing garbage)."""
    if not request.body:
        raise InvalidRequest("A JSON body is required")
    try:
        value = loads(request.text())
    except InvalidRequest as exc:
        raise InvalidRequest("Invalid JSON") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object")
    return value


def thing(key: ApiKey, name: Any) -> Thing:
    """The device named ``name``, if the key may touch it: 400 for a malformed name, 403 when the key is
    limited to other things (checked before existence, so a key learns nothing of other things), 404
    when no device has that name."""
    if name is None:
        raise InvalidRequest("thingName is required")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidRequest("thingName must be 1-128 characters of letters, digits, ':', '_' or '-'")
    if not key.may_touch(name):
        raise Forbidden(f"This API key may not access thing '{name}'")
    return devices.thing_named(name)


def client_token(body: dict[str, Any]) -> str | None:
    """The optional ``clientToken`` (1-64 bytes), echoed in answers."""
    token = body.get("clientToken")
    if token is None:
        return None
    if not isinstance(token, str) or not token or len(token.encode()) > MAX_CLIENT_TOKEN_BYTES:
        raise InvalidRequest("Invalid clientToken")
    return token
