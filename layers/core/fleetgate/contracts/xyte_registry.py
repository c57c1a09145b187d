"""Xyte device API operations of registration, device info, telemetry, space, cloud settings, events
and incidents (see ``fleetgate.contracts.xyte``), and the operator's Xyte routes
(``/manage/v1/xyte/...``) with the request models those routes validate with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictBool

from fleetgate.contracts import manage
from fleetgate.contracts.manage_requests import AS_INTEGER, StrictInt
from fleetgate.contracts.spec import Answer, Operation, model, path, query, schema
from fleetgate.contracts.xyte import (
    BAD_REQUEST,
    DEVICE_ID,
    ERROR,
    INTERNAL,
    NOT_FOUND,
    TOO_LARGE,
    TOO_MANY,
    UNAVAILABLE,
    operation,
)
from fleetgate.domain import xyte as rules
from fleetgate.domain import xyte_registry as registry

FIRMWARE = "SemVer (MAJOR.MINOR.PATCH) from model API 1.0.4"


# --------------------------------------------------------------------------- device bodies
# The domain's rules as JSON Schema patterns (fleetgate.domain.xyte, fleetgate.domain.xyte_registry)
ASCII_ID = r"^[!-~]{1,128}$"  # printable ASCII without spaces: cloud_id, sn
TEXT = r"^[^\x00-\x1f\x7f]*$"  # no control characters: names, parent_id, host_address


class XyteRegistration(BaseModel):
    # an identity: cloud_id (or its old name nano_id), or mac and sn
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["cloud_id"]}, {"required": ["nano_id"]}, {"required": ["mac", "sn"]}]
        }
    )

    hardware_key: str = Field(min_length=1, max_length=128, description="the model's registration key")
    cloud_id: str | None = Field(default=None, pattern=ASCII_ID)
    nano_id: str | None = Field(default=None, pattern=ASCII_ID, description="cloud_id's old name")
    mac: str | None = Field(default=None, examples=["11:22:33:44:55:66"])
    sn: str | None = Field(
        default=None, pattern=ASCII_ID, description="required with cloud_id from API 1.0.2"
    )
    firmware_version: str = Field(min_length=1, max_length=64, description=FIRMWARE)
    name: str | None = Field(default=None, min_length=1, max_length=rules.MAX_NAME, pattern=TEXT)
    details: dict[str, Any] | None = None
    sub_model: str | None = Field(default=None, min_length=1, max_length=registry.MAX_SUB_MODEL)
    parent_id: str | None = Field(default=None, description="a registered device's id")
    custom_partner_name: Any = Field(default=None, description="accepted and ignored")
    custom_model_name: Any = Field(default=None, description="accepted and ignored")


class XyteChildRegistration(BaseModel):
    sn: str = Field(pattern=ASCII_ID)
    model_id: str = Field(min_length=1, max_length=64)
    firmware_version: str = Field(min_length=1, max_length=64, description=FIRMWARE)
    name: str | None = Field(default=None, min_length=1, max_length=rules.MAX_NAME, pattern=TEXT)
    details: dict[str, Any] | None = None


class XyteRegistered(BaseModel):
    id: str
    access_key: str = Field(description="shown only here")
    hub_url: str | None
    hub_url_static_cert: str | None
    mqtt_hub_url: str | None = Field(description="null when the deployment has no MQTT endpoint")
    device_id: str | None = Field(default=None, description="from model API 1.0.7")


class XyteBulkFailure(BaseModel):
    error: str
    code: str
    status: int = Field(description="the HTTP status a single registration would have had")


class XyteBulkAnswer(RootModel[list[XyteRegistered | XyteBulkFailure]]):
    """One entry per registration object, in order."""


class XyteTelemetry(BaseModel):
    status: Literal["online", "offline", "error"] | None = None
    timestamp: str | None = Field(
        default=None,
        description="ISO-8601; absent: the server's time",
        json_schema_extra={"format": "date-time"},
    )
    telemetries: dict[str, Any] | None = Field(
        default=None, description="key → value (null removes the key); under 128 KB as compact JSON"
    )
    override: bool | None = Field(default=None, description="true: keys not sent are removed")
    message: str | None = Field(default=None, max_length=registry.MAX_MESSAGE)


class XyteTelemetryAnswer(BaseModel):
    config_version: int
    command: bool
    new_licenses: bool
    info_version: int
    latest_fw_version: str | None = Field(description="null unless newer than the device's firmware")
    latest_fw_file_id: str | None
    space_data_version: int
    success: bool
    device_id: str | None = Field(default=None, description="from model API 1.0.7")


class XyteChildTelemetry(XyteTelemetry):
    access_token: str = Field(min_length=1, description="the child's access key")


class XyteInvalidToken(BaseModel):
    error: Literal["Invalid access token"]


class XyteChildTelemetryAnswers(
    RootModel[dict[str, XyteTelemetryAnswer | XyteInvalidToken | XyteBulkFailure]]
):
    """child id → its telemetry answer, or why it was refused."""


class XytePartner(BaseModel):
    mac: str | None
    sn: str | None
    cloud_id: str | None
    model: str | None
    model_id: str
    vendor: str | None
    sub_model: str | None


class XyteDeviceState(BaseModel):
    status: Literal["online", "offline", "error"] | None
    message: str | None
    firmware_version: str


class XyteApplied(BaseModel):
    config_version: int | None
    space_version: int | None


class XyteDeviceInfo(BaseModel):
    id: str
    name: str | None
    partner: XytePartner
    state: XyteDeviceState
    last_seen: str | None = Field(description="ISO-8601 time of the last telemetry")
    registered_at: str
    api_version: str
    config_version: int
    info_version: int
    space_version: int
    applied: XyteApplied = Field(description="the versions the device reported through Update Device")
    details: dict[str, Any]
    parent_id: str | None
    host_address: str | None
    device_id: str | None = None


class XyteChild(BaseModel):
    id: str
    name: str | None
    sn: str | None
    model_id: str
    sub_model: str | None
    firmware_version: str
    details: dict[str, Any]


class XyteUpdateDevice(BaseModel):
    firmware_version: str | None = Field(default=None, min_length=1, max_length=64, description=FIRMWARE)
    name: str | None = Field(default=None, min_length=1, max_length=rules.MAX_NAME, pattern=TEXT)
    sub_model: str | None = Field(default=None, min_length=1, max_length=registry.MAX_SUB_MODEL, pattern=TEXT)
    details: dict[str, Any] | None = None
    space_version: int | None = Field(default=None, ge=0, description="the version the device applied")
    config_version: int | None = Field(default=None, ge=0, description="the version the device applied")
    parent_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=TEXT)
    host_address: str | None = Field(
        default=None, min_length=1, max_length=registry.MAX_HOST_ADDRESS, pattern=TEXT
    )


class XyteUpdated(BaseModel):
    success: bool
    info_version: int
    device_id: str | None = None


class XyteCoordinates(BaseModel):
    lat: float | None
    lng: float | None


class XyteLocation(BaseModel):
    coordinates: XyteCoordinates
    utc_offset: int = Field(description="minutes east of UTC")
    name: str | None


class XyteSpace(BaseModel):
    location: XyteLocation
    temperature_units: Literal["celsius", "fahrenheit"]
    maintenance: bool
    name: str | None
    local_time: str = Field(description="now at utc_offset, ISO-8601 with its offset")
    device_id: str | None = None


class XyteCloudSetting(BaseModel):
    property: Literal["incidents.suspend_creation"]
    value: bool


class XyteCloudSettings(BaseModel):
    incidents_suspend_creation: bool = Field(alias="incidents.suspend_creation")


class XyteCloudSettingsAnswer(BaseModel):
    settings: XyteCloudSettings
    success: bool
    device_id: str | None = None


class XyteEvent(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="the stored event's eventType")
    category: str | None = Field(default=None, description="info, warn/warning or error: the severity")
    int_key_1: int | None = None
    int_key_2: int | None = None
    string_key_1: str | None = None
    string_key_2: str | None = None
    timestamp: str | None = Field(
        default=None,
        description="ISO-8601; absent: the server's time",
        json_schema_extra={"format": "date-time"},
    )


class XyteEventStored(BaseModel):
    id: str
    success: bool
    device_id: str | None = None


class XyteIncidentRequest(BaseModel):
    title: str = Field(min_length=1, max_length=registry.MAX_TITLE, pattern=TEXT)
    issue: str | None = Field(default=None, min_length=1, max_length=registry.MAX_TITLE, pattern=TEXT)
    priority: (
        Annotated[str, Field(min_length=1, max_length=32, pattern=TEXT)]
        | Annotated[int, Field(strict=True, ge=-(2**31), lt=2**31), AS_INTEGER]
        | None
    ) = None
    description: str | None = Field(default=None, max_length=registry.MAX_DESCRIPTION)


class XyteIncident(BaseModel):
    id: str
    title: str
    issue: str | None
    priority: str | int | None
    description: str | None
    status: Literal["open", "closed"]
    created_at: str
    closed_at: str | None


class XyteSuccess(BaseModel):
    success: bool
    device_id: str | None = None


# --------------------------------------------------------------------------- operator bodies
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateXyteModelRequest(_Strict):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
    api_version: Literal[rules.API_VERSIONS] = rules.LATEST_API_VERSION  # type: ignore[valid-type]
    vendor: str | None = Field(default=None, min_length=1, max_length=128)
    hardware_key: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9._:-]{8,128}$", description="absent: 32 random hex digits"
    )


class UpdateXyteModelRequest(_Strict):
    api_version: Literal[rules.API_VERSIONS] | None = None  # type: ignore[valid-type]
    latest_fw_version: str | None = Field(default=None, min_length=1, max_length=64)
    latest_fw_file_id: str | None = Field(default=None, min_length=1, max_length=128)


class XyteCoordinatesRequest(_Strict):
    # strict: a number (an integer too), never a boolean or a numeric string
    lat: float | None = Field(default=None, ge=-90, le=90, strict=True)
    lng: float | None = Field(default=None, ge=-180, le=180, strict=True)


class XyteLocationRequest(_Strict):
    coordinates: XyteCoordinatesRequest = Field(default_factory=XyteCoordinatesRequest)
    utc_offset: StrictInt = Field(default=0, ge=-registry.MAX_UTC_OFFSET, le=registry.MAX_UTC_OFFSET)
    name: str | None = Field(default=None, min_length=1, max_length=256)


class XyteSpaceRequest(_Strict):
    location: XyteLocationRequest = Field(default_factory=XyteLocationRequest)
    temperature_units: Literal["celsius", "fahrenheit"] = "celsius"
    maintenance: StrictBool = False
    name: str | None = Field(default=None, min_length=1, max_length=256)


class XyteModelView(BaseModel):
    id: str
    name: str
    api_version: str
    vendor: str | None
    latest_fw_version: str | None
    latest_fw_file_id: str | None
    created_at: str


class XyteModelCreated(XyteModelView):
    hardware_key: str = Field(description="shown only here")


class XyteModelUpdated(XyteModelView):
    devicesUpdated: int = Field(description="device records the api_version was copied to")


class XyteOperatorSpace(XyteSpace):
    space_version: int
    published: bool | None = Field(default=None, description="PUT: whether the IoT data plane took it")


# --------------------------------------------------------------------------- operations
ALREADY = Answer(422, "Already registered (Cloud ID, or MAC + serial number): code Conflict", ERROR)
UNKNOWN_MODEL = Answer(404, "No model has this hardware key (or model_id): code NotFound", ERROR)
OPEN_COMMON = (BAD_REQUEST, TOO_LARGE, INTERNAL, UNAVAILABLE)
INCIDENT_ID = path("incident_id", {"type": "string"}, "an incident's id")
MODEL_ID = path("id", {"type": "string", "minLength": 1}, "a Xyte model's id")
OPERATOR_DEVICE = path("id", {"type": "string", "minLength": 1}, "a Xyte device's id")
V1 = "/v1/devices/{device_id}"

DEVICE_OPERATIONS: tuple[Operation, ...] = (
    operation(
        "POST",
        "/v1/devices",
        "xyte_register_device",
        "Register a device (entry server): the model's hardware_key in the body",
        Answer(201, "Registered; the access key appears only here", model(XyteRegistered)),
        extra=(UNKNOWN_MODEL, ALREADY),
        request=model(XyteRegistration),
        parameters=(),
        security=(),
        common=OPEN_COMMON,
    ),
    operation(
        "POST",
        "/v1/devices/bulk_create",
        "xyte_bulk_register_devices",
        "Register 1-25 devices; each entry answers alone",
        Answer(201, "One entry per object: its registration, or why it was refused", model(XyteBulkAnswer)),
        request=schema(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": registry.MAX_BULK,
                # any value: an entry that is not a valid XyteRegistration is refused alone, in its
                # answer entry ({error, code, status}), and the request goes on
                "items": {
                    "description": "a registration (XyteRegistration); one that is not valid is "
                    "answered alone with its {error, code, status}"
                },
            },
            models=(XyteRegistration,),
        ),
        parameters=(),
        security=(),
        common=OPEN_COMMON,
    ),
    operation(
        "POST",
        f"{V1}/children",
        "xyte_register_child",
        "Register a child of this device (the parent's access key)",
        Answer(201, "Registered; the child's access key appears only here", model(XyteRegistered)),
        extra=(
            Answer(404, "No model has this model_id: code NotFound", ERROR),
            Answer(422, "The parent has a child with this serial number: code Conflict", ERROR),
        ),
        request=model(XyteChildRegistration),
    ),
    operation(
        "GET", V1, "xyte_get_device", "Get Device Info", Answer(200, "The device", model(XyteDeviceInfo))
    ),
    operation(
        "PUT",
        V1,
        "xyte_update_device",
        "Update Device (10 calls an hour)",
        Answer(200, "Recorded; info_version counts accepted changes", model(XyteUpdated)),
        extra=(
            TOO_MANY,
            Answer(422, "The new parent has a child with this serial number: code Conflict", ERROR),
        ),
        request=model(XyteUpdateDevice),
        description="Unknown keys are a 400 from model API 1.0.6 and ignored before.",
    ),
    operation(
        "DELETE",
        V1,
        "xyte_delete_device",
        "The device deletes itself",
        Answer(200, "Deleted: the access key no longer works", model(XyteSuccess)),
    ),
    operation(
        "GET",
        f"{V1}/children",
        "xyte_list_children",
        "The device's children",
        Answer(
            200,
            "Its children",
            schema(
                {"type": "array", "items": {"$ref": "#/components/schemas/XyteChild"}}, models=(XyteChild,)
            ),
        ),
    ),
    operation(
        "POST",
        f"{V1}/telemetry",
        "xyte_send_telemetry",
        "Send Telemetry",
        Answer(200, "What the device compares", model(XyteTelemetryAnswer)),
        request=model(XyteTelemetry),
    ),
    operation(
        "POST",
        f"{V1}/children/telemetries",
        "xyte_send_children_telemetries",
        "Send the telemetry of up to 100 children",
        Answer(200, "child id → its answer", model(XyteChildTelemetryAnswers)),
        # each entry an object; its content is judged alone (an invalid token or field is that entry's
        # answer, the others are stored), so the schema of an entry is XyteChildTelemetry's description
        request=schema(
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": registry.MAX_CHILD_TELEMETRIES,
                "additionalProperties": {
                    "type": "object",
                    "description": "the child's telemetry and its access_token (XyteChildTelemetry); one "
                    "that is not valid is answered alone",
                },
            },
            models=(XyteChildTelemetry,),
        ),
    ),
    operation(
        "GET",
        f"{V1}/space",
        "xyte_get_space",
        "Get Space Info",
        Answer(200, "Where the device is", model(XyteSpace)),
    ),
    operation(
        "PUT",
        f"{V1}/cloud_settings",
        "xyte_set_cloud_settings",
        "Set a cloud setting (the only property: incidents.suspend_creation)",
        Answer(200, "Every cloud setting after the change", model(XyteCloudSettingsAnswer)),
        request=model(XyteCloudSetting),
    ),
    operation(
        "POST",
        f"{V1}/events",
        "xyte_send_event",
        "Send an event (listed by GET /manage/v1/devices/{id}/events)",
        Answer(201, "Stored", model(XyteEventStored)),
        request=model(XyteEvent),
    ),
    operation(
        "GET",
        f"{V1}/incidents",
        "xyte_list_incidents",
        "The device's open incidents, oldest first",
        Answer(
            200,
            "Open incidents",
            schema(
                {"type": "array", "items": {"$ref": "#/components/schemas/XyteIncident"}},
                models=(XyteIncident,),
            ),
        ),
    ),
    operation(
        "POST",
        f"{V1}/incidents",
        "xyte_open_incident",
        "Open an incident",
        Answer(201, "Open", model(XyteIncident)),
        extra=(
            Answer(
                422,
                "Incident creation is suspended (code IncidentsSuspended), or 100 are open (code Conflict)",
                ERROR,
            ),
        ),
        request=model(XyteIncidentRequest),
    ),
    operation(
        "DELETE",
        f"{V1}/incidents",
        "xyte_close_incidents",
        "Close every open incident",
        Answer(
            200,
            "The incidents closed",
            schema(
                {"type": "array", "items": {"$ref": "#/components/schemas/XyteIncident"}},
                models=(XyteIncident,),
            ),
        ),
    ),
    operation(
        "DELETE",
        f"{V1}/incidents/{{incident_id}}",
        "xyte_close_incident",
        "Close an incident (again: unchanged)",
        Answer(200, "Closed", model(XyteIncident)),
        extra=(NOT_FOUND,),
        parameters=(DEVICE_ID, INCIDENT_ID),
    ),
)

OPERATOR_OPERATIONS: tuple[Operation, ...] = (
    manage._op(
        "POST",
        "/xyte/models",
        "manage_create_xyte_model",
        "Create a Xyte model (its hardware key appears only here)",
        manage.ok(XyteModelCreated, "The model with its hardware key", 201),
        manage.conflict("A model has this name, or the hardware key is in use"),
        request=model(CreateXyteModelRequest),
    ),
    manage._op(
        "GET",
        "/xyte/models",
        "manage_list_xyte_models",
        "List Xyte models",
        manage.listing(XyteModelView),
        parameters=manage.PAGE,
    ),
    manage._op(
        "GET",
        "/xyte/models/{id}",
        "manage_get_xyte_model",
        "Read a Xyte model",
        manage.ok(XyteModelView),
        parameters=(MODEL_ID,),
    ),
    manage._op(
        "PATCH",
        "/xyte/models/{id}",
        "manage_update_xyte_model",
        "Change a model's API version or latest firmware",
        manage.ok(XyteModelUpdated),
        manage.conflict("The model was changed concurrently"),
        parameters=(MODEL_ID,),
        request=model(UpdateXyteModelRequest),
    ),
    manage._op(
        "DELETE",
        "/xyte/models/{id}",
        "manage_delete_xyte_model",
        "Delete a Xyte model no device uses",
        manage.NO_CONTENT,
        manage.conflict("Devices use the model"),
        parameters=(MODEL_ID,),
    ),
    manage._op(
        "GET",
        "/xyte/devices/{id}",
        "manage_get_xyte_device",
        "A Xyte device as Get Device Info shows it",
        manage.ok(XyteDeviceInfo),
        parameters=(OPERATOR_DEVICE,),
    ),
    manage._op(
        "GET",
        "/xyte/devices/{id}/space",
        "manage_get_xyte_space",
        "A Xyte device's space info",
        manage.ok(XyteOperatorSpace),
        parameters=(OPERATOR_DEVICE,),
    ),
    manage._op(
        "PUT",
        "/xyte/devices/{id}/space",
        "manage_put_xyte_space",
        "Set a Xyte device's space info (published to v1/device/{id}/space_info)",
        manage.ok(XyteOperatorSpace),
        parameters=(OPERATOR_DEVICE,),
        request=model(XyteSpaceRequest),
    ),
    manage._op(
        "GET",
        "/xyte/devices/{id}/incidents",
        "manage_list_xyte_incidents",
        "A Xyte device's incidents, newest first",
        manage.listing(XyteIncident),
        parameters=(
            OPERATOR_DEVICE,
            query("status", {"type": "string", "enum": ["open", "closed"], "default": "open"}),
            *manage.PAGE,
        ),
    ),
    manage._op(
        "DELETE",
        "/xyte/devices/{id}/incidents/{incidentId}",
        "manage_close_xyte_incident",
        "Close a Xyte device's incident",
        manage.ok(XyteIncident, "The closed incident"),
        parameters=(OPERATOR_DEVICE, path("incidentId", {"type": "string", "minLength": 1})),
    ),
    manage._op(
        "GET",
        "/xyte/devices/{id}/cloud-settings",
        "manage_get_xyte_cloud_settings",
        "A Xyte device's cloud settings",
        manage.ok(XyteCloudSettings),
        parameters=(OPERATOR_DEVICE,),
    ),
)

OPERATIONS: tuple[Operation, ...] = DEVICE_OPERATIONS + OPERATOR_OPERATIONS
