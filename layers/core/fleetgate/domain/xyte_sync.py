"""What a Xyte device and the server keep in step: its config (versioned), its commands (on the command
engine) and its licenses. Pure rules and the bodies Xyte defines for them, no I/O.

The bodies are built here (as ``domain.xyte.stamped`` is) because each is one shape over HTTPS and MQTT
and the server publishes them from the use cases (``services.xyte_push``), which may not import a dialect.

Config
- The server's config has a version, ``XyteDevice.config_version`` (0: none yet), bumped by exactly 1 in
  the same transaction as each config write; a version's document never changes once written.
- A device's own change (``POST config``, MQTT ``config/update``) that names a version older than the
  server's is refused (``Conflict``, Xyte's 422). One that leaves the current config (and its name) as
  it is, is the device's acknowledgement: nothing new is written, the applied version is recorded.
  Anything else is stored as the next version (the server numbers versions; a device's higher number is
  not taken).
- Bodies: before API 1.0.5 flat ``{version, last_updated, ...fields}``; from 1.0.5 scoped
  ``{name, version, last_updated, config}``; ``device_id`` from 1.0.7. ``name`` is the config's name, set
  by the operator (``default`` unless named).

Commands (``VOCABULARY``, the engine's UUID scheme)
- pending (DELIVERED: recorded, then published) → in_progress → done | failed; timed_out once past the
  timeout unanswered; canceled by the operator while pending or in_progress.
- The device reports ``failed`` over HTTPS and ``error`` over MQTT: both words mean FAILED on both.
- A report on an ended command is refused (``Conflict``: 422) unless it repeats the recorded one.

Licenses
- A license has the last change the operator made (``action``: add, update, remove) and the device's
  ``state`` (pending until the device answers, then inuse, removed or error). ``revision`` counts the
  operator's changes; every write is conditional on the revision and state it read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from fleetgate.clock import iso_utc
from fleetgate.domain.commands import Command, CommandSpec, IdScheme, State, Vocabulary
from fleetgate.domain.xyte import SCOPED_CONFIG, XyteDevice, at_least, stamped
from fleetgate.errors import Conflict, FleetgateError, InvalidRequest, NotFound, PayloadTooLarge
from fleetgate.jsonutil import dumps

MAX_CONFIG_BYTES = 65_536  # compact JSON: the published config stays far below AWS IoT Core's 128 KB
MAX_CONFIG_NAME = 128
CONFIG_HISTORY = 20  # versions kept per device; older ones are deleted with the write that passes them
DEFAULT_CONFIG_NAME = "default"

MAX_COMMAND_NAME = 128
MAX_PARAMS_BYTES = 65_536
MAX_MESSAGE = 4_096
DEFAULT_TIMEOUT_S = 86_400  # a Xyte device may poll only when it sends telemetry: a day by default
MAX_TIMEOUT_S = 604_800  # 7 days, also the longest message expiry a publish carries
STANDARD_COMMANDS = ("reboot", "dump", "update_firmware")

MAX_LICENSE_DATA_BYTES = 32_768
MAX_SIGNATURE = 4_096
LICENSE_ACTIONS = ("add", "update", "remove")
LICENSE_STATES = ("pending", "inuse", "removed", "error")
DEVICE_LICENSE_STATES = ("inuse", "removed", "error")
MAX_LICENSE_ERROR = 1_024

MESSAGE_EXPIRY_S = 86_400  # config and license messages: a device offline longer catches up by polling


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ConfigVersion:
    """One version of a device's config, as stored."""

    device_id: str
    version: int
    name: str
    config: dict[str, Any]
    updated: int  # epoch ms
    source: str  # "operator" or "device"


@dataclass(frozen=True)
class AppliedConfig:
    """What the device last acknowledged (0: nothing yet)."""

    version: int = 0
    at: int | None = None  # epoch ms


@dataclass(frozen=True)
class DeviceConfig:
    """A device's own config change, parsed: ``version`` None when it named none."""

    config: dict[str, Any]
    version: int | None
    name: str | None


def empty_config(record: XyteDevice) -> ConfigVersion:
    """What a device reads before any config was written: version 0, no fields, dated its registration."""
    return ConfigVersion(record.device_id, 0, DEFAULT_CONFIG_NAME, {}, record.registered_at, "operator")


