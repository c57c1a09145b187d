"""The operator API's ThingsPro routes (``/manage/v1/thingspro/gateways``): register a gateway, read
it, send it any ThingsPro REST call over the remote API, and follow, list and cancel its requests."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from fleetgate.contracts import manage
from fleetgate.contracts.manage_requests import AS_INTEGER
from fleetgate.contracts.spec import Operation, model, path
from fleetgate.domain import thingspro as tpe


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterGatewayRequest(_Strict):
    name: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9:_-]{1,128}$", description="unique; absent: the gateway's id"
    )
    label: str | None = Field(default=None, min_length=1, max_length=256)


class RemoteCallRequest(_Strict):
    method: str = Field(pattern="^(GET|PUT|POST|PATCH|DELETE)$")
    path: str = Field(
        min_length=1,
        max_length=tpe.MAX_PATH,
        pattern=r"^/[^\x00-\x1f]*$",
        description="the gateway's path, no /api/v1 and no empty segment: /system/sshserver",
    )
    requestBody: Any = Field(default=None, description="any JSON; secrets by name are sealed, then masked")
    expiresIn: Annotated[
        int, Field(strict=True, ge=tpe.MIN_LIFETIME_S, le=tpe.MAX_LIFETIME_S), AS_INTEGER
    ] = Field(default=tpe.DEFAULT_LIFETIME_S, description="seconds the request may wait for the gateway")


class Presence(BaseModel):
    connected: bool
    at: str


class GatewayView(BaseModel):
    id: str
    name: str
    label: str | None
    registeredAt: str
    presence: Presence | None = Field(description="the last lifecycle event; null: never connected")
    droppedAnswers: int = Field(description="answers that matched no request awaiting one")
    openRequests: int


class GatewayRegistered(GatewayView):
    accessKey: str = Field(description="shown only here")
    mqttConfiguration: dict[str, Any] | None = Field(
        description="the body to POST to the gateway's own /api/v1/mqtt; null: the MQTT endpoint is unknown"
    )


class RemoteAnswer(BaseModel):
    state: int
    payload: Any


class RemoteRequestView(BaseModel):
    requestId: str
    method: str
    path: str
    state: str = Field(description="queued, sent, succeeded, failed, expired, timed_out or canceled")
    createdAt: str
    expiresAt: str
    requestBody: Any = Field(description="secrets masked")
    answer: RemoteAnswer | None = Field(description="the gateway's answer, secrets masked")
    reason: str | None = Field(description="why it ended without an answer")


GATEWAY = path("id", {"type": "string", "minLength": 1}, "a gateway's id")
REQUEST = path("requestId", {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}, "a request's id")

OPERATIONS: tuple[Operation, ...] = (
    manage._op(
        "POST",
        "/thingspro/gateways",
        "manage_register_thingspro_gateway",
        "Register a ThingsPro gateway (its access key and MQTT client body appear only here)",
        manage.ok(GatewayRegistered, "The gateway with its credentials", 201),
        manage.conflict("A device has this name"),
        request=model(RegisterGatewayRequest),
        request_required=False,
    ),
    manage._op(
        "GET",
        "/thingspro/gateways/{id}",
        "manage_get_thingspro_gateway",
        "A ThingsPro gateway: its presence and its requests' queue",
        manage.ok(GatewayView),
        parameters=(GATEWAY,),
    ),
    manage._op(
        "POST",
        "/thingspro/gateways/{id}/requests",
        "manage_send_thingspro_request",
        "Send any ThingsPro REST call through the remote API (answered when the gateway answers in time)",
        manage.ok(RemoteRequestView, "The gateway answered"),
        manage.ok(RemoteRequestView, "Queued or sent, not answered yet", 202),
        parameters=(GATEWAY,),
        request=model(RemoteCallRequest),
    ),
    manage._op(
        "GET",
        "/thingspro/gateways/{id}/requests",
        "manage_list_thingspro_requests",
        "A gateway's requests, newest first",
        manage.listing(RemoteRequestView),
        parameters=(GATEWAY, *manage.PAGE),
    ),
    manage._op(
        "GET",
        "/thingspro/gateways/{id}/requests/{requestId}",
        "manage_get_thingspro_request",
        "One request and its outcome",
        manage.ok(RemoteRequestView),
        parameters=(GATEWAY, REQUEST),
    ),
    manage._op(
        "DELETE",
        "/thingspro/gateways/{id}/requests/{requestId}",
        "manage_cancel_thingspro_request",
        "Cancel a request not sent yet",
        manage.ok(RemoteRequestView, "Canceled"),
        manage.conflict("It was sent or has ended"),
        parameters=(GATEWAY, REQUEST),
    ),
)
