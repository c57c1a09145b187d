"""The operator API (``/manage/v1``): ThingsPro's envelope, ``{"data": ...}`` on success (listings add
``count`` and ``nextToken``) and ``{"error": {"code": <status>, "message"}}`` on failure
(``fleetgate.dialects.manage``). Every route but ``POST /manage/v1/auth`` needs the JWT that login
returns, as ``Authorization: Bearer <token>``; API Gateway's JWT authorizer refuses a missing or invalid
one with its own ``{"message": "Unauthorized"}``. Request bodies are ``manage_requests``' models, the
ones the handlers validate with; the views below are what the handlers render."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel

from fleetgate.contracts import manage_requests as req
from fleetgate.contracts.gateway import BEARER_CHALLENGE, GATEWAY
from fleetgate.contracts.spec import (
    Answer,
    Body,
    Operation,
    Parameter,
    envelope,
    header,
    model,
    page,
    path,
    query,
    schema,
)
from fleetgate.contracts.thingdatas import SHADOW_NAME_PATTERN, TdShadowAccepted
from fleetgate.domain.jobs import ExecutionStatus
from fleetgate.domain.paging import MAX_PAGE

TAG = "Operator"
SECURITY: tuple[dict[str, list[str]], ...] = ({"operatorJwt": []},)
V1 = "/manage/v1"


# --------------------------------------------------------------------------- views
class ManageErrorDetail(BaseModel):
    code: int = Field(description="the HTTP status")
    message: str


class ManageError(BaseModel):
    error: ManageErrorDetail


class OperatorView(BaseModel):
    id: str | None = None
    name: str
    email: str | None = None
    isActive: bool
    loginAt: str


class LoginView(BaseModel):
    token: str = Field(description="a JWT for Authorization: Bearer")
    tokenType: Literal["Bearer"]
    expiresIn: int | None
    user: OperatorView


class DeviceView(BaseModel):
    id: str
    name: str
    type: str | None
    createdAt: str
    label: str | None = None
    profileId: str | None = Field(default=None, description="absent in a profile's device listing")
    gateway: bool | None = None
    owner: str | None = Field(default=None, description="the claiming operator (device read only)")


class Credentials(BaseModel):
    accessToken: str


class DeviceWithCredentials(DeviceView):
    credentials: Credentials


class TimedValue(BaseModel):
    ts: int
    value: Any


class TelemetryHistory(RootModel[dict[str, list[TimedValue]]]):
    """key → values, newest first."""


class TelemetryLatest(RootModel[dict[str, TimedValue]]):
    """key → latest value."""


class AttributesView(BaseModel):
    client: dict[str, Any]
    shared: dict[str, Any]
    version: int


class OwnershipView(BaseModel):
    deviceId: str
    owner: str
    claimedAt: str
    ownerName: str | None = None


class RpcView(BaseModel):
    rpcId: str
    id: int
    deviceId: str
    method: str
    params: Any
    oneway: bool
    persistent: bool
    status: Literal["QUEUED", "DELIVERED", "SUCCESSFUL", "FAILED", "EXPIRED", "TIMEOUT", "CANCELED"]
    createdTime: int
    expirationTime: int
    deliveries: int
    retries: int | None = None
    additionalInfo: Any = None
    deliveredTime: int | None = None
    completedTime: int | None = None
    response: Any = Field(default=None, description="a two-way RPC's reply, once SUCCESSFUL")


class PackageView(BaseModel):
    id: str
    type: Literal["FIRMWARE", "SOFTWARE"]
    title: str
    version: str
    contentType: str | None
    fileName: str | None
    checksumAlgorithm: str | None
    checksum: str | None
    size: int | None
    status: str
    createdAt: str
    readyAt: str | None = None
    uploadUrl: str | None = Field(default=None, description="a presigned PUT, while the upload is open")
    uploadUrlExpiresAt: str | None = None


class AssignmentView(PackageView):
    source: str = Field(description="device or profile: where the assignment comes from")
    assignedAt: str


class OtaProgress(BaseModel):
    assigned: AssignmentView | None
    reported: dict[str, TimedValue]
    upToDate: bool


class DeviceOtaView(BaseModel):
    deviceId: str
    firmware: OtaProgress | None = None
    software: OtaProgress | None = None


class ProfileOtaView(BaseModel):
    profileId: str
    firmware: AssignmentView | None
    software: AssignmentView | None
    devicesChecked: int | None = Field(default=None, description="after an assignment")


class ProfileView(BaseModel):
    id: str
    name: str
    provisionStrategy: req.StrategyName
    provisionDeviceKey: str | None
    createdAt: str
    updatedAt: str
    provisionDeviceSecret: str | None = Field(default=None, description="only when created or rotated")


class PermissionView(BaseModel):
    method: str
    path: str


class ApiKeyView(BaseModel):
    id: str
    name: str
    permissions: list[PermissionView]
    createdAt: str
    status: Literal["ACTIVE", "REVOKED"]
    thingNames: list[str] | None = None
    revokedAt: str | None = None
    secret: str | None = Field(default=None, description="only in the answer that creates the key")


class GroupView(BaseModel):
    name: str
    description: str | None
    createdAt: str


class GroupMemberView(BaseModel):
    thingName: str
    deviceId: str
    groupName: str | None = Field(default=None, description="in the answer that adds the thing")


class ShadowDocument(BaseModel):
    """AWS's GET shadow document: non-empty sections, delta included."""

    state: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    timestamp: int


