"""Xyte registration, device info, telemetry, space, cloud settings, events and incidents: the rules,
no I/O.

- Registration: a Cloud ID (``nano_id`` is its old name) or a MAC + serial number names the device; from
  model API 1.0.2 a Cloud ID needs ``sn`` too; MACs are normalised (``domain.xyte.normalize_mac``).
- Update Device: at most ``UPDATE_LIMIT`` accepted calls per device in any ``UPDATE_WINDOW_MS``; unknown
  keys are a 400 from model API 1.0.6 and ignored before.
- Telemetry: ``status`` one of ``STATUSES`` (absent: unchanged); a ``null`` value removes its key from the
  device's state; ``override`` replaces the state; the ``telemetries`` object is under
  ``MAX_TELEMETRY_BYTES`` as compact JSON (413 otherwise).
- Cloud settings: ``CLOUD_SETTINGS`` names each known property and the JSON type of its value.
- Incidents: at most ``MAX_OPEN_INCIDENTS`` open per device.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fleetgate.domain import xyte
from fleetgate.domain.events import EVENT_TYPE_PATTERN, MAX_DATA_BYTES, MIN_TIMESTAMP_MS, SEVERITIES
from fleetgate.domain.xyte import Identity, XyteDevice, XyteModel
from fleetgate.errors import Conflict, InvalidRequest, PayloadTooLarge, TooManyRequests
from fleetgate.jsonutil import dumps

TEXT_PATTERN = re.compile(r"[^\x00-\x1f\x7f]*\Z")
MAX_DETAILS_BYTES = 16_384
MAX_SUB_MODEL = 128
MAX_HOST_ADDRESS = 256
MAX_BULK = 25
MAX_CHILD_TELEMETRIES = 100


# --------------------------------------------------------------------------- registration
@dataclass(frozen=True)
class RegistrationInput:
    """A registration request, checked against its model's API version."""

    identity: Identity
    firmware_version: str
    name: str | None
    details: dict[str, Any]
    sub_model: str | None
    parent_id: str | None


def _text(body: dict[str, Any], name: str, maximum: int, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required")
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= maximum or not TEXT_PATTERN.match(value):
        raise InvalidRequest(f"{name} must be a string of 1-{maximum} characters without control characters")
    return value


def _details(body: dict[str, Any]) -> dict[str, Any]:
    details = body.get("details")
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise InvalidRequest("details must be a JSON object")
    if len(dumps(details).encode()) > MAX_DETAILS_BYTES:
        raise InvalidRequest(f"details must be at most {MAX_DETAILS_BYTES} bytes as compact JSON")
    return details


def parse_registration(body: dict[str, Any], model: XyteModel) -> RegistrationInput:
    """``POST /v1/devices``'s body (its ``hardware_key`` already resolved to ``model``)."""
    cloud_id = body.get("cloud_id")
    nano_id = body.get("nano_id")
    if cloud_id is not None and nano_id is not None and cloud_id != nano_id:
        raise InvalidRequest("cloud_id and nano_id (its old name) differ")
    cloud_id = cloud_id if cloud_id is not None else nano_id
    if cloud_id is not None and (not isinstance(cloud_id, str) or not xyte.CLOUD_ID_PATTERN.match(cloud_id)):
        raise InvalidRequest("cloud_id must be 1-128 printable ASCII characters without spaces")
    mac = body.get("mac")
    if mac is not None:
        if not isinstance(mac, str) or not xyte.MAC_PATTERN.match(mac):
            raise InvalidRequest("mac must be 6 bytes in hex, e.g. 11:22:33:44:55:66")
        mac = xyte.normalize_mac(mac)
    sn = body.get("sn")
    if sn is not None and (not isinstance(sn, str) or not xyte.SN_PATTERN.match(sn)):
        raise InvalidRequest("sn must be 1-128 printable ASCII characters without spaces")
    if cloud_id is None and (mac is None or sn is None):
        raise InvalidRequest("A device registers with cloud_id, or with mac and sn")
    if (
        cloud_id is not None
        and sn is None
        and xyte.at_least(model.api_version, xyte.SN_REQUIRED_WITH_CLOUD_ID)
    ):
        raise InvalidRequest("sn is required with cloud_id for this model (API 1.0.2 and later)")
    return RegistrationInput(
        identity=Identity(cloud_id, mac, sn),
        firmware_version=_firmware(body, model.api_version),
        name=_text(body, "name", xyte.MAX_NAME),
        details=_details(body),
        sub_model=_text(body, "sub_model", MAX_SUB_MODEL),
        parent_id=_text(body, "parent_id", 64),
    )


def parse_child_registration(body: dict[str, Any], model: XyteModel, parent_id: str) -> RegistrationInput:
    """``POST /v1/devices/{id}/children``'s body (``model_id`` resolved to ``model``): a child is named by
    its serial number, once per parent."""
    sn = body.get("sn")
    if sn is None:
        raise InvalidRequest("sn is required")
    if not isinstance(sn, str) or not xyte.SN_PATTERN.match(sn):
        raise InvalidRequest("sn must be 1-128 printable ASCII characters without spaces")
    return RegistrationInput(
        identity=Identity(None, None, sn),
        firmware_version=_firmware(body, model.api_version),
        name=_text(body, "name", xyte.MAX_NAME),
        details=_details(body),
        sub_model=_text(body, "sub_model", MAX_SUB_MODEL),
        parent_id=parent_id,
    )


def _firmware(body: dict[str, Any], api_version: str) -> str:
    value = body.get("firmware_version")
    if value is None:
        raise InvalidRequest("firmware_version is required")
    return xyte.check_firmware(value, api_version)


def bulk_items(body: Any) -> list[Any]:
    """``POST /v1/devices/bulk_create``'s array (1-25 registration objects; each is checked alone)."""
    if not isinstance(body, list):
        raise InvalidRequest("The body must be a JSON array of registrations")
    if not 1 <= len(body) <= MAX_BULK:
        raise InvalidRequest(f"A bulk registration holds 1-{MAX_BULK} devices")
    return body


# --------------------------------------------------------------------------- Update Device
UPDATE_LIMIT = 10
UPDATE_WINDOW_MS = 3_600_000
UPDATE_FIELDS = frozenset(
    {"firmware_version", "name", "sub_model", "details", "space_version", "config_version"}
    | {"parent_id", "host_address"}
)
MQTT_ALIASES = {"firmwareVersion": "firmware_version"}  # the 2022 agent's spelling on v1/device/{id}/update


@dataclass(frozen=True)
class DeviceUpdate:
    """What an Update Device call changes: record fields (by ``XyteDevice`` attribute) and the versions
    the device says it has applied (kept beside the server's own counters, never replacing them)."""

    record: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)

    def changes(self, current: XyteDevice) -> dict[str, Any]:
        return {k: v for k, v in self.record.items() if getattr(current, k) != v}


