"""The Xyte device dialect over HTTPS: ``/v1/devices/...`` (registration and the hub).

- Hub routes authenticate with ``Authorization: <access_key>``: the raw key, no scheme. A key opens its
  own device only: the path's ``device_id`` must be its device (403 otherwise); an unknown, rotated or
  deleted key is 401 (Xyte's agents then wipe their credentials and register again).
- Registration routes carry the model's ``hardware_key`` in the body instead.
- Bodies are strict JSON (``fleetgate.jsonutil``); answers are JSON, with ``device_id`` added from model
  API version 1.0.7 (``domain.xyte.stamped``).
- Errors have one body, ``{"error": <message>, "code": <MachineCode>}``, the same in HTTP answers and in
  MQTT error replies (``.mqtt``), mapped here once. Xyte's statuses: 422 for what already exists or is
  older than the server's (a device already registered, a stale config), 429 for a rate limit, 401/403
  for revoked or foreign credentials, 404 for an unknown model, 400 for bad input, 413 over the size
  limit, 503 (with ``Retry-After``) when AWS is busy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fleetgate.endpoint import Result, done, serve_http
from fleetgate.errors import Conflict, FleetgateError, InvalidRequest, NotFound, retry_headers
from fleetgate.http import HttpRequest, response
from fleetgate.jsonutil import dumps, loads
from fleetgate.observability import logger
from fleetgate.services import xyte
from fleetgate.services.xyte import XyteCaller
from fleetgate.settings import get_settings

UNPROCESSABLE = 422

HubEndpoint = Callable[[HttpRequest, XyteCaller], Result]
OpenEndpoint = Callable[[HttpRequest], Result]


def handle(event: dict[str, Any], endpoint: HubEndpoint, *, limit: int | None = None) -> dict[str, Any]:
    """Run a hub endpoint: the access key, the path's device, the size limit (``limit`` bytes, else the
    device payload limit), then the endpoint."""

    def checked(request: HttpRequest) -> Result:
        caller = xyte.authenticate(
            request.headers.get("authorization"), request.path_parameters.get("device_id")
        )
        request.check_size(limit or get_settings().device_payload_limit_bytes)
        return endpoint(request, caller)

    return serve_http(event, checked, render, error_response)


def routed(routes: Mapping[str, HubEndpoint]) -> HubEndpoint:
    """One function's hub endpoint for several routes: the endpoint of the request's route key."""

    def endpoint(request: HttpRequest, caller: XyteCaller) -> Result:
        chosen = routes.get(request.route_key)
        if chosen is None:
            raise NotFound("No such route")
        return chosen(request, caller)

    return endpoint


def handle_open(event: dict[str, Any], endpoint: OpenEndpoint) -> dict[str, Any]:
    """Run a route whose credential is in the body (registration): the size limit, then the endpoint."""

    def checked(request: HttpRequest) -> Result:
        request.check_size(get_settings().device_payload_limit_bytes)
        return endpoint(request)

    return serve_http(event, checked, render, error_response)


def render(result: Result) -> dict[str, Any]:
    """JSON (200 unless the endpoint asked for another ``status``), or binary content."""
    status = result.extra.get("status", 200)
    if result.content is not None:
        return response(status, result.content.data, content_type=result.content.content_type)
    if result.value is None and status == 204:
        return response(204)
    return response(status, dumps(result.value), content_type="application/json")


def status_of(exc: FleetgateError) -> int:
    return UNPROCESSABLE if isinstance(exc, Conflict) else exc.status


def error_body(exc: FleetgateError) -> dict[str, Any]:
    """The one error body, for HTTP answers and MQTT error replies alike (no internals on a 5xx)."""
    if exc.status >= 500 and exc.code != "ServiceUnavailable":
        return {"error": "Internal server error", "code": "InternalFailure"}
    return {"error": exc.message, "code": exc.code}


def error_response(exc: FleetgateError) -> dict[str, Any]:
    if exc.status >= 500:
        logger.exception("Request failed")
    return response(
        status_of(exc), dumps(error_body(exc)), content_type="application/json", headers=retry_headers(exc)
    )


def ok(body: Any, status: int = 200) -> Result:
    return done(body, status=status)


def json_body(request: HttpRequest) -> Any:
    """The body as strict JSON (any JSON value; endpoints check its shape)."""
    if not request.body:
        raise InvalidRequest("A JSON body is required")
    try:
        return loads(request.text())
    except InvalidRequest as exc:
        raise InvalidRequest("Invalid JSON") from exc


def json_object(request: HttpRequest) -> dict[str, Any]:
    value = json_body(request)
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object")
    return value
