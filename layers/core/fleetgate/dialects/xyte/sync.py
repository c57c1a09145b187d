"""Xyte config, commands and licenses on the wire: what a device sends (parsed here, for HTTPS and MQTT
alike) and how the operator API shows them. The device-facing bodies are ``domain.xyte_sync``'s (one
shape over HTTPS and MQTT); the command vocabulary is ``domain.xyte_sync.VOCABULARY``.

- Set Config: before model API 1.0.5 the body is the flat config, where ``version``, ``last_updated``
  and ``device_id`` are the envelope's and every other key a field; from 1.0.5 it is scoped: ``config``
  (an object, required) with ``name``, ``version``, ``last_updated`` and ``device_id`` beside it, and no
  other key. ``version`` is an integer ≥ 0; ``device_id``, when sent, must be the device's.
- Update Command: ``{id, status, message?}``. ``id`` (a UUID) is required from 1.0.1 over HTTPS; over
  MQTT the correlation data names the command and ``id``, when also sent, must agree. ``status`` is
  ``in_progress``, ``done``, or ``failed``/``error`` (the same: HTTPS documents one, MQTT the other).
- Update License: ``{id, state: inuse|removed|error, error?}``; over MQTT the correlation data names the
  license, as for commands. Other keys are ignored (Xyte's agents send nothing else).
"""

from __future__ import annotations

import uuid
from typing import Any

from fleetgate.clock import iso_utc
from fleetgate.domain.commands import Command, State
from fleetgate.domain.xyte import COMMAND_UPDATE_NEEDS_ID, SCOPED_CONFIG, XyteDevice, at_least
from fleetgate.domain.xyte_sync import (
    DEVICE_LICENSE_STATES,
    DEVICE_WORDS,
    MAX_LICENSE_ERROR,
    MAX_MESSAGE,
    VOCABULARY,
    AppliedConfig,
    ConfigVersion,
    DeviceConfig,
    License,
    check_config,
    check_config_name,
    message_of,
)
from fleetgate.errors import InvalidRequest

FLAT_ENVELOPE = frozenset({"version", "last_updated", "device_id"})
SCOPED_KEYS = frozenset({"name", "version", "last_updated", "config", "device_id"})


