"""Xyte use cases of registration, device info, Update Device, telemetry, cloud settings, events,
incidents and models (space info: ``services.xyte_space``).

- Registration goes through ``services.xyte.register`` (one transaction: device, record, identity
  claims, links); a ``parent_id`` must name a Xyte device.
- Update Device is rate-limited per device (``domain.xyte_registry.admit_update``); the call is
  recorded with a write conditional on the calls read, so two concurrent calls cannot both take the
  last slot of the window.
- Telemetry stores values in the one telemetry store (history + latest), removes null keys (and, with
  ``override``, every key not sent) from the latest values, records ``lastSeen``, and writes the
  reported ``status`` and ``message`` to the classic shadow's reported side only when they change.
- Services never render: the dialect shapes every answer from the domain objects returned here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetgate import clock
from fleetgate.data.xyte_registry import CallsChanged, XyteRegistryRepository, XyteState
from fleetgate.domain import xyte_registry as rules
from fleetgate.domain.paging import check_limit
from fleetgate.domain.telemetry import TelemetryRecord
from fleetgate.domain.xyte import XyteDevice, XyteModel, check_api_version, check_firmware
from fleetgate.domain.xyte_registry import Incident, RegistrationInput, TelemetryReport
from fleetgate.errors import Conflict, InvalidRequest, NotFound
from fleetgate.retry import on_conflict
from fleetgate.services import xyte
from fleetgate.services.xyte import Registration, XyteCaller
from fleetgate.settings import get_settings

BUSY = "Update Device is being called concurrently; retry the request"


def repository() -> XyteRegistryRepository:
    return XyteRegistryRepository(get_settings().require("devices_table"))


# --------------------------------------------------------------------------- registration
def register(model: XyteModel, request: RegistrationInput) -> tuple[XyteDevice, str]:
    """A new device of ``model``; its record and its access key (shown once)."""
    if request.parent_id is not None and xyte.repository().get(request.parent_id) is None:
        raise InvalidRequest("parent_id must be a registered device's id")
    return xyte.register(
        model,
        Registration(
            identity=request.identity,
            firmware_version=request.firmware_version,
            name=request.name,
            details=request.details,
            sub_model=request.sub_model,
            parent_id=request.parent_id,
        ),
    )


def register_body(body: dict[str, Any], models: dict[str, XyteModel] | None = None) -> tuple[XyteDevice, str]:
    """``POST /v1/devices``: the hardware key names the model (404 when none has it). ``models`` caches
    the keys already resolved in one bulk request."""
    key = body.get("hardware_key")
    if key is None:
        raise InvalidRequest("hardware_key is required")
    cache = {} if models is None else models
    model = cache.get(key) if isinstance(key, str) else None
    if model is None:
        model = cache[key] = xyte.model_for_hardware_key(key)
    return register(model, rules.parse_registration(body, model))


def register_child(parent: XyteCaller, body: dict[str, Any]) -> tuple[XyteDevice, str]:
    """``POST /v1/devices/{id}/children``: a child of the caller, of the model ``model_id`` names."""
    model_id = body.get("model_id")
    if not isinstance(model_id, str) or not 1 <= len(model_id) <= 64:
        raise InvalidRequest("model_id is required: a model's id")
    model = xyte.get_model(model_id)
    return register(model, rules.parse_child_registration(body, model, parent.device_id))


@dataclass(frozen=True)
class DeviceInfo:
    record: XyteDevice
    state: XyteState
    model: XyteModel | None  # None: the model was deleted


def info(device_id: str, record: XyteDevice | None = None) -> DeviceInfo:
    found = record or xyte.record(device_id)
    return DeviceInfo(found, repository().state(device_id), _model(found.model_id))


def _model(model_id: str) -> XyteModel | None:
    try:
        return xyte.get_model(model_id)
    except NotFound:
        return None


def children(parent_id: str) -> list[XyteDevice]:
    repo = repository()
    return repo.records(repo.children(parent_id))


def delete(caller: XyteCaller) -> None:
    """The device deletes itself: its access key stops working at once, its registration is freed."""
    from fleetgate.services import devices  # noqa: PLC0415 - only this route deletes

    devices.delete(caller.device_id)


# --------------------------------------------------------------------------- Update Device
def update_device(
    device_id: str, body: dict[str, Any], *, aliases: bool = False, at_ms: int | None = None
) -> XyteDevice:
    """Apply an Update Device call (validated against the record's API version), rate-limited.
    ``at_ms`` is the call's time: an MQTT message passes its rule timestamp, so a redelivered message
    (already among the recorded calls) changes nothing."""
    repo = repository()
    store = xyte.repository()

    def attempt() -> XyteDevice:
        current = store.get(device_id, consistent=True)
        if current is None:
            raise NotFound(f"Device '{device_id}' is not a Xyte device")
        update = rules.parse_update(body, current, aliases=aliases)
        now = clock.now_ms() if at_ms is None else at_ms
        if at_ms is not None and at_ms in current.update_calls:
            return current  # this message was applied already
        calls = rules.admit_update(current.update_calls, now)
        changes = update.changes(current)
        parent = changes.get("parent_id")
        if parent is not None and store.get(parent) is None:
            raise InvalidRequest("parent_id must be a registered device's id")
        return repo.save_update(current, changes, update.applied, calls)

    return on_conflict(attempt, retry_on=(CallsChanged,), busy=BUSY)


# --------------------------------------------------------------------------- telemetry
@dataclass(frozen=True)
class TelemetryOutcome:
    record: XyteDevice
    model: XyteModel | None


def report(
    device_id: str, record: XyteDevice, report: TelemetryReport, *, message_id: str | None = None
) -> TelemetryOutcome:
    """Store one telemetry report of ``device_id``. ``message_id`` (an MQTT message's identity) makes a
    redelivery overwrite its own history item."""
    from fleetgate.services import telemetry  # noqa: PLC0415

    suffix = hashlib.sha256(message_id.encode()).hexdigest()[:8] if message_id else None
    if report.values:
        telemetry.record(device_id, [TelemetryRecord(report.ts, report.values)], suffix=suffix)
    if report.override:
        telemetry.replace_state(device_id, set(report.values), report.ts)
    elif report.removed:
        telemetry.remove(device_id, list(report.removed), report.ts)
    repo = repository()
    before = repo.seen(device_id, clock.now_ms())
    if report.status is not None and (report.status, report.message) != (before.status, before.message):
        _report_status(device_id, report.status, report.message)
        repo.set_status(device_id, report.status, report.message)
    return TelemetryOutcome(record, _model(record.model_id))


def _report_status(device_id: str, status: str, message: str | None) -> None:
    from fleetgate.domain.shadow import CLASSIC  # noqa: PLC0415
    from fleetgate.services import shadows  # noqa: PLC0415

    document = {"state": {"reported": {"status": status, "message": message}}}
    shadows.update(device_id, CLASSIC, shadows.parse_report(document), source="xyte")


@dataclass(frozen=True)
class ChildOutcome:
    outcome: TelemetryOutcome | None = None
    error: Exception | None = None  # FleetgateError: the child's own refusal
    invalid_token: bool = False


def report_children(
    parent: XyteCaller, body: Any, parse: Callable[[dict[str, Any]], TelemetryReport]
) -> dict[str, ChildOutcome]:
    """Mass telemetry: each child's entry, authenticated by its ``access_token``, which must be a
    child of ``parent``; a refused entry does not stop the others."""
    from fleetgate.errors import FleetgateError, Forbidden, Retryable, Unauthorized  # noqa: PLC0415

    entries = rules.child_telemetries(body)
    out: dict[str, ChildOutcome] = {}
    for child_id, entry in entries.items():
        try:
            caller = xyte.authenticate(entry.get("access_token"), child_id)
        except (Unauthorized, Forbidden):
            out[child_id] = ChildOutcome(invalid_token=True)
            continue
        if caller.record.parent_id != parent.device_id:
            out[child_id] = ChildOutcome(invalid_token=True)
            continue
        try:
            out[child_id] = ChildOutcome(report(child_id, caller.record, parse(entry)))
        except Retryable:
            raise
        except FleetgateError as exc:
            out[child_id] = ChildOutcome(error=exc)
    return out


# --------------------------------------------------------------------------- cloud settings
def set_cloud_setting(device_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Set one known property; every property after the write (defaults for those never set)."""
    name, value = rules.parse_cloud_setting(body)
    return rules.cloud_settings(repository().set_setting(device_id, name, value))


def cloud_settings(device_id: str) -> dict[str, Any]:
    return rules.cloud_settings(repository().settings(device_id))


# --------------------------------------------------------------------------- events
def record_event(device_id: str, body: dict[str, Any]) -> str:
    """Store a Xyte event in the one events store; its id."""
    from fleetgate.services import events  # noqa: PLC0415

    parsed = rules.parse_event(body, clock.now_ms())
    event = events.store(
        device_id,
        event_type=parsed.event_type,
        severity=parsed.severity,
        timestamp=parsed.timestamp,
        data_json=parsed.data_json,
    )
    return event.event_id


# --------------------------------------------------------------------------- incidents
def open_incident(device_id: str, body: dict[str, Any]) -> Incident:
    """A new open incident; refused (``IncidentsSuspended``) while the device's cloud setting
    ``incidents.suspend_creation`` is on, and beyond ``MAX_OPEN_INCIDENTS`` open ones."""
    incident = rules.parse_incident(body, device_id, clock.now_ms())
    repo = repository()
    if cloud_settings(device_id)[rules.SUSPEND_INCIDENTS]:
        raise rules.IncidentsSuspended("Incident creation is suspended for this device (cloud setting)")
    if repo.open_count(device_id) >= rules.MAX_OPEN_INCIDENTS:
        raise Conflict(f"The device has {rules.MAX_OPEN_INCIDENTS} open incidents: close one first")
    repo.create_incident(incident)
    return incident


def open_incidents(device_id: str) -> list[Incident]:
    return repository().incidents(device_id, rules.OPEN)


def close_incident(device_id: str, incident_id: str, by: str) -> Incident:
    """Close one incident; closing a closed one again returns it unchanged."""
    repo = repository()
    found = repo.incident(device_id, rules.check_incident_id(incident_id))
    if found.status == rules.CLOSED:
        return found
    try:
        return repo.close_incident(found, clock.now_ms(), by)
    except Conflict:
        return repo.incident(device_id, incident_id)  # closed meanwhile


def close_all_incidents(device_id: str, by: str) -> list[Incident]:
    """Close every open incident; those closed."""
    repo = repository()
    closed = []
    for incident in repo.incidents(device_id, rules.OPEN):
        try:
            closed.append(repo.close_incident(incident, clock.now_ms(), by))
        except Conflict:
            continue  # closed meanwhile
    return closed


def incident_page(
    device_id: str, status: str | None, limit: int, next_token: str | None
) -> tuple[list[Incident], str | None]:
    """The operator's listing: one page of the device's incidents of ``status`` (default open)."""
    check_limit(limit)
    status = status or rules.OPEN
    if status not in (rules.OPEN, rules.CLOSED):
        raise InvalidRequest("status must be open or closed")
    xyte.record(device_id)
    return repository().incident_page(device_id, status, limit, next_token)


# --------------------------------------------------------------------------- models (operator)
def update_model(
    model_id: str,
    *,
    api_version: str | None = None,
    firmware: dict[str, str | None] | None = None,
) -> tuple[XyteModel, int]:
    """Change a model's API version and latest firmware (``firmware``: the keys ``latest_fw_version``,
    ``latest_fw_file_id`` given, None clears). A named ``api_version`` is copied to every device record
    of the model, even when unchanged (a PATCH that failed part-way finishes when repeated); returns
    the model and how many records were written."""
    store = xyte.repository()
    current = store.get_model(model_id)
    changes: dict[str, Any] = {}
    if api_version is not None:
        changes["api_version"] = check_api_version(api_version)
    version = changes.get("api_version", current.api_version)
    for name, value in (firmware or {}).items():
        checked = value
        if name == "latest_fw_version" and value is not None:
            checked = check_firmware(value, version, name)
        changes[name] = checked
    new = current.with_changes(**changes)
    if new != current:
        store.save_model(current, new)
    written = 0
    if api_version is not None:
        repo = repository()
        for device_id in repo.model_devices(model_id):
            repo.set_api_version(device_id, version)
            written += 1
    return new, written


def delete_model(model_id: str) -> None:
    """Delete a model no device uses (``Conflict`` otherwise: delete or move its devices first)."""
    model = xyte.get_model(model_id)
    if repository().model_in_use(model_id):
        raise Conflict("Devices use this model: delete them first")
    xyte.repository().delete_model(model)