def _unaliased(body: dict[str, Any]) -> dict[str, Any]:
    for alias, name in MQTT_ALIASES.items():
        if alias in body:
            if name in body and body[name] != body[alias]:
                raise InvalidRequest(f"{alias} and {name} differ")
            body = {name: body[alias], **{k: v for k, v in body.items() if k != alias}}
    return body


def parse_update(body: dict[str, Any], record: XyteDevice, *, aliases: bool = False) -> DeviceUpdate:
    """An Update Device body; unknown keys are a 400 from model API 1.0.6 and ignored before."""
    if aliases:
        body = _unaliased(body)
    unknown = sorted(set(body) - UPDATE_FIELDS)
    if unknown and xyte.at_least(record.api_version, xyte.STRICT_UPDATE_DEVICE):
        raise InvalidRequest(f"Unknown parameter(s): {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    if "firmware_version" in body:
        changes["firmware_version"] = xyte.check_firmware(body["firmware_version"], record.api_version)
    for name, maximum, attribute in (
        ("name", xyte.MAX_NAME, "name"),
        ("sub_model", MAX_SUB_MODEL, "sub_model"),
        ("host_address", MAX_HOST_ADDRESS, "host_address"),
        ("parent_id", 64, "parent_id"),
    ):
        if name in body and body[name] is not None:
            changes[attribute] = _text(body, name, maximum)
    if changes.get("parent_id") == record.device_id:
        raise InvalidRequest("A device cannot be its own parent")
    if "details" in body:
        changes["details"] = _details(body)
    applied = {}
    for name in ("config_version", "space_version"):
        if name in body and body[name] is not None:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
                raise InvalidRequest(f"{name} must be a non-negative integer")
            applied[name] = value
    return DeviceUpdate(changes, applied)


def admit_update(calls: tuple[int, ...], now_ms: int) -> tuple[int, ...]:
    """The calls of the window with this one added; ``TooManyRequests`` when the window is full."""
    recent = tuple(t for t in calls if now_ms - UPDATE_WINDOW_MS < t <= now_ms)
    if len(recent) >= UPDATE_LIMIT:
        retry = (min(recent) + UPDATE_WINDOW_MS - now_ms) // 1000 + 1
        raise TooManyRequests(f"Update Device is limited to {UPDATE_LIMIT} calls an hour; retry in {retry} s")
    return (*recent, now_ms)


# --------------------------------------------------------------------------- telemetry
STATUSES = ("online", "offline", "error")
MAX_TELEMETRY_BYTES = 131_072  # under 128 KB as compact JSON
MAX_KEY = 255
MAX_MESSAGE = 1024
MAX_CLOCK_AHEAD_MS = 86_400_000


@dataclass(frozen=True)
class TelemetryReport:
    """A device's telemetry: ``values`` to store at ``ts``, ``removed`` keys (sent as null), and with
    ``override`` every other key of the state removed."""

    ts: int
    status: str | None
    message: str | None
    values: dict[str, Any]
    removed: tuple[str, ...]
    override: bool


def parse_iso_ms(value: Any, now_ms: int, name: str = "timestamp") -> int:
    """An ISO-8601 time (a zone, or UTC when it has none) as epoch ms, from 2000 up to a day ahead."""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidRequest(f"{name} must be an ISO-8601 date and time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be an ISO-8601 date and time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = int(moment.timestamp() * 1000)
    if not MIN_TIMESTAMP_MS <= ms <= now_ms + MAX_CLOCK_AHEAD_MS:
        raise InvalidRequest(f"{name} must be from 2000-01-01 up to a day ahead of the server's clock")
    return ms


def parse_telemetry(body: dict[str, Any], now_ms: int, received_ms: int | None = None) -> TelemetryReport:
    """A Send Telemetry body; without a ``timestamp`` it is ``received_ms`` (an MQTT message's arrival at
    the broker), else now. Fields outside the documented ones are ignored (a mass telemetry entry's
    ``access_token`` among them)."""
    status = body.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    default_ts = now_ms if received_ms is None else received_ms
    ts = default_ts if body.get("timestamp") is None else parse_iso_ms(body["timestamp"], now_ms)
    override = body.get("override")
    if override is not None and not isinstance(override, bool):
        raise InvalidRequest("override must be true or false")
    message = body.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > MAX_MESSAGE):
        raise InvalidRequest(f"message must be a string of at most {MAX_MESSAGE} characters")
    telemetries = body.get("telemetries")
    if telemetries is None:
        telemetries = {}
    if not isinstance(telemetries, dict):
        raise InvalidRequest("telemetries must be a JSON object")
    if len(dumps(telemetries).encode()) >= MAX_TELEMETRY_BYTES:
        raise PayloadTooLarge("telemetries must be under 128 KB as compact JSON")
    for key in telemetries:
        if not 1 <= len(key) <= MAX_KEY or not TEXT_PATTERN.match(key):
            raise InvalidRequest(f"Telemetry keys are 1-{MAX_KEY} characters without control characters")
    return TelemetryReport(
        ts=ts,
        status=status,
        message=message,
        values={k: v for k, v in telemetries.items() if v is not None},
        removed=tuple(k for k, v in telemetries.items() if v is None),
        override=bool(override),
    )


def child_telemetries(body: Any) -> dict[str, dict[str, Any]]:
    """A mass telemetry body: child id → its telemetry with its ``access_token`` (1-100 entries)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object of child id → telemetry")
    if not 1 <= len(body) <= MAX_CHILD_TELEMETRIES:
        raise InvalidRequest(f"A mass telemetry holds 1-{MAX_CHILD_TELEMETRIES} children")
    for child, entry in body.items():
        if not isinstance(entry, dict):
            raise InvalidRequest(f"The telemetry of child '{child[:64]}' must be a JSON object")
    return body


# --------------------------------------------------------------------------- space
TEMPERATURE_UNITS = ("celsius", "fahrenheit")
MAX_UTC_OFFSET = 14 * 60


@dataclass(frozen=True)
class SpaceInfo:
    """Where a device is: set by the operator, read by the device (``local_time`` is computed)."""

    lat: float | None = None
    lng: float | None = None
    utc_offset: int = 0  # minutes east of UTC
    location_name: str | None = None
    temperature_units: str = "celsius"
    maintenance: bool = False
    name: str | None = None


def local_time(now_ms: int, utc_offset_minutes: int) -> str:
    """``2026-11-22T11:00:00+01:00``: now at ``utc_offset_minutes`` east of UTC."""
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    return datetime.fromtimestamp(now_ms // 1000, zone).isoformat(timespec="seconds")


def check_space(space: SpaceInfo) -> SpaceInfo:
    """The rules an operator's space info follows (the operator request model states them too)."""
    if space.lat is not None and not -90 <= space.lat <= 90:
        raise InvalidRequest("lat must be between -90 and 90")
    if space.lng is not None and not -180 <= space.lng <= 180:
        raise InvalidRequest("lng must be between -180 and 180")
    if not -MAX_UTC_OFFSET <= space.utc_offset <= MAX_UTC_OFFSET:
        raise InvalidRequest(f"utc_offset must be minutes between -{MAX_UTC_OFFSET} and {MAX_UTC_OFFSET}")
    if space.temperature_units not in TEMPERATURE_UNITS:
        raise InvalidRequest("temperature_units must be celsius or fahrenheit")
    return space


# --------------------------------------------------------------------------- cloud settings
SUSPEND_INCIDENTS = "incidents.suspend_creation"
CLOUD_SETTINGS: dict[str, tuple[type, Any]] = {SUSPEND_INCIDENTS: (bool, False)}  # property: (type, default)


def parse_cloud_setting(body: dict[str, Any]) -> tuple[str, Any]:
    """``{property, value}`` of a known property with a value of its type."""
    name, value = body.get("property"), body.get("value")
    if not isinstance(name, str) or name not in CLOUD_SETTINGS:
        raise InvalidRequest(f"property must be one of: {', '.join(sorted(CLOUD_SETTINGS))}")
    kind, _ = CLOUD_SETTINGS[name]
    if not isinstance(value, kind):
        raise InvalidRequest(f"value of {name} must be a {kind.__name__ if kind is not bool else 'boolean'}")
    return name, value


def cloud_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """Every known property: the stored value, else its default."""
    return {name: stored.get(name, default) for name, (_, default) in CLOUD_SETTINGS.items()}


# --------------------------------------------------------------------------- events
EVENT_SEVERITY_FROM_CATEGORY = {s: s for s in SEVERITIES} | {"warning": "warn"}


@dataclass(frozen=True)
class XyteEventInput:
    """A Xyte event as the one events store keeps it: ``name`` is its type, the rest its data."""

    event_type: str
    severity: str
    timestamp: int
    data_json: str


def parse_event(body: dict[str, Any], now_ms: int) -> XyteEventInput:
    """``{name, category?, int_key_1?, ..., timestamp?}``: ``name`` becomes the event type (letters,
    digits, ``_ . : -``), ``category`` the severity when it names one (``info``, ``warn``/``warning``,
    ``error``; else ``info``), everything but ``name`` and ``timestamp`` the event's data."""
    name = body.get("name")
    if name is None:
        raise InvalidRequest("name is required")
    if not isinstance(name, str) or not EVENT_TYPE_PATTERN.match(name):
        raise InvalidRequest("name must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
    category = body.get("category")
    if category is not None and not isinstance(category, str):
        raise InvalidRequest("category must be a string")
    for key in ("int_key_1", "int_key_2"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidRequest(f"{key} must be an integer")
    for key in ("string_key_1", "string_key_2"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"{key} must be a string")
    ts = now_ms if body.get("timestamp") is None else parse_iso_ms(body["timestamp"], now_ms)
    data = {k: v for k, v in body.items() if k not in ("name", "timestamp")}
    data_json = dumps(data)
    if len(data_json.encode()) > MAX_DATA_BYTES:
        raise PayloadTooLarge(f"An event's fields exceed the limit of {MAX_DATA_BYTES} bytes (compact JSON)")
    severity = EVENT_SEVERITY_FROM_CATEGORY.get((category or "").lower(), "info")
    return XyteEventInput(name, severity, ts, data_json)


# --------------------------------------------------------------------------- incidents
MAX_OPEN_INCIDENTS = 100
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
OPEN, CLOSED = "open", "closed"


class IncidentsSuspended(Conflict):
    """The device's cloud setting ``incidents.suspend_creation`` is on (422 over Xyte)."""

    code = "IncidentsSuspended"


@dataclass(frozen=True)
class Incident:
    device_id: str
    id: str  # time-ordered: ids sort in creation order
    title: str
    issue: str | None
    priority: str | int | None
    description: str | None
    created_at: int
    status: str = OPEN
    closed_at: int | None = None
    closed_by: str | None = None  # "device" or "operator"


def new_incident_id(now_ms: int) -> str:
    """A UUID-shaped id whose first 48 bits are the creation time in ms (so ids sort by time)."""
    raw = f"{now_ms:012x}{secrets.token_hex(10)}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


INCIDENT_ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def check_incident_id(value: str) -> str:
    if not INCIDENT_ID_PATTERN.match(value):
        raise InvalidRequest("incident_id must be an incident's id")
    return value


def parse_incident(body: dict[str, Any], device_id: str, now_ms: int) -> Incident:
    """``{title, issue?, priority?, description?}``: ``priority`` a string of 1-32 characters or an
    integer."""
    title = _text(body, "title", MAX_TITLE, required=True)
    assert title is not None
    priority = body.get("priority")
    if priority is not None and not (
        (isinstance(priority, int) and not isinstance(priority, bool) and -(2**31) <= priority < 2**31)
        or (isinstance(priority, str) and 1 <= len(priority) <= 32 and TEXT_PATTERN.match(priority))
    ):
        raise InvalidRequest("priority must be a string of 1-32 characters or an integer")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        raise InvalidRequest(f"description must be a string of at most {MAX_DESCRIPTION} characters")
    return Incident(
        device_id=device_id,
        id=new_incident_id(now_ms),
        title=title,
        issue=_text(body, "issue", MAX_TITLE),
        priority=priority,
        description=description,
        created_at=now_ms,
    )