class ShadowDeleted(BaseModel):
    version: int
    timestamp: int


class NamedShadowView(BaseModel):
    name: str
    version: int
    updatedAt: str


class ShadowHistoryEntry(BaseModel):
    version: int
    timestamp: int
    reported: Any
    source: str
    clientToken: str | None = None


class EventView(BaseModel):
    eventId: str
    eventType: str
    severity: str
    timestamp: int
    data: dict[str, Any]
    receivedAt: str
    appId: str | None = None


class CommandView(BaseModel):
    executionId: str
    commandId: str
    deviceId: str
    thingName: str
    action: str
    params: Any
    ttl: int
    status: str
    createdAt: str
    expiresAt: str
    updatedAt: str
    result: Any = None
    respondedAt: str | None = None
    deviceTimestamp: int | None = None
    clientToken: str | None = None
    statusReason: str | None = None


class JobTargetsView(BaseModel):
    thingNames: list[str]
    thingGroupNames: list[str]


class JobView(BaseModel):
    jobId: str
    description: str | None = None
    status: Literal["IN_PROGRESS", "COMPLETED", "CANCELED"]
    targetSelection: str
    targets: JobTargetsView
    document: Any = Field(default=None, description="absent in listings")
    jobExecutionsRolloutConfig: dict[str, Any] | None = None
    abortConfig: dict[str, Any] | None = None
    timeoutConfig: dict[str, Any] | None = None
    createdAt: str
    lastUpdatedAt: str
    completedAt: str | None = None
    reasonCode: str | None = None
    comment: str | None = None
    forceCanceled: bool | None = None
    executionCounts: dict[str, int]


class JobExecutionView(BaseModel):
    jobId: str
    thingName: str
    deviceId: str
    status: str
    statusDetails: dict[str, str]
    queuedAt: str
    startedAt: str | None = None
    lastUpdatedAt: str
    approximateSecondsBeforeTimedOut: int | None = None
    versionNumber: int
    executionNumber: int
    targetedDirectly: bool
    thingGroupNames: list[str]


