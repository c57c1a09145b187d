"""Xyte config, commands and licenses: the device's hub routes (see ``fleetgate.contracts.xyte``) and
the operator's ``/manage/v1/xyte/devices/{id}/...`` routes, with the request models the operator
routes validate with (``functions/manage/xyte_sync``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fleetgate.contracts import manage
from fleetgate.contracts.manage_requests import AS_INTEGER
from fleetgate.contracts.spec import Answer, Body, Operation, model, path, ref, schema
from fleetgate.contracts.xyte import NOT_FOUND, UNPROCESSABLE, operation
from fleetgate.domain.xyte_sync import (
    MAX_COMMAND_NAME,
    MAX_CONFIG_NAME,
    MAX_LICENSE_ERROR,
    MAX_MESSAGE,
    MAX_SIGNATURE,
    MAX_TIMEOUT_S,
)

UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


# --------------------------------------------------------------------------- operator requests
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class XyteConfigRequest(_Strict):
    config: dict[str, Any] = Field(description="the device's whole config (a new version)")
    name: str | None = Field(default=None, min_length=1, max_length=MAX_CONFIG_NAME)


class XyteCommandRequest(_Strict):
    name: str = Field(
        min_length=1,
        max_length=MAX_COMMAND_NAME,
        description="reboot, dump, update_firmware ({url, version, checksum?, signature?}) or your own",
    )
    parameters: dict[str, Any] | None = None
    timeout: Annotated[int, Field(strict=True, ge=1, le=MAX_TIMEOUT_S), AS_INTEGER] | None = Field(
        default=None, description="seconds (default 86400)"
    )


class XyteLicenseRequest(_Strict):
    data: Any = Field(
        description="the license content the device verifies (any JSON value but null)",
        json_schema_extra={"not": {"type": "null"}},
    )
    signature: str = Field(max_length=MAX_SIGNATURE)
    expires_at: str | None = Field(
        default=None,
        description="ISO-8601 date-time with its zone",
        json_schema_extra={"format": "date-time"},
    )


# --------------------------------------------------------------------------- operator views
class XyteConfigView(BaseModel):
    deviceId: str
    version: int
    name: str
    config: dict[str, Any]
    updatedAt: str
    source: Literal["operator", "device"]
    appliedVersion: int = Field(description="the version the device last acknowledged (0: none)")
    appliedAt: str | None = None
    published: bool | None = Field(default=None, description="PUT: whether the MQTT publish went out")


class XyteConfigVersionView(BaseModel):
    version: int
    name: str
    config: dict[str, Any]
    updatedAt: str
    source: Literal["operator", "device"]


class XyteCommandView(BaseModel):
    id: str
    deviceId: str
    name: str
    parameters: dict[str, Any]
    status: Literal["pending", "in_progress", "done", "failed", "timed_out", "canceled"]
    timeout: int
    createdAt: str
    expiresAt: str
    updatedAt: str
    deliveries: int
    message: str | None = None
    respondedAt: str | None = None
    published: bool | None = Field(default=None, description="POST: whether the MQTT publish went out")


class XyteLicenseView(BaseModel):
    id: str
    deviceId: str
    data: Any
    signature: str
    expiresAt: str | None
    action: Literal["add", "update", "remove"]
    state: Literal["pending", "inuse", "removed", "error"]
    revision: int
    createdAt: str
    updatedAt: str
    error: str | None = None
    answeredAt: str | None = None
    published: bool | None = None


# --------------------------------------------------------------------------- device bodies
class XyteScopedConfig(BaseModel):
    """Get Config from model API 1.0.5 (``device_id`` from 1.0.7)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: int
    last_updated: str
    config: dict[str, Any]
    device_id: str | None = None


class XyteFlatConfig(BaseModel):
    """Get Config before model API 1.0.5: the fields beside ``version`` and ``last_updated``."""

    model_config = ConfigDict(extra="allow")
    version: int
    last_updated: str


class XyteConfigVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    device_id: str | None = None


class XyteCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    status: Literal["pending", "in_progress"]
    name: str
    parameters: dict[str, Any]
    device_id: str | None = None


UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"  # checked_id's


