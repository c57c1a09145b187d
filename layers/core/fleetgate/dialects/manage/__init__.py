"""The operator API's conventions (ThingsPro's envelope): ``{"data": ...}`` on success and
``{"error": {"code": <HTTP status>, "message": ...}}`` on failure. Every error of every ``/manage``
route is mapped here, once."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from pydantic import BaseModel, ValidationError

from fleetgate.clock import iso_utc
from fleetgate.domain.devices import Device
from fleetgate.errors import FleetgateError, InvalidRequest, PayloadTooLarge, retry_headers
from fleetgate.jsonutil import dumps, loads
from fleetgate.observability import logger

Model = TypeVar("Model", bound=BaseModel)

DEFAULT_PAGE = 20  # items a listing returns when the request names no ``limit``


def envelope(data: Any, status: int = 200, **extra: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=dumps({"data": data, **extra}))


def page(items: list[Any], next_token: str | None) -> Response:
    """One page of a listing: ``{"data": [...], "count", "nextToken"?}`` (the token only when there is
    more)."""
    extra: dict[str, Any] = {"count": len(items)}
    if next_token:
        extra["nextToken"] = next_token
    return envelope(items, **extra)


def device(found: Device, *, with_profile: bool = True) -> dict[str, Any]:
    """A device as the operator API shows it (a profile's device listing leaves out the profile)."""
    out: dict[str, Any] = {
        "id": found.id,
        "name": found.name,
        "type": found.type,
        "createdAt": iso_utc(found.created_at, milliseconds=True),
    }
    if found.label is not None:
        out["label"] = found.label
    if with_profile and found.profile_id:
        out["profileId"] = found.profile_id
    if found.gateway:
        out["gateway"] = True
    return out


def error(status: int, message: str) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=dumps({"error": {"code": status, "message": message}}),
    )


def body_text(app: BaseRouter, *, max_bytes: int | None = None) -> str:
    """The request body as text (``""`` when there is none). A body that is not UTF-8 is a 400; one of
    more than ``max_bytes`` bytes is a 413. Every body of the operator API is read here."""
    event = app.current_event
    raw = event.body or ""
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
        text = data.decode()
    except (binascii.Error, UnicodeError) as exc:
        raise InvalidRequest("The body must be UTF-8 text") from exc
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadTooLarge(f"Payload size exceeds the limit of {max_bytes} bytes")
    return text


def parse_json_object(app: BaseRouter, *, max_bytes: int | None = None) -> dict[str, Any]:
    """The body as a JSON object (no ``NaN`` or ``Infinity``); any other body is a 400."""
    raw = body_text(app, max_bytes=max_bytes)
    if not raw:
        raise InvalidRequest("A JSON body is required")
    value = loads(raw)
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object")
    return value


def parse_body(
    app: BaseRouter, model: type[Model], *, optional: bool = False, max_bytes: int | None = None
) -> Model:
    """The JSON body validated against ``model``; any problem is a 400 naming the field. An
    ``optional`` body may be absent (or blank): then it is ``model``'s defaults."""
    if optional and not body_text(app, max_bytes=max_bytes).strip():
        return model.model_validate({})
    try:
        return model.model_validate(parse_json_object(app, max_bytes=max_bytes))
    except ValidationError as exc:
        raise InvalidRequest(describe(exc)) from exc


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def page_query(app: BaseRouter, default: int = DEFAULT_PAGE) -> tuple[int, str | None]:
    """A listing's ``limit`` (``default`` when absent; not an integer: a 400) and ``nextToken``. The
    range of ``limit`` and the token are checked by the listing itself (``domain.paging``,
    ``data.aws.PageKey``)."""
    return query_int(app, "limit", default), app.current_event.get_query_string_value("nextToken")


def query_int(app: BaseRouter, name: str, default: int) -> int:
    raw = app.current_event.get_query_string_value(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be an integer") from exc


def install_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(FleetgateError)
    def _domain_error(exc: FleetgateError) -> Response:
        if exc.status >= 500:
            logger.exception("Request failed")
            failed = error(exc.status, "The request could not be completed; retry later")
            failed.headers.update(retry_headers(exc))
            return failed
        return error(exc.status, exc.message)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error(404, "No such route")