def config_body(current: ConfigVersion, record: XyteDevice) -> dict[str, Any]:
    """Get Config's body for the device's model API version (flat before 1.0.5, scoped from it)."""
    updated = iso_utc(current.updated, milliseconds=True)
    if at_least(record.api_version, SCOPED_CONFIG):
        body: dict[str, Any] = {
            "name": current.name,
            "version": current.version,
            "last_updated": updated,
            "config": current.config,
        }
    else:
        body = {**current.config, "version": current.version, "last_updated": updated}
    return stamped(body, record)


def check_config(config: Any, what: str = "config") -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidRequest(f"{what} must be a JSON object")
    if _size(config) > MAX_CONFIG_BYTES:
        raise PayloadTooLarge(f"{what} exceeds the limit of {MAX_CONFIG_BYTES} bytes (compact JSON)")
    return config


def check_config_name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_CONFIG_NAME or not name.isprintable():
        raise InvalidRequest(f"name must be 1-{MAX_CONFIG_NAME} printable characters")
    return name


def device_change(current: ConfigVersion, change: DeviceConfig) -> ConfigVersion | None:
    """The version a device's change makes, or None when it repeats the current config (an
    acknowledgement). ``Conflict`` when it names a version older than the server's."""
    if change.version is not None and change.version < current.version:
        raise Conflict(f"The config's version {change.version} is older than the server's {current.version}")
    name = change.name or current.name
    if change.config == current.config and name == current.name:
        return None
    return ConfigVersion(current.device_id, current.version + 1, name, change.config, 0, "device")


# --------------------------------------------------------------------------- commands
class XyteCommandVocabulary(Vocabulary):
    name = "xyte"
    id_scheme = IdScheme.UUID
    statuses: ClassVar[Mapping[State, str]] = {
        State.DELIVERED: "pending",
        State.IN_PROGRESS: "in_progress",
        State.SUCCEEDED: "done",
        State.FAILED: "failed",
        State.TIMED_OUT: "timed_out",
        State.CANCELED: "canceled",
    }
    cancelable = frozenset({State.DELIVERED, State.IN_PROGRESS})

    def refusal(self, command: Command, state: State, action: str) -> FleetgateError:
        return Conflict(f"Command {command.uuid} is {self.status(state)} and can no longer be {action}")

    def not_found(self, device_id: str, key: int | str) -> FleetgateError:
        return NotFound(f"Command '{key}' not found for this device")


VOCABULARY = XyteCommandVocabulary()
DEVICE_WORDS = {"in_progress": State.IN_PROGRESS, "done": State.SUCCEEDED, "failed": State.FAILED,
                "error": State.FAILED}  # fmt: skip


@dataclass(frozen=True)
class CommandRequest:
    """An operator's command, validated."""

    name: str
    params_json: str
    timeout_s: int


def command_request(name: Any, parameters: Any = None, timeout: Any = None) -> CommandRequest:
    """Validate ``{name, parameters?, timeout?}``; the standard ``update_firmware`` needs ``url`` and
    ``version`` strings (``checksum`` and ``signature`` optional strings)."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_COMMAND_NAME or not name.isprintable():
        raise InvalidRequest(f"name must be 1-{MAX_COMMAND_NAME} printable characters")
    params = {} if parameters is None else parameters
    if not isinstance(params, dict):
        raise InvalidRequest("parameters must be a JSON object")
    if name == "update_firmware":
        for key in ("url", "version"):
            if not isinstance(params.get(key), str) or not params[key]:
                raise InvalidRequest(f"update_firmware needs parameters.{key} (a string)")
        for key in ("checksum", "signature"):
            if key in params and not isinstance(params[key], str):
                raise InvalidRequest(f"parameters.{key} must be a string")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_S
    elif isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_S:
        raise InvalidRequest(f"timeout must be an integer number of seconds from 1 to {MAX_TIMEOUT_S}")
    if _size(params) > MAX_PARAMS_BYTES:
        raise PayloadTooLarge(f"parameters exceed the limit of {MAX_PARAMS_BYTES} bytes (compact JSON)")
    return CommandRequest(name, dumps(params), timeout)


def command_spec(request: CommandRequest, now: int) -> CommandSpec:
    return CommandSpec(
        name=request.name,
        params_json=request.params_json,
        created=now,
        expires=now + request.timeout_s * 1000,
        extras={"timeout": request.timeout_s},
    )


def command_body(command: Command, record: XyteDevice, now: int) -> dict[str, Any]:
    """Get Command's body (and the MQTT command message): ``{id, status, name, parameters}``."""
    body = {
        "id": command.uuid,
        "status": VOCABULARY.status(command.effective_state(now)),
        "name": command.name,
        "parameters": command.params,
    }
    return stamped(body, record)