# --------------------------------------------------------------------------- shared pieces
ERROR = model(ManageError)
BAD_REQUEST = Answer(400, "A malformed body, parameter or id", ERROR | GATEWAY, name="ManageBadRequest")
UNAUTHORIZED = Answer(
    401,
    "No valid operator JWT (API Gateway's JWT authorizer)",
    GATEWAY | ERROR,
    {"WWW-Authenticate": BEARER_CHALLENGE},
    name="ManageUnauthorized",
)
NOT_FOUND = Answer(404, "No such resource (or route)", ERROR, name="ManageNotFound")
TOO_LARGE = Answer(
    413, "Body over the route's limit (or API Gateway's 10 MB)", ERROR | GATEWAY, name="ManagePayloadTooLarge"
)
FAILED = Answer(500, "Internal failure", ERROR | GATEWAY, name="ManageInternalFailure")
BUSY = Answer(503, "A transient failure (throttling); retry later", ERROR, name="ManageServiceUnavailable")
NO_CONTENT = Answer(204, "Done (empty body)", name="ManageNoContent")

ID = path("id", {"type": "string", "minLength": 1}, "a device's id")
LIMIT = query(
    "limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 20}, "items per page (1-100)"
)
NEXT_TOKEN = query("nextToken", {"type": "string"}, "from the previous page's nextToken")
PAGE = (LIMIT, NEXT_TOKEN)
SHADOW_NAME = query(
    "name", {"type": "string", "pattern": SHADOW_NAME_PATTERN}, "a named shadow; absent: classic"
)
GROUP = path("groupName", {"type": "string", "minLength": 1})


def _op(
    method: str,
    route: str,
    operation_id: str,
    summary: str,
    success: Answer,
    *others: Answer,
    parameters: tuple[Parameter, ...] = (),
    request: Body | None = None,
    request_required: bool = True,
    open_route: bool = False,
) -> Operation:
    common = [BAD_REQUEST, NOT_FOUND, FAILED, BUSY] + ([TOO_LARGE] if request else [])
    if not open_route:
        common.append(UNAUTHORIZED)
    answers = [success, *others]
    answers += [a for a in common if a.status not in {b.status for b in answers}]
    return Operation(
        method=method,
        path=V1 + route,
        operation_id=operation_id,
        tag=TAG,
        summary=summary,
        answers=tuple(sorted(answers, key=lambda a: a.status)),
        parameters=parameters,
        request=request,
        request_required=request_required,
        security=() if open_route else SECURITY,
    )


def ok(view: type[BaseModel] | None, description: str = "Done", status: int = 200) -> Answer:
    return Answer(status, description, envelope(view))


def listing(view: type[BaseModel], description: str = "One page") -> Answer:
    return Answer(200, description, page(view))


def conflict(description: str) -> Answer:
    return Answer(409, description, ERROR)


def _located(status: int, description: str) -> Answer:
    return Answer(
        status, description, ERROR, {"Location": header("where the resource stays readable", required=True)}
    )


_ANY_OBJECT = schema(
    {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"minLength": 1, "maxLength": 255},  # fleetgate.services.attributes
        "description": "attribute → value; keys of 1-255 characters",
    }
)

