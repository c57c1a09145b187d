"""The ThingsBoard HTTP device dialect: ``/api/v1/{token}/...``. Endpoints return ``Result``s
(``fleetgate.endpoint``); this module alone renders them and maps errors to ThingsBoard's answers.

What it shares with ThingsBoard: the access token in the path (unknown → 401, empty body), Gson's
lenient JSON, ThingsBoard's value typing, ``{"client": ..., "shared": ...}`` reads, 200 with an empty
body for writes, 413 with the JSON string ``"Payload size exceeds the limit of N bytes"``.
Where it deliberately differs (docs/thingsboard.md, "Where we differ"): malformed JSON or a wrong shape
is 400 with ThingsBoard's message as plain text, not 500; ``[]`` telemetry is 200, not a hang. A write
that lost to a concurrent one is 409 with the reason as plain text (ThingsBoard's version conflict).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fleetgate import clock
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.domain.telemetry import MAX_TS, TelemetryRecord
from fleetgate.endpoint import Outcome, Result, serve_http
from fleetgate.errors import (
    CallFailed,
    Conflict,
    FleetgateError,
    InvalidRequest,
    PayloadTooLarge,
    retry_headers,
)
from fleetgate.http import HttpRequest, response
from fleetgate.jsonutil import NumberLiteral, dumps, loads_lenient, plain
from fleetgate.services import devices
from fleetgate.settings import get_settings

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
MAX_KEY = 255
_PARSABLE = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)\Z")  # commons-lang3 NumberUtils.isParsable
_LONG_TEXT = re.compile(r"-?\d{1,19}\Z")
_SKIP = object()

Endpoint = Callable[[HttpRequest, DeviceIdentity], Result]
OpenEndpoint = Callable[[HttpRequest], Result]


# --------------------------------------------------------------------------- request handling
def handle(event: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    """Run a device endpoint: size limit, then the token, then the endpoint; errors mapped here only."""
    return handle_open(
        event,
        lambda request: endpoint(request, devices.authenticate(request.path_parameters.get("token", ""))),
    )


def handle_open(event: dict[str, Any], endpoint: OpenEndpoint) -> dict[str, Any]:
    """Run an endpoint without an access token (provisioning authenticates with its own key): size limit,
    then the endpoint; results rendered and errors mapped here only."""

    def checked(request: HttpRequest) -> Result:
        request.check_size(get_settings().device_payload_limit_bytes)
        return endpoint(request)

    return serve_http(event, checked, render, error_response)


def render(result: Result) -> dict[str, Any]:
    """ThingsBoard's answers: 200 with an empty body when there is nothing to say, JSON otherwise,
    an attachment for package bytes, 408 with an empty body when a long-poll ends with nothing."""
    if result.outcome is Outcome.NOTHING_YET:
        return response(408)
    if result.content is not None:
        headers = {}
        if result.content.file_name:
            headers = {
                "content-disposition": f"attachment;filename={result.content.file_name}",
                "x-filename": result.content.file_name,
            }
        return response(200, result.content.data, content_type=result.content.content_type, headers=headers)
    if result.value is None:
        return response(200)
    return response(200, dumps(result.value), content_type="application/json")


def error_response(exc: FleetgateError) -> dict[str, Any]:
    if isinstance(exc, PayloadTooLarge):
        return response(413, dumps(exc.message), content_type="application/json")
    if isinstance(exc, InvalidRequest):
        return response(400, exc.message, content_type="text/plain;charset=UTF-8")
    if isinstance(exc, CallFailed):  # client-side RPC: ThingsBoard's {"error": ...} reply, e.g. "timeout"
        return response(exc.status, dumps({"error": exc.message}), content_type="application/json")
    if exc.status in (401, 403, 404):
        return response(exc.status)
    if isinstance(exc, Conflict):  # lost to another writer: ThingsBoard's 409 for a version conflict
        return response(409, exc.message, content_type="text/plain;charset=UTF-8")
    return response(exc.status if exc.status >= 500 else 500, headers=retry_headers(exc))


def json_body(request: HttpRequest) -> Any:
    """The body as ThingsBoard reads it: required, lenient JSON, numbers kept as written."""
    if not request.body:
        raise InvalidRequest("Required request body is missing")
    return loads_lenient(request.text(), keep_number_literals=True)


def timeout_ms(request: HttpRequest) -> int | None:
    """A long-poll's ``timeout`` query parameter (milliseconds); a non-integer is a 400."""
    raw = request.query.get("timeout")
    if raw is None or raw == "":
        return None
    if not _LONG_TEXT.match(raw):
        raise InvalidRequest(f"timeout must be an integer number of milliseconds, got {raw!r}")
    return int(raw)


