"""The ThingsBoard HTTP device API (``/api/v1/{token}/...`` and ``/api/v1/provision``): what the parsers
of ``fleetgate.dialects.thingsboard`` and the device handlers accept, and what they answer.

The credential is the device's access token in the path (OpenAPI has no "token in the path" security
scheme: it is the ``token`` path parameter). Provisioning has no token: the profile's provision key
and secret travel in the body. ThingsBoard's answers: 200 with an empty body for writes, 400 with a
plain-text message, 401/404/408 with an empty body, 413 with a JSON string; errors of the client-side
RPC are ``{"error": ...}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel, WithJsonSchema

from fleetgate.contracts.gateway import GATEWAY
from fleetgate.contracts.spec import JSON, Answer, Body, Operation, Parameter, header, model, path, query
from fleetgate.contracts.spec import schema as raw
from fleetgate.domain.claims import MAX_DURATION_MS, MAX_SECRET
from fleetgate.domain.profiles import MAX_FIELD, CredentialsType
from fleetgate.domain.telemetry import MAX_TS

TAG = "ThingsBoard"
MAX_KEY = 255  # fleetgate.dialects.thingsboard.MAX_KEY
MAX_METHOD = 255  # fleetgate.dialects.thingsboard.rpc.MAX_METHOD
INT_MAX = 2**31 - 1
LONG_TEXT_MAX = 10**19 - 1  # timeout: up to 19 digits, with an optional minus sign


def at_most(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to ``limit`` (no sign, no leading zeros)."""
    digits = str(limit)
    options = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            options.append(f"{digits[:i]}[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    options.append(digits)
    return "(" + "|".join(options) + ")"


_KEYS = {"propertyNames": {"minLength": 1, "maxLength": MAX_KEY}}
_VALUES = {"type": "object", **_KEYS, "description": f"key → value; keys of 1-{MAX_KEY} characters"}
_TS = {
    "description": "epoch milliseconds: an integral number, or a string of digits",
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": MAX_TS - 1},
        {"type": "string", "pattern": r"^(?=[0-9]{1,19}$)0*[0-9]{1,15}$"},
    ],
}
_RECORD = {
    "anyOf": [
        {
            "type": "object",
            "required": ["ts", "values"],
            "properties": {"ts": _TS, "values": _VALUES},
            "description": "values at a timestamp of the device's",
        },
        {**_VALUES, "not": {"required": ["ts", "values"]}, "description": "values at the server's time"},
    ]
}
_TEXT = {
    "anyOf": [{"type": "string", "maxLength": MAX_FIELD}, {"type": "number"}, {"type": "boolean"}],
    "description": "text; a number or boolean is read as its text",
}


# --------------------------------------------------------------------------- request bodies
class TbTelemetry(
    RootModel[
        Annotated[
            Any,
            WithJsonSchema(
                {
                    "description": "An object of values, {ts, values}, or an array of either "
                    "(lenient JSON: unquoted keys and single quotes are read too)",
                    "anyOf": [_RECORD, {"type": "array", "items": _RECORD}],
                }
            ),
        ]
    ]
):
    pass


class TbAttributes(RootModel[Annotated[dict[str, Any], WithJsonSchema(_VALUES)]]):
    """Client attributes: a JSON object; null values are skipped."""


class TbRpcReply(RootModel[Annotated[Any, WithJsonSchema({"description": "any JSON, or text"})]]):
    """The device's reply to a server-side RPC: kept as JSON when it is JSON, else as text."""


class TbClientRpcRequest(BaseModel):
    method: str = Field(min_length=1, max_length=MAX_METHOD)
    params: Any = Field(default=None, description="defaults to {}")


class TbClaimRequest(BaseModel):
    secretKey: Annotated[
        Any,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "maxLength": MAX_SECRET},
                    {"type": "number"},
                    {"type": "boolean"},
                ],
                "description": "the secret the operator must give to claim the device",
            }
        ),
    ] = None
    durationMs: Annotated[
        Any,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": -(2**63) + 1, "maximum": MAX_DURATION_MS},
                    {
                        "type": "string",
                        "pattern": rf"^(\+?0*{at_most(MAX_DURATION_MS)}|-0*{at_most(2**63 - 1)})$",
                        "description": "an integer in decimal digits, as Java's Long.parseLong reads it",
                    },
                ],
                "description": "the claiming window in milliseconds; 0 or less: 24 hours",
            }
        ),
    ] = None


