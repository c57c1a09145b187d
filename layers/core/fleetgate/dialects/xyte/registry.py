"""Xyte answers of registration, device info, telemetry, space, cloud settings and incidents: the
shapes devices read (every one stamped with ``device_id`` from model API 1.0.7).

- Registration: ``{id, access_key, hub_url, hub_url_static_cert, mqtt_hub_url}``. ``hub_url`` is the
  ``XYTE_HUB_URL`` setting, else the URL the request came to (its ``Host`` header);
  ``hub_url_static_cert`` is the same URL (one TLS endpoint serves both); ``mqtt_hub_url`` the
  ``XYTE_MQTT_URL`` setting, null when the deployment has none.
- Telemetry: the record's versions and flags; ``latest_fw_version``/``latest_fw_file_id`` are null
  unless the model's latest firmware is newer than the device's (``domain.xyte.firmware_outdated``).
"""

from __future__ import annotations

import re
from typing import Any

from fleetgate import clock
from fleetgate.clock import iso_utc
from fleetgate.dialects.xyte import error_body, status_of
from fleetgate.domain import xyte
from fleetgate.domain.xyte import XyteDevice, XyteModel
from fleetgate.domain.xyte_registry import Incident, SpaceInfo, local_time
from fleetgate.errors import FleetgateError
from fleetgate.http import HttpRequest
from fleetgate.jsonutil import dumps
from fleetgate.services import xyte as xyte_service
from fleetgate.services.xyte_registry import ChildOutcome, DeviceInfo, TelemetryOutcome
from fleetgate.settings import get_settings

INVALID_TOKEN = {"error": "Invalid access token"}


HOST_PATTERN = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?\Z")


def hub_url(request: HttpRequest | None) -> str | None:
    """``XYTE_HUB_URL``, else the URL the request came to (its ``Host``; ``x-forwarded-proto`` or https)."""
    configured = get_settings().xyte_hub_url
    if configured:
        return configured.rstrip("/")
    host = request.headers.get("host", "") if request is not None else ""
    if not HOST_PATTERN.match(host):
        return None
    scheme = request.headers.get("x-forwarded-proto", "https") if request is not None else "https"
    return f"{'http' if scheme == 'http' else 'https'}://{host}"


def registered(record: XyteDevice, access_key: str, request: HttpRequest | None) -> dict[str, Any]:
    url = hub_url(request)
    return xyte.stamped(
        {
            "id": record.device_id,
            "access_key": access_key,
            "hub_url": url,
            "hub_url_static_cert": url,
            "mqtt_hub_url": xyte_service.mqtt_hub_url(),
        },
        record,
    )


def failed(exc: FleetgateError) -> dict[str, Any]:
    """A bulk item or child entry that was refused: the dialect's error body, with its HTTP status."""
    return {**error_body(exc), "status": status_of(exc)}


def telemetry_answer(outcome: TelemetryOutcome) -> dict[str, Any]:
    record, model = outcome.record, outcome.model
    latest = model.latest_fw_version if model is not None else None
    outdated = model is not None and xyte.firmware_outdated(record.firmware_version, latest)
    return xyte.stamped(
        {
            "config_version": record.config_version,
            "command": record.command_pending,
            "new_licenses": record.new_licenses,
            "info_version": record.info_version,
            "latest_fw_version": latest if outdated else None,
            "latest_fw_file_id": model.latest_fw_file_id if outdated and model is not None else None,
            "space_data_version": record.space_version,
            "success": True,
        },
        record,
    )


def children_answer(outcomes: dict[str, ChildOutcome]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child, outcome in outcomes.items():
        if outcome.outcome is not None:
            out[child] = telemetry_answer(outcome.outcome)
        elif isinstance(outcome.error, FleetgateError):
            out[child] = failed(outcome.error)
        else:
            out[child] = dict(INVALID_TOKEN)
    return out


def device_view(found: DeviceInfo) -> dict[str, Any]:
    """Get Device Info: identity (``partner``), state, versions and what registration said."""
    record, state, model = found.record, found.state, found.model
    return xyte.stamped(
        {
            "id": record.device_id,
            "name": record.name,
            "partner": {
                "mac": record.identity.mac,
                "sn": record.identity.sn,
                "cloud_id": record.identity.cloud_id,
                "model": model.name if model is not None else None,
                "model_id": record.model_id,
                "vendor": model.vendor if model is not None else None,
                "sub_model": record.sub_model,
            },
            "state": {
                "status": state.status,
                "message": state.message,
                "firmware_version": record.firmware_version,
            },
            "last_seen": None if state.last_seen is None else iso_utc(state.last_seen, milliseconds=True),
            "registered_at": iso_utc(record.registered_at, milliseconds=True),
            "api_version": record.api_version,
            "config_version": record.config_version,
            "info_version": record.info_version,
            "space_version": record.space_version,
            "applied": {
                "config_version": state.applied_config_version,
                "space_version": state.applied_space_version,
            },
            "details": record.details,
            "parent_id": record.parent_id,
            "host_address": record.host_address,
        },
        record,
    )


def child_view(record: XyteDevice) -> dict[str, Any]:
    return {
        "id": record.device_id,
        "name": record.name,
        "sn": record.identity.sn,
        "model_id": record.model_id,
        "sub_model": record.sub_model,
        "firmware_version": record.firmware_version,
        "details": record.details,
    }


def updated(record: XyteDevice) -> dict[str, Any]:
    return xyte.stamped({"success": True, "info_version": record.info_version}, record)


def space_view(space: SpaceInfo, record: XyteDevice, now_ms: int | None = None) -> dict[str, Any]:
    """The space info document (``GET .../space`` and ``v1/device/{id}/space_info``)."""
    now = clock.now_ms() if now_ms is None else now_ms
    return xyte.stamped(
        {
            "location": {
                "coordinates": {"lat": space.lat, "lng": space.lng},
                "utc_offset": space.utc_offset,
                "name": space.location_name,
            },
            "temperature_units": space.temperature_units,
            "maintenance": space.maintenance,
            "name": space.name,
            "local_time": local_time(now, space.utc_offset),
        },
        record,
    )


def space_message(space: SpaceInfo, record: XyteDevice) -> bytes:
    return dumps(space_view(space, record)).encode()


def incident_view(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "issue": incident.issue,
        "priority": incident.priority,
        "description": incident.description,
        "status": incident.status,
        "created_at": iso_utc(incident.created_at, milliseconds=True),
        "closed_at": None if incident.closed_at is None else iso_utc(incident.closed_at, milliseconds=True),
    }


def model_view(model: XyteModel) -> dict[str, Any]:
    """A model as the operator reads it (never its hardware key, shown once at creation)."""
    return {
        "id": model.id,
        "name": model.name,
        "api_version": model.api_version,
        "vendor": model.vendor,
        "latest_fw_version": model.latest_fw_version,
        "latest_fw_file_id": model.latest_fw_file_id,
        "created_at": iso_utc(model.created_at, milliseconds=True),
    }