OPERATIONS: tuple[Operation, ...] = (
    _op(
        "POST",
        "/auth",
        "manage_login",
        "Sign in: a JWT for every other operator route",
        ok(LoginView, "The token and the operator"),
        Answer(401, "Wrong name or password", ERROR),
        request=model(req.LoginRequest),
        open_route=True,
    ),
    # devices
    _op("GET", "/devices", "manage_list_devices", "List devices", listing(DeviceView), parameters=PAGE),
    _op(
        "POST",
        "/devices",
        "manage_create_device",
        "Register a device (its access token appears only here)",
        ok(DeviceWithCredentials, "The device with its access token", 201),
        conflict("A device has this name"),
        request=model(req.CreateDeviceRequest),
    ),
    _op("GET", "/devices/{id}", "manage_get_device", "Read a device", ok(DeviceView), parameters=(ID,)),
    _op("DELETE", "/devices/{id}", "manage_delete_device", "Delete a device", NO_CONTENT, parameters=(ID,)),
    _op(
        "POST",
        "/devices/{id}/credentials",
        "manage_regenerate_credentials",
        "Replace the device's access token",
        ok(DeviceWithCredentials, "The device with its new access token"),
        parameters=(ID,),
    ),
    _op(
        "GET",
        "/devices/{id}/telemetry",
        "manage_get_telemetry",
        "Telemetry history by key and time range",
        ok(TelemetryHistory),
        parameters=(
            ID,
            query("keys", {"type": "string"}, "comma-separated keys; absent: all"),
            query("startTs", {"type": "integer", "minimum": 0}, "epoch ms, inclusive (default 0)"),
            query("endTs", {"type": "integer", "minimum": 0}, "epoch ms, inclusive (default now)"),
            query(
                "limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "values per key"
            ),
        ),
    ),
    _op(
        "GET",
        "/devices/{id}/telemetry/latest",
        "manage_get_latest_telemetry",
        "The latest value of each key",
        ok(TelemetryLatest),
        parameters=(ID, query("keys", {"type": "string"}, "comma-separated keys; absent: all")),
    ),
    _op(
        "GET",
        "/devices/{id}/attributes",
        "manage_get_attributes",
        "Client and shared attributes",
        ok(AttributesView),
        parameters=(ID,),
    ),
    _op(
        "PUT",
        "/devices/{id}/attributes/shared",
        "manage_put_shared_attributes",
        "Set shared attributes (the device's long-poll gets them)",
        ok(AttributesView),
        parameters=(ID,),
        request=_ANY_OBJECT,
    ),
    _op(
        "DELETE",
        "/devices/{id}/attributes/shared",
        "manage_delete_shared_attributes",
        "Delete shared attributes",
        ok(AttributesView),
        parameters=(
            ID,
            query("keys", {"type": "string", "pattern": "[^,]"}, "comma-separated keys", required=True),
        ),
    ),
    _op(
        "POST",
        "/devices/claim",
        "manage_claim_device",
        "Claim a device with the secret it sent, within its claiming window",
        ok(OwnershipView, "The signed-in operator owns the device"),
        Answer(403, "Not claimable: no open window, or a wrong secret", ERROR),
        conflict("Already claimed"),
        request=model(req.ClaimDeviceRequest),
    ),
    _op(
        "DELETE",
        "/devices/{id}/claim",
        "manage_release_device",
        "Release a device the signed-in operator owns",
        NO_CONTENT,
        conflict("Not claimed, or by another operator"),
        parameters=(ID,),
    ),
    # RPC
    _op(
        "POST",
        "/devices/{id}/rpc",
        "manage_send_rpc",
        "Send a server-side RPC (a two-way one waits for the reply)",
        ok(RpcView, "Queued (one-way, persistent) or answered (two-way)"),
        _located(504, "The device did not reply in time; the RPC stays readable at Location"),
        parameters=(ID,),
        request=model(req.SendRpcRequest),
    ),
    _op(
        "GET",
        "/devices/{id}/rpc",
        "manage_list_rpcs",
        "List the device's RPCs, newest first",
        listing(RpcView),
        parameters=(ID, *PAGE),
    ),
    _op(
        "GET",
        "/devices/{id}/rpc/{rpcId}",
        "manage_get_rpc",
        "Read an RPC",
        ok(RpcView),
        parameters=(ID, path("rpcId", {"type": "string", "format": "uuid"}, "the RPC's rpcId")),
    ),
    _op(
        "DELETE",
        "/devices/{id}/rpc/{rpcId}",
        "manage_cancel_rpc",
        "Cancel a QUEUED RPC",
        ok(RpcView, "The canceled RPC"),
        conflict("Delivered or ended already"),
        parameters=(ID, path("rpcId", {"type": "string", "format": "uuid"}, "the RPC's rpcId")),
    ),
    # OTA
    _op(
        "POST",
        "/ota-packages",
        "manage_create_ota_package",
        "Create a package, with a presigned upload URL",
        ok(PackageView, "The package, waiting for its data", 201),
        conflict("A package has this type, title and version"),
        request=model(req.CreatePackageRequest),
    ),
    _op(
        "GET",
        "/ota-packages",
        "manage_list_ota_packages",
        "List packages",
        listing(PackageView),
        parameters=(query("type", {"type": "string", "enum": ["FIRMWARE", "SOFTWARE"]}), *PAGE),
    ),
    _op(
        "GET",
        "/ota-packages/{id}",
        "manage_get_ota_package",
        "Read a package",
        ok(PackageView),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a package's id"),),
    ),
    _op(
        "DELETE",
        "/ota-packages/{id}",
        "manage_delete_ota_package",
        "Delete a package",
        NO_CONTENT,
        conflict("The package is assigned"),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a package's id"),),
    ),
    _op(
        "PUT",
        "/ota-packages/{id}/data",
        "manage_upload_ota_package_data",
        "Upload a small package's bytes directly",
        ok(PackageView, "The package, READY"),
        conflict("The package is not waiting for data"),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a package's id"),),
        request=schema({"type": "string", "format": "binary"}, "application/octet-stream"),
    ),
    _op(
        "POST",
        "/ota-packages/{id}/complete",
        "manage_complete_ota_package",
        "Complete a presigned upload (checks size and checksum)",
        ok(PackageView, "The package, READY"),
        conflict("The package is not waiting for data"),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a package's id"),),
    ),
    _op(
        "GET",
        "/devices/{id}/ota",
        "manage_get_device_ota",
        "The device's assigned packages and update progress",
        ok(DeviceOtaView),
        parameters=(ID,),
    ),
    _op(
        "PUT",
        "/devices/{id}/ota",
        "manage_put_device_ota",
        "Assign packages to the device (null unassigns)",
        ok(DeviceOtaView),
        conflict("The package is not READY"),
        parameters=(ID,),
        request=model(req.AssignRequest),
    ),
    _op(
        "GET",
        "/device-profiles/{id}/ota",
        "manage_get_profile_ota",
        "The profile's assigned packages",
        ok(ProfileOtaView),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a profile's id"),),
    ),
    _op(
        "PUT",
        "/device-profiles/{id}/ota",
        "manage_put_profile_ota",
        "Assign packages to the profile's devices (null unassigns)",
        ok(ProfileOtaView),
        conflict("The package is not READY"),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a profile's id"),),
        request=model(req.AssignRequest),
    ),
    # device profiles
    _op(
        "POST",
        "/device-profiles",
        "manage_create_profile",
        "Create a device profile (its provision secret appears only here)",
        ok(ProfileView, "The profile with its provision secret", 201),
        conflict("A profile has this name or provision key"),
        request=model(req.CreateProfileRequest),
    ),
    _op(
        "GET",
        "/device-profiles",
        "manage_list_profiles",
        "List profiles",
        listing(ProfileView),
        parameters=PAGE,
    ),
    _op(
        "GET",
        "/device-profiles/{id}",
        "manage_get_profile",
        "Read a profile",
        ok(ProfileView),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a profile's id"),),
    ),
    _op(
        "PATCH",
        "/device-profiles/{id}",
        "manage_update_profile",
        "Change the provisioning strategy",
        ok(ProfileView),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a profile's id"),),
        request=model(req.UpdateProfileRequest),
    ),
    _op(
        "DELETE",
        "/device-profiles/{id}",
        "manage_delete_profile",
        "Delete a profile",
        NO_CONTENT,
        conflict("Devices still use the profile"),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a profile's id"),),
    ),
    _op(
        "POST",
        "/device-profiles/{id}/provision-secret",
        "manage_rotate_provision_secret",
        "Rotate the provision secret",
        ok(ProfileView, "The profile with its new secret"),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a profile's id"),),
    ),
    _op(
        "GET",
        "/device-profiles/{id}/devices",
        "manage_list_profile_devices",
        "List the profile's devices",
        listing(DeviceView),
        parameters=(path("id", {"type": "string", "minLength": 1}, "a profile's id"), *PAGE),
    ),
    # API keys
    _op(
        "POST",
        "/api-keys",
        "manage_create_api_key",
        "Create a ThingDatas deployment API key (its secret appears only here)",
        ok(ApiKeyView, "The key with its secret", 201),
        request=model(req.CreateApiKeyRequest),
    ),
    _op("GET", "/api-keys", "manage_list_api_keys", "List API keys", listing(ApiKeyView), parameters=PAGE),
    _op(
        "GET",
        "/api-keys/{keyId}",
        "manage_get_api_key",
        "Read an API key",
        ok(ApiKeyView),
        parameters=(path("keyId", {"type": "string", "minLength": 1}),),
    ),
    _op(
        "DELETE",
        "/api-keys/{keyId}",
        "manage_revoke_api_key",
        "Revoke an API key",
        ok(ApiKeyView, "The revoked key"),
        parameters=(path("keyId", {"type": "string", "minLength": 1}),),
    ),
    # thing groups
    _op(
        "POST",
        "/thing-groups",
        "manage_create_thing_group",
        "Create a static thing group",
        ok(GroupView, "The group", 201),
        conflict("A group has this name"),
        request=model(req.CreateGroupRequest),
    ),
    _op(
        "GET", "/thing-groups", "manage_list_thing_groups", "List groups", listing(GroupView), parameters=PAGE
    ),
    _op(
        "GET",
        "/thing-groups/{groupName}",
        "manage_get_thing_group",
        "Read a group",
        ok(GroupView),
        parameters=(GROUP,),
    ),
    _op(
        "DELETE",
        "/thing-groups/{groupName}",
        "manage_delete_thing_group",
        "Delete a group",
        NO_CONTENT,
        conflict("The group still has things, or jobs target it"),
        parameters=(GROUP,),
    ),
    _op(
        "GET",
        "/thing-groups/{groupName}/things",
        "manage_list_thing_group_members",
        "List the group's things",
        listing(GroupMemberView),
        parameters=(GROUP, *PAGE),
    ),
    _op(
        "PUT",
        "/thing-groups/{groupName}/things/{thingName}",
        "manage_add_thing_to_group",
        "Add a thing to the group",
        ok(GroupMemberView),
        conflict("The group is full, or a concurrent change"),
        parameters=(GROUP, path("thingName", {"type": "string", "minLength": 1})),
    ),
    _op(
        "DELETE",
        "/thing-groups/{groupName}/things/{thingName}",
        "manage_remove_thing_from_group",
        "Remove a thing from the group",
        NO_CONTENT,
        parameters=(GROUP, path("thingName", {"type": "string", "minLength": 1})),
    ),
    # shadows
    _op(
        "GET",
        "/devices/{id}/shadow",
        "manage_get_shadow",
        "Read a shadow document",
        ok(ShadowDocument),
        parameters=(ID, SHADOW_NAME),
    ),
    _op(
        "PATCH",
        "/devices/{id}/shadow",
        "manage_update_shadow_desired",
        "Change desired state (AWS update document, desired only)",
        ok(TdShadowAccepted, "AWS's /update/accepted document"),
        conflict("version differs from the shadow's"),
        parameters=(ID, SHADOW_NAME),
        request=schema(
            {
                "type": "object",
                "required": ["state"],
                "properties": {
                    "state": {
                        "type": "object",
                        "required": ["desired"],
                        "additionalProperties": False,
                        "properties": {"desired": {"type": ["object", "null"]}},
                    },
                    "version": {"type": ["integer", "null"], "minimum": 0},
                    "clientToken": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
                },
            }
        ),
    ),
    _op(
        "DELETE",
        "/devices/{id}/shadow",
        "manage_delete_shadow",
        "Delete a shadow",
        ok(ShadowDeleted),
        parameters=(ID, SHADOW_NAME),
    ),
    _op(
        "GET",
        "/devices/{id}/shadows",
        "manage_list_named_shadows",
        "List the device's named shadows",
        listing(NamedShadowView),
        parameters=(ID, *PAGE),
    ),
    _op(
        "GET",
        "/devices/{id}/shadow/history",
        "manage_get_shadow_history",
        "The shadow's history of reports",
        listing(ShadowHistoryEntry),
        parameters=(ID, SHADOW_NAME, *PAGE),
    ),
    # events
    _op(
        "GET",
        "/devices/{id}/events",
        "manage_list_device_events",
        "The device's events",
        listing(EventView, "One page (a filtered page may hold fewer than limit while nextToken is present)"),
        parameters=(
            ID,
            query("startTs", {"type": "integer", "minimum": 0}, "Unix ms, inclusive"),
            query("endTs", {"type": "integer", "minimum": 0}, "Unix ms, inclusive"),
            query("eventType", {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"}),
            query("severity", {"type": "string", "enum": ["info", "warn", "error"]}),
            query("order", {"type": "string", "enum": ["desc", "asc"], "default": "desc"}),
            *PAGE,
        ),
    ),
    # commands
    _op(
        "POST",
        "/devices/{id}/commands",
        "manage_send_command",
        "Send a command to the device over MQTT",
        ok(CommandView, "The execution, SENT", 201),
        conflict("The device has this executionId already"),
        _located(502, "The publish failed; the FAILED execution stays readable at Location"),
        parameters=(ID,),
        request=model(req.SendCommandRequest),
    ),
    _op(
        "GET",
        "/devices/{id}/commands",
        "manage_list_commands",
        "List the device's commands, newest first",
        listing(CommandView),
        parameters=(ID, *PAGE),
    ),
    _op(
        "GET",
        "/devices/{id}/commands/{executionId}",
        "manage_get_command",
        "Read a command execution",
        ok(CommandView),
        parameters=(ID, path("executionId", {"type": "string", "minLength": 1})),
    ),
    _op(
        "POST",
        "/devices/{id}/commands/{executionId}/cancel",
        "manage_cancel_command",
        "Cancel a SENT command",
        ok(CommandView, "The canceled execution"),
        conflict("The execution has ended"),
        parameters=(ID, path("executionId", {"type": "string", "minLength": 1})),
    ),
    # jobs
    _op(
        "POST",
        "/jobs",
        "manage_create_job",
        "Create a job (one QUEUED execution per target thing)",
        ok(JobView, "The job", 201),
        conflict("The jobId is in use"),
        request=model(req.CreateJobRequest),
    ),
    _op("GET", "/jobs", "manage_list_jobs", "List jobs, newest first", listing(JobView), parameters=PAGE),
    _op(
        "GET",
        "/jobs/{jobId}",
        "manage_get_job",
        "Read a job",
        ok(JobView),
        parameters=(path("jobId", {"type": "string", "minLength": 1}),),
    ),
    _op(
        "POST",
        "/jobs/{jobId}/cancel",
        "manage_cancel_job",
        "Cancel a job",
        ok(JobView, "The canceled job"),
        conflict("The job is COMPLETED"),
        parameters=(path("jobId", {"type": "string", "minLength": 1}),),
        request=model(req.CancelJobRequest),
        request_required=False,
    ),
    _op(
        "GET",
        "/jobs/{jobId}/executions",
        "manage_list_job_executions",
        "List a job's executions by thing name",
        listing(JobExecutionView),
        parameters=(
            path("jobId", {"type": "string", "minLength": 1}),
            query("status", {"type": "string", "enum": [s.value for s in ExecutionStatus]}),
            *PAGE,
        ),
    ),
)