class TbProvisionRequest(BaseModel):
    provisionDeviceKey: Annotated[Any, WithJsonSchema(_TEXT)]
    provisionDeviceSecret: Annotated[Any, WithJsonSchema(_TEXT)]
    deviceName: Annotated[Any, WithJsonSchema(_TEXT)] = None
    credentialsType: Annotated[
        Any,
        WithJsonSchema(
            {"type": "string", "enum": [t.value for t in CredentialsType], "default": "ACCESS_TOKEN"}
        ),
    ] = None
    token: Annotated[Any, WithJsonSchema(_TEXT)] = None
    clientId: Annotated[Any, WithJsonSchema(_TEXT)] = None
    username: Annotated[Any, WithJsonSchema(_TEXT)] = None
    password: Annotated[Any, WithJsonSchema(_TEXT)] = None
    hash: Annotated[
        Any, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]})
    ] = None
    gateway: Annotated[
        Any,
        WithJsonSchema(
            {
                "anyOf": [{"type": "boolean"}, {"type": "string"}, {"type": "number"}],
                "description": 'true, or a text that reads "true" in any case',
            }
        ),
    ] = None


# --------------------------------------------------------------------------- answers
class TbAttributesRead(BaseModel):
    client: dict[str, Any] | None = Field(default=None, description="absent when empty")
    shared: dict[str, Any] | None = Field(default=None, description="absent when empty")


class TbAttributeUpdate(
    RootModel[
        Annotated[
            dict[str, Any],
            WithJsonSchema(
                {
                    "type": "object",
                    "minProperties": 1,
                    "description": 'the changed shared attributes, or {"deleted": [keys]}',
                }
            ),
        ]
    ]
):
    pass


class TbRpcRequest(BaseModel):
    id: int = Field(description="the per-device RPC id the reply goes to")
    method: str
    params: Any


class TbClientRpcAnswer(RootModel[Annotated[Any, WithJsonSchema({"description": "the method's answer"})]]):
    pass


class TbCallError(BaseModel):
    error: str = Field(examples=["timeout"])


class TbProvisionSuccess(BaseModel):
    credentialsValue: Any
    credentialsType: str | None
    status: Literal["SUCCESS"]


class TbProvisionFailure(BaseModel):
    errorMsg: str | None
    status: Literal["NOT_FOUND", "FAILURE"]


class TbProvisionResponse(RootModel[TbProvisionSuccess | TbProvisionFailure]):
    pass


# --------------------------------------------------------------------------- shared pieces
TOKEN = path(
    "token",
    {"type": "string", "minLength": 1},
    "The device's access token (the credential: an unknown token is a 401 with an empty body)",
)
TIMEOUT = query(
    "timeout",
    {
        "anyOf": [
            {"type": "integer", "minimum": -LONG_TEXT_MAX, "maximum": LONG_TEXT_MAX},
            {"type": "string", "maxLength": 0},
        ]
    },
    "How long to wait, in milliseconds; absent, empty (Spring's default value, as ThingsBoard reads it) "
    "or 0: the cap (25 s), never more than the cap",
)
_PLAIN = raw({"type": "string"}, "text/plain")

BAD_REQUEST = Answer(
    400, "Malformed request: ThingsBoard's message as plain text", _PLAIN | GATEWAY, name="TbBadRequest"
)
UNKNOWN_TOKEN = Answer(401, "Unknown access token (empty body)", name="TbUnknownToken")
TOO_LARGE = Answer(
    413,
    'Body over the device payload limit: "Payload size exceeds the limit of N bytes"',
    raw({"type": "string"}) | GATEWAY,
    name="TbPayloadTooLarge",
)
FAILED = Answer(
    500, "Internal failure (empty body, or API Gateway's message)", GATEWAY, name="TbInternalFailure"
)
CONFLICT = Answer(
    409, "Lost to a concurrent change: the reason as plain text; retry", _PLAIN, name="TbConflict"
)
BUSY = Answer(503, "A transient failure (throttling); retry (empty body)", name="TbServiceUnavailable")
WRITTEN = Answer(200, "Accepted (empty body)", name="TbWritten")
NOTHING_YET = Answer(
    408, "Nothing to deliver before the timeout (empty body): poll again", name="TbNothingYet"
)


def _operation(
    method: str,
    route: str,
    operation_id: str,
    summary: str,
    answers: tuple[Answer, ...],
    *,
    parameters: tuple[Parameter, ...] = (),
    request: Body | None = None,
    request_required: bool = True,
    open_route: bool = False,
    description: str = "",
) -> Operation:
    common = (BAD_REQUEST,) + (() if open_route else (UNKNOWN_TOKEN,))
    common_tail = (CONFLICT,) + ((TOO_LARGE,) if request else ()) + (FAILED, BUSY)
    statuses = {a.status for a in answers}
    merged = answers + tuple(a for a in common + common_tail if a.status not in statuses)
    return Operation(
        method=method,
        path=route,
        operation_id=operation_id,
        tag=TAG,
        summary=summary,
        answers=tuple(sorted(merged, key=lambda a: a.status)),
        parameters=(() if open_route else (TOKEN,)) + parameters,
        request=request,
        request_required=request_required,
        description=description,
    )