def message_of(command: Command) -> str | None:
    """The message the device last sent with a report."""
    result = command.result
    return result.get("message") if isinstance(result, dict) else None


# --------------------------------------------------------------------------- licenses
@dataclass(frozen=True)
class License:
    device_id: str
    id: str
    data: Any
    signature: str
    expires_at: str | None  # ISO-8601, as the operator gave it (normalised to UTC)
    action: str  # the operator's last change: add, update or remove
    state: str  # pending until the device answers; then inuse, removed or error
    created: int  # epoch ms
    updated: int  # epoch ms
    revision: int = 1
    error: str | None = None
    answered: int | None = None  # epoch ms of the device's last answer

    @property
    def pending(self) -> bool:
        return self.state == "pending"


def check_license_data(data: Any) -> Any:
    if data is None:
        raise InvalidRequest("data is required")
    if _size(data) > MAX_LICENSE_DATA_BYTES:
        raise PayloadTooLarge(f"data exceeds the limit of {MAX_LICENSE_DATA_BYTES} bytes (compact JSON)")
    return data


def check_signature(signature: Any) -> str:
    if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE:
        raise InvalidRequest(f"signature must be a string of at most {MAX_SIGNATURE} characters")
    return signature


def check_expires_at(value: Any) -> str | None:
    """An ISO-8601 date-time with a zone (or None), written back as UTC ``…Z``."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidRequest("expires_at must be an ISO-8601 date-time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as exc:
        raise InvalidRequest("expires_at must be an ISO-8601 date-time") from exc
    if moment.tzinfo is None:
        raise InvalidRequest("expires_at must name its time zone (e.g. 2027-01-01T00:00:00Z)")
    return iso_utc(int(moment.timestamp() * 1000), milliseconds=True)


def new_license(
    device_id: str, license_id: str, *, data: Any, signature: str, expires_at: str | None, now: int
) -> License:
    return License(device_id, license_id, data, signature, expires_at, "add", "pending", now, now)


def changed(current: License, now: int, action: str, **fields: Any) -> License:
    """The license after an operator change: pending again, with ``action`` and a new revision. A
    removed license can only be added again; a license being removed cannot be updated."""
    if action == "update" and current.action == "remove":
        raise Conflict(f"License {current.id} is removed; add it again instead")
    return replace(
        current,
        **fields,
        action=action,
        state="pending",
        error=None,
        updated=now,
        revision=current.revision + 1,
    )


def acknowledged(current: License, state: str, error: str | None, now: int) -> License | None:
    """The license after the device's answer; None when it repeats the recorded one. ``Conflict`` when
    nothing is pending and the answer differs."""
    if not current.pending:
        if current.state == state and current.error == error:
            return None
        raise Conflict(f"License {current.id} has no pending change (it is {current.state})")
    return replace(current, state=state, error=error, answered=now, updated=now)


def license_body(found: License, now: int) -> dict[str, Any]:
    """Get License's body and the MQTT license message: one license and what to do with it."""
    return {
        "id": found.id,
        "device_id": found.device_id,
        "data": found.data,
        "signature": found.signature,
        "action": found.action,
        "add": found.action == "add",
        "update": found.action == "update",
        "remove": found.action == "remove",
        "expires_at": found.expires_at,
        "current_time": iso_utc(now, milliseconds=True),
    }


def license_item(found: License) -> dict[str, Any]:
    """An element of Get Licenses' array."""
    return {
        "id": found.id,
        "device_id": found.device_id,
        "data": found.data,
        "signature": found.signature,
        "add": found.action == "add",
        "update": found.action == "update",
        "remove": found.action == "remove",
        "expires_at": found.expires_at,
    }


# --------------------------------------------------------------------------- helpers
def _size(value: Any) -> int:
    return len(dumps(value).encode())
