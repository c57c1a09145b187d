"""The Xyte device API (``/v1/devices/...``): what is common to its operations. The operations
themselves live by area: ``xyte_registry`` (registration, device info, telemetry, space, cloud
settings, events, incidents), ``xyte_sync`` (config, commands, licenses), ``xyte_files`` (files,
dumps); ``fleetgate.contracts.openapi`` gathers them (they import this module, so it imports none of
them).

Hub routes authenticate with ``Authorization: <access_key>`` (the raw key, no scheme): the
``xyteAccessKey`` scheme. Registration carries the model's ``hardware_key`` in the body. Every error
has one body, ``{"error", "code"}`` (``fleetgate.dialects.xyte.error_body``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from fleetgate.contracts.gateway import GATEWAY
from fleetgate.contracts.spec import Answer, Body, Operation, Parameter, model, path

TAG = "Xyte"
SECURITY: tuple[dict[str, list[str]], ...] = ({"xyteAccessKey": []},)
DEVICE_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
DEVICE_ID = path("device_id", {"type": "string", "pattern": DEVICE_ID_PATTERN}, "the device's id")


class XyteError(BaseModel):
    error: str = Field(examples=["This access key belongs to another device"])
    code: str = Field(examples=["Forbidden"])


ERROR: Body = model(XyteError)

BAD_REQUEST = Answer(400, "Malformed input: code InvalidRequest", ERROR, name="XyteBadRequest")
UNAUTHORIZED = Answer(
    401, "No access key, or one that is unknown, rotated or deleted", ERROR, name="XyteUnauthorized"
)
FORBIDDEN = Answer(
    403, "The key belongs to another device, or the device is not a Xyte device", ERROR, name="XyteForbidden"
)
NOT_FOUND = Answer(404, "No such resource: code NotFound", ERROR, name="XyteNotFound")
TOO_LARGE = Answer(
    413, "Body over the size limit: code PayloadTooLarge", ERROR | GATEWAY, name="XytePayloadTooLarge"
)
UNPROCESSABLE = Answer(
    422, "Already exists, or older than the server's: code Conflict", ERROR, name="XyteConflict"
)
TOO_MANY = Answer(429, "Rate limit reached: code TooManyRequests", ERROR, name="XyteTooManyRequests")
INTERNAL = Answer(500, "Internal failure: code InternalFailure", ERROR | GATEWAY, name="XyteInternalFailure")
UNAVAILABLE = Answer(
    503,
    "A transient failure (throttling): code ServiceUnavailable; retry after Retry-After",
    ERROR,
    headers={"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    name="XyteServiceUnavailable",
)
HUB_COMMON = (BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, TOO_LARGE, INTERNAL, UNAVAILABLE)


def operation(
    method: str,
    route: str,
    operation_id: str,
    summary: str,
    success: Answer,
    *,
    extra: tuple[Answer, ...] = (),
    request: Body | None = None,
    request_required: bool = True,
    parameters: tuple[Parameter, ...] = (DEVICE_ID,),
    security: tuple[dict[str, list[str]], ...] = SECURITY,
    common: tuple[Answer, ...] = HUB_COMMON,
    description: str = "",
) -> Operation:
    """A Xyte operation: a hub route by default (access key, ``device_id`` in the path)."""
    answers = {a.status: a for a in (*common, *extra)}
    answers[success.status] = success
    return Operation(
        method=method,
        path=route,
        operation_id=operation_id,
        tag=TAG,
        summary=summary,
        answers=tuple(answers[s] for s in sorted(answers)),
        parameters=parameters,
        request=request,
        request_required=request_required,
        security=security,
        description=description,
    )