class XyteCommandUpdate(BaseModel):
    id: str | None = Field(default=None, pattern=UUID, description="required from model API 1.0.1")
    status: Literal["in_progress", "done", "failed", "error"]
    message: str | None = Field(default=None, max_length=MAX_MESSAGE)


class XyteCommandRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    status: Literal["in_progress", "done", "failed"]
    device_id: str | None = None


class XyteLicense(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    device_id: str
    data: Any
    signature: str
    action: Literal["add", "update", "remove"]
    add: bool
    update: bool
    remove: bool
    expires_at: str | None
    current_time: str


class XyteLicenseItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    device_id: str
    data: Any
    signature: str
    add: bool
    update: bool
    remove: bool
    expires_at: str | None


class XyteLicenseUpdate(BaseModel):
    id: str = Field(pattern=UUID)
    state: Literal["inuse", "removed", "error"]
    error: str | None = Field(default=None, max_length=MAX_LICENSE_ERROR)


class XyteLicenseRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    state: Literal["pending", "inuse", "removed", "error"]


_EMPTY = {"type": "object", "maxProperties": 0}


def _array(item: type[BaseModel]) -> Body:
    """A device answer that is a JSON array of ``item``."""
    return schema({"type": "array", "items": ref(item)}, models=(item,))


def _everything(view: type[BaseModel]) -> Body:
    """An operator listing that is never paged: ``{"data": [...], "count"}``."""
    return schema(
        {
            "type": "object",
            "required": ["data", "count"],
            "properties": {"data": {"type": "array", "items": ref(view)}, "count": {"type": "integer"}},
        },
        models=(view,),
    )


CONFIG = model(XyteScopedConfig) | model(XyteFlatConfig)
SET_CONFIG = schema(
    {"type": "object", "description": "flat before model API 1.0.5, scoped ({config, ...}) from it"}
)
STALE = Answer(422, "The config's version is older than the server's", UNPROCESSABLE.body)
ENDED = Answer(422, "The command has ended: it takes no other report", UNPROCESSABLE.body)
NOT_PENDING = Answer(422, "Nothing is pending on the license, and the answer differs", UNPROCESSABLE.body)

DEVICE_OPERATIONS: tuple[Operation, ...] = (
    operation(
        "GET",
        "/v1/devices/{device_id}/config",
        "xyte_get_config",
        "Get Config: the server's config and its version",
        Answer(200, "Flat before model API 1.0.5, scoped from it", CONFIG),
    ),
    operation(
        "POST",
        "/v1/devices/{device_id}/config",
        "xyte_set_config",
        "Set Config: the device's own config (unchanged: its acknowledgement)",
        Answer(200, "The version it is stored as (or the current one)", model(XyteConfigVersion)),
        extra=(STALE,),
        request=SET_CONFIG,
    ),
    operation(
        "GET",
        "/v1/devices/{device_id}/command",
        "xyte_get_command",
        "Get Command: the oldest open command, or {}",
        Answer(200, "The command, or {} when there is none", model(XyteCommand) | schema(_EMPTY)),
    ),
    operation(
        "POST",
        "/v1/devices/{device_id}/command",
        "xyte_update_command",
        "Update Command: the device's report",
        Answer(200, "The report as recorded", model(XyteCommandRecorded)),
        extra=(NOT_FOUND, ENDED),
        request=model(XyteCommandUpdate),
    ),
    operation(
        "GET",
        "/v1/devices/{device_id}/command/pending_commands",
        "xyte_pending_commands",
        "The open commands of the device and of its children",
        Answer(200, "Each with its device_id", _array(XyteCommand)),
    ),
    operation(
        "GET",
        "/v1/devices/{device_id}/license",
        "xyte_get_license",
        "Get License: the oldest license change the device has not answered, or {}",
        Answer(200, "The license, or {}", model(XyteLicense) | schema(_EMPTY)),
    ),
    operation(
        "GET",
        "/v1/devices/{device_id}/licenses",
        "xyte_get_licenses",
        "Get Licenses: every license change the device has not answered",
        Answer(200, "Oldest change first", _array(XyteLicenseItem)),
    ),
    operation(
        "POST",
        "/v1/devices/{device_id}/licenses",
        "xyte_update_license",
        "Update License: the device's answer to a license change",
        Answer(200, "The answer as recorded", model(XyteLicenseRecorded)),
        extra=(NOT_FOUND, NOT_PENDING),
        request=model(XyteLicenseUpdate),
    ),
)

# --------------------------------------------------------------------------- operator operations
BASE = "/xyte/devices/{id}"
COMMAND_ID = path("commandId", {"type": "string", "minLength": 1}, "a command's id")
LICENSE_ID = path("licenseId", {"type": "string", "minLength": 1}, "a license's id")


def _op(
    method: str, route: str, operation_id: str, summary: str, success: Answer, *others: Answer, **kw: Any
) -> Operation:
    return manage._op(method, BASE + route, operation_id, summary, success, *others, **kw)


OPERATOR_OPERATIONS: tuple[Operation, ...] = (
    _op(
        "GET",
        "/config",
        "manage_xyte_get_config",
        "The device's config, its version and the version it applied",
        manage.ok(XyteConfigView),
        parameters=(manage.ID,),
    ),
    _op(
        "PUT",
        "/config",
        "manage_xyte_set_config",
        "Set the device's config (a new version), published at once",
        manage.ok(XyteConfigView, "The new version"),
        manage.conflict("Another change won; retry"),
        parameters=(manage.ID,),
        request=model(XyteConfigRequest),
    ),
    _op(
        "GET",
        "/config/versions",
        "manage_xyte_config_versions",
        "The config versions kept (20), newest first",
        Answer(200, "The versions", _everything(XyteConfigVersionView)),
        parameters=(manage.ID,),
    ),
    _op(
        "POST",
        "/commands",
        "manage_xyte_send_command",
        "Send a command (pending), published at once",
        manage.ok(XyteCommandView, "The command", 201),
        parameters=(manage.ID,),
        request=model(XyteCommandRequest),
    ),
    _op(
        "GET",
        "/commands",
        "manage_xyte_list_commands",
        "The device's commands, newest first",
        manage.listing(XyteCommandView),
        parameters=(manage.ID, *manage.PAGE),
    ),
    _op(
        "GET",
        "/commands/{commandId}",
        "manage_xyte_get_command",
        "One command",
        manage.ok(XyteCommandView),
        parameters=(manage.ID, COMMAND_ID),
    ),
    _op(
        "POST",
        "/commands/{commandId}/cancel",
        "manage_xyte_cancel_command",
        "Cancel a pending or in-progress command",
        manage.ok(XyteCommandView, "The canceled command"),
        manage.conflict("The command has ended"),
        parameters=(manage.ID, COMMAND_ID),
    ),
    _op(
        "POST",
        "/licenses",
        "manage_xyte_add_license",
        "Add a license (pending until the device answers), published at once",
        manage.ok(XyteLicenseView, "The license", 201),
        parameters=(manage.ID,),
        request=model(XyteLicenseRequest),
    ),
    _op(
        "GET",
        "/licenses",
        "manage_xyte_list_licenses",
        "The device's licenses with their states, oldest first",
        Answer(200, "The licenses", _everything(XyteLicenseView)),
        parameters=(manage.ID,),
    ),
    _op(
        "GET",
        "/licenses/{licenseId}",
        "manage_xyte_get_license",
        "One license",
        manage.ok(XyteLicenseView),
        parameters=(manage.ID, LICENSE_ID),
    ),
    _op(
        "PUT",
        "/licenses/{licenseId}",
        "manage_xyte_update_license",
        "Update a license, published at once",
        manage.ok(XyteLicenseView, "The license, pending"),
        manage.conflict("The license is removed"),
        parameters=(manage.ID, LICENSE_ID),
        request=model(XyteLicenseRequest),
    ),
    _op(
        "DELETE",
        "/licenses/{licenseId}",
        "manage_xyte_remove_license",
        "Tell the device to remove a license, published at once",
        manage.ok(XyteLicenseView, "The license, pending removal"),
        parameters=(manage.ID, LICENSE_ID),
    ),
)

OPERATIONS: tuple[Operation, ...] = DEVICE_OPERATIONS + OPERATOR_OPERATIONS