# --------------------------------------------------------------------------- payloads
def parse_telemetry(payload: Any, server_ts: int | None = None) -> list[TelemetryRecord]:
    """An object, ``{"ts", "values"}``, or an array of either; ``ts`` defaults to the server's time."""
    now = clock.now_ms() if server_ts is None else server_ts
    if isinstance(payload, dict):
        return [_record(payload, now)]
    if isinstance(payload, list):
        records = []
        for element in payload:
            if not isinstance(element, dict):
                raise InvalidRequest(f"Can't parse value: {dumps(plain(element))}")
            records.append(_record(element, now))
        return records
    raise InvalidRequest(f"Can't parse value: {dumps(plain(payload))}")


def parse_attributes(payload: Any) -> dict[str, Any]:
    """A JSON object of attributes, typed like telemetry; null values are skipped."""
    if not isinstance(payload, dict):
        raise InvalidRequest(f"Can't parse value: {dumps(plain(payload))}")
    return typed_values(payload)


def _record(obj: dict[str, Any], now: int) -> TelemetryRecord:
    if "ts" in obj and "values" in obj:
        values = obj["values"]
        if not isinstance(values, dict):
            raise InvalidRequest(f"Can't parse value: {dumps(plain(values))}")
        return TelemetryRecord(_timestamp(obj["ts"]), typed_values(values))
    return TelemetryRecord(now, typed_values(obj))


def _timestamp(value: Any) -> int:
    """Epoch milliseconds: an integer, an integral number literal (``1.4516496005E12``) or a string of
    digits (``Long.parseLong``)."""
    ts: int | None = None
    if isinstance(value, NumberLiteral):
        number = Decimal(value)
        ts = int(number) if number == number.to_integral_value() else None
    elif isinstance(value, int) and not isinstance(value, bool):
        ts = value
    elif isinstance(value, str) and _LONG_TEXT.match(value):
        ts = int(value)
    if ts is None or not 0 <= ts < MAX_TS:
        raise InvalidRequest(f"Invalid ts: {dumps(plain(value))} (epoch milliseconds expected)")
    return ts


def typed_values(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not key or len(key) > MAX_KEY:
            raise InvalidRequest(f"Key must be 1-{MAX_KEY} characters: {dumps(key)}")
        typed = typed_value(value)
        if typed is not _SKIP:
            out[key] = typed
    return out


def typed_value(value: Any) -> Any:
    """ThingsBoard's typing of a top-level value (``JsonConverter``): null is skipped; booleans stay;
    objects and arrays are JSON; numbers become LONG or DOUBLE by how they are written; a string that
    reads as a plain number becomes that number (``transport.json.type_cast_enabled``)."""
    if value is None:
        return _SKIP
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if LONG_MIN <= value <= LONG_MAX else str(value)
    if isinstance(value, NumberLiteral):
        return _number(str(value))
    if isinstance(value, str):
        return _number(value) if _PARSABLE.match(value) else value
    return plain(value)


def _number(literal: str) -> int | float | str:
    number = Decimal(literal)
    simple_double = "." in literal and "e" not in literal.lower()
    exponent = number.as_tuple().exponent
    stripped_exponent = number.normalize().as_tuple().exponent
    if not simple_double and isinstance(stripped_exponent, int) and stripped_exponent >= 0:
        integral = int(number)
        return integral if LONG_MIN <= integral <= LONG_MAX else format(number, "f")
    if isinstance(exponent, int) and -exponent <= 16:
        return float(number)
    return format(number, "f")