def _ota(package: str) -> Operation:
    return _operation(
        "GET",
        f"/api/v1/{{token}}/{package}",
        f"tb_get_{package}",
        f"Download the assigned {package} package, whole or by chunk",
        (
            Answer(
                200,
                "The package's bytes (a chunk past the end: an empty body)",
                raw({"type": "string", "format": "binary"}, "application/octet-stream"),
                {
                    "Content-Disposition": header("attachment;filename=<the package's file name>"),
                    "x-filename": header("the package's file name"),
                },
            ),
            Answer(404, "No package of this kind is assigned to the device (empty body)"),
            Answer(
                413,
                "One answer would carry more than 4 MiB: ask for smaller chunks",
                raw({"type": "string"}) | GATEWAY,
            ),
        ),
        parameters=(
            query("title", {"type": "string", "minLength": 1}, "the assigned package's title", required=True),
            query(
                "version", {"type": "string", "minLength": 1}, "the assigned package's version", required=True
            ),
            query(
                "size", {"type": "integer", "minimum": 0, "maximum": INT_MAX}, "chunk size in bytes; 0: whole"
            ),
            query("chunk", {"type": "integer", "minimum": 0, "maximum": INT_MAX}, "chunk index, from 0"),
        ),
    )


OPERATIONS: tuple[Operation, ...] = (
    _operation(
        "POST",
        "/api/v1/{token}/telemetry",
        "tb_post_telemetry",
        "Post telemetry",
        (WRITTEN,),
        request=model(TbTelemetry),
    ),
    _operation(
        "POST",
        "/api/v1/{token}/attributes",
        "tb_post_attributes",
        "Post client attributes",
        (WRITTEN,),
        request=model(TbAttributes),
    ),
    _operation(
        "GET",
        "/api/v1/{token}/attributes",
        "tb_get_attributes",
        "Read client and shared attributes (with neither parameter: all of both)",
        (Answer(200, "The attributes asked for; empty scopes left out", model(TbAttributesRead)),),
        parameters=(
            query("clientKeys", {"type": "string"}, "comma-separated client attribute keys"),
            query("sharedKeys", {"type": "string"}, "comma-separated shared attribute keys"),
        ),
    ),
    _operation(
        "GET",
        "/api/v1/{token}/attributes/updates",
        "tb_get_attribute_updates",
        "Long-poll for shared-attribute changes",
        (Answer(200, "The changed shared attributes", model(TbAttributeUpdate)), NOTHING_YET),
        parameters=(TIMEOUT,),
    ),
    _operation(
        "GET",
        "/api/v1/{token}/rpc",
        "tb_get_rpc",
        "Long-poll for a server-side RPC",
        (Answer(200, "The next open RPC", model(TbRpcRequest)), NOTHING_YET),
        parameters=(TIMEOUT,),
    ),
    _operation(
        "POST",
        "/api/v1/{token}/rpc/{requestId}",
        "tb_post_rpc_reply",
        "Reply to a server-side RPC (200 also for an unknown, stale or answered id)",
        (WRITTEN,),
        parameters=(
            path("requestId", {"type": "integer", "minimum": -(2**31), "maximum": INT_MAX}, "the RPC's id"),
        ),
        request=Body(
            {
                JSON: {"description": "any JSON, or text"},
                "text/plain": {
                    "type": "string",
                    "minLength": 1,
                    "description": "required, as in ThingsBoard",
                },
            }
        ),
    ),
    _operation(
        "POST",
        "/api/v1/{token}/rpc",
        "tb_post_client_rpc",
        "Client-side RPC: call a method of the server",
        (
            Answer(200, "The method's answer", model(TbClientRpcAnswer)),
            Answer(404, "No such method (no handler function is configured)", model(TbCallError)),
            Answer(502, "The handler function failed", model(TbCallError)),
            Answer(504, 'The handler did not answer in time: {"error": "timeout"}', model(TbCallError)),
        ),
        request=model(TbClientRpcRequest),
    ),
    _ota("firmware"),
    _ota("software"),
    _operation(
        "POST",
        "/api/v1/provision",
        "tb_provision",
        "Provision a device with its profile's provision key and secret",
        (Answer(200, "SUCCESS with the credentials, or NOT_FOUND / FAILURE", model(TbProvisionResponse)),),
        request=model(TbProvisionRequest),
        open_route=True,
        description="No access token: the provision key and secret in the body are the credential.",
    ),
    _operation(
        "POST",
        "/api/v1/{token}/claim",
        "tb_post_claim",
        "Open a claiming window (also 200 when the device already has an owner)",
        (WRITTEN,),
        request=model(TbClaimRequest),
        request_required=False,
    ),
)