def checked_id(value: Any, what: str = "id") -> str:
    """A command or license id: a UUID, in its canonical lower-case form."""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidRequest(f"{what} must be a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidRequest(f"{what} must be a UUID") from exc


def correlated_id(body_id: Any, correlation: bytes | None, what: str) -> str:
    """The id an MQTT answer is about: its correlation data (the id the server sent), and ``id`` in the
    payload when there is no correlation data; both, when given, must agree."""
    from_correlation = None
    if correlation is not None:
        try:
            from_correlation = checked_id(correlation.decode(), "correlationData")
        except UnicodeDecodeError as exc:
            raise InvalidRequest("correlationData must be the id the server sent") from exc
    from_body = None if body_id is None else checked_id(body_id, "id")
    if from_correlation is None and from_body is None:
        raise InvalidRequest(f"The {what} is named neither by correlationData nor by id")
    if from_correlation is not None and from_body is not None and from_correlation != from_body:
        raise InvalidRequest("id does not match the correlationData")
    return from_correlation or from_body  # type: ignore[return-value]


def _check_device_id(body: dict[str, Any], record: XyteDevice) -> None:
    if "device_id" in body and body["device_id"] != record.device_id:
        raise InvalidRequest("device_id is not this device's")


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest("version must be a non-negative integer")
    return value


# --------------------------------------------------------------------------- config
def parse_config(body: Any, record: XyteDevice) -> DeviceConfig:
    """A device's Set Config body (see the module's rules for each model API version)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    _check_device_id(body, record)
    if "last_updated" in body and not isinstance(body["last_updated"], str | None):
        raise InvalidRequest("last_updated must be a date-time string")
    version = _version(body.get("version"))
    if not at_least(record.api_version, SCOPED_CONFIG):
        fields = {key: value for key, value in body.items() if key not in FLAT_ENVELOPE}
        return DeviceConfig(check_config(fields), version, None)
    unknown = sorted(set(body) - SCOPED_KEYS)
    if unknown:
        raise InvalidRequest(f"Unknown key(s) beside config: {', '.join(unknown)[:256]}")
    if "config" not in body:
        raise InvalidRequest("config is required (a scoped config, model API 1.0.5 and later)")
    name = None if body.get("name") is None else check_config_name(body["name"])
    return DeviceConfig(check_config(body["config"]), version, name)


def config_version_from(correlation: bytes | None) -> int | None:
    """The version a config message's correlation data names (the server sends it as text)."""
    if correlation is None:
        return None
    text = correlation.decode("ascii", "replace")
    if not text.isdigit() or len(text) > 10:
        raise InvalidRequest("correlationData must be the config version the server sent")
    return int(text)


# --------------------------------------------------------------------------- commands
def command_status(value: Any) -> State:
    if not isinstance(value, str) or value not in DEVICE_WORDS:
        raise InvalidRequest("status must be one of in_progress, done, failed (error)")
    return DEVICE_WORDS[value]


def command_message(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_MESSAGE:
        raise InvalidRequest(f"message must be a string of at most {MAX_MESSAGE} characters")
    return value


def parse_command_update(body: Any, record: XyteDevice) -> tuple[str | None, State, str | None]:
    """HTTPS Update Command: the command id (None: the oldest open one, before 1.0.1), its status and
    message."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    _check_device_id(body, record)
    if "status" not in body:
        raise InvalidRequest("status is required")
    state = command_status(body["status"])
    if body.get("id") is None:
        if at_least(record.api_version, COMMAND_UPDATE_NEEDS_ID):
            raise InvalidRequest("id is required")
        return None, state, command_message(body.get("message"))
    return checked_id(body["id"]), state, command_message(body.get("message"))


def parse_command_message(
    body: Any, record: XyteDevice, correlation: bytes | None
) -> tuple[str, State, str | None]:
    """MQTT ``commands/update``: the command the correlation data (or ``id``) names."""
    if not isinstance(body, dict):
        raise InvalidRequest("The payload must be a JSON object")
    _check_device_id(body, record)
    if "status" not in body:
        raise InvalidRequest("status is required")
    state = command_status(body["status"])
    return correlated_id(body.get("id"), correlation, "command"), state, command_message(body.get("message"))


# --------------------------------------------------------------------------- licenses
def license_state(value: Any) -> str:
    if not isinstance(value, str) or value not in DEVICE_LICENSE_STATES:
        raise InvalidRequest(f"state must be one of {', '.join(DEVICE_LICENSE_STATES)}")
    return value


def license_error(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_LICENSE_ERROR:
        raise InvalidRequest(f"error must be a string of at most {MAX_LICENSE_ERROR} characters")
    return value


def parse_license_update(
    body: Any, correlation: bytes | None = None, *, mqtt: bool = False
) -> tuple[str, str, str | None]:
    """Update License: the license id, the device's state and its error text."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    if "state" not in body:
        raise InvalidRequest("state is required")
    state = license_state(body["state"])
    if mqtt:
        license_id = correlated_id(body.get("id"), correlation, "license")
    elif body.get("id") is None:
        raise InvalidRequest("id is required")
    else:
        license_id = checked_id(body["id"])
    return license_id, state, license_error(body.get("error"))


# --------------------------------------------------------------------------- operator views
def config_view(record: XyteDevice, current: ConfigVersion, applied: AppliedConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "deviceId": record.device_id,
        "version": current.version,
        "name": current.name,
        "config": current.config,
        "updatedAt": iso_utc(current.updated, milliseconds=True),
        "source": current.source,
        "appliedVersion": applied.version,
    }
    if applied.at is not None:
        out["appliedAt"] = iso_utc(applied.at, milliseconds=True)
    return out


def config_version_view(version: ConfigVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "name": version.name,
        "config": version.config,
        "updatedAt": iso_utc(version.updated, milliseconds=True),
        "source": version.source,
    }


def command_view(command: Command, now: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": command.uuid,
        "deviceId": command.device_id,
        "name": command.name,
        "parameters": command.params,
        "status": VOCABULARY.status(command.effective_state(now)),
        "timeout": int((command.expires - command.created) // 1000),
        "createdAt": iso_utc(command.created, milliseconds=True),
        "expiresAt": iso_utc(command.expires, milliseconds=True),
        "updatedAt": iso_utc(command.updated, milliseconds=True),
        "deliveries": command.deliveries,
    }
    message = message_of(command)
    if message is not None:
        out["message"] = message
    if command.responded_time is not None:
        out["respondedAt"] = iso_utc(command.responded_time, milliseconds=True)
    return out


def license_view(found: License) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": found.id,
        "deviceId": found.device_id,
        "data": found.data,
        "signature": found.signature,
        "expiresAt": found.expires_at,
        "action": found.action,
        "state": found.state,
        "revision": found.revision,
        "createdAt": iso_utc(found.created, milliseconds=True),
        "updatedAt": iso_utc(found.updated, milliseconds=True),
    }
    if found.error is not None:
        out["error"] = found.error
    if found.answered is not None:
        out["answeredAt"] = iso_utc(found.answered, milliseconds=True)
    return out
