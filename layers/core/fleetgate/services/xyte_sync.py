"""Xyte use cases that keep a device and the server in step: config, commands, licenses; for the device
(HTTPS routes and MQTT rule functions share them) and for the operator. Rules: ``domain.xyte_sync``;
publishing: ``services.xyte_push``.

- Config writes are one transaction conditional on the version read (retried from a fresh read when
  another write won), so versions go up by exactly 1 and none is lost. An operator change is published
  at once.
- Commands run on the command engine (``services.commands``) with the Xyte vocabulary and the
  ``CommandPublish`` delivery. ``command_pending`` is raised after each command is recorded and cleared
  only when no open command remains (``data.xyte_sync``'s counter rule); it can be left up by a race
  (the device answered before the raise), never down while a command waits, and the device's next
  Get Command that finds nothing clears it.
- Licenses: each operator change makes the license pending, raises ``new_licenses`` and is published;
  the device's answer ends the pending change. An answer that lost the race to a newer operator change
  is not applied to it (the device answered the older one): it gets the license as it stands.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import replace
from typing import Any

from fleetgate.clock import now_ms
from fleetgate.domain import xyte_sync as rules
from fleetgate.domain.commands import TERMINAL, Answer, Command, State, settle
from fleetgate.domain.xyte import XyteDevice
from fleetgate.domain.xyte_sync import VOCABULARY, AppliedConfig, ConfigVersion, DeviceConfig, License
from fleetgate.errors import Conflict, FleetgateError, NotFound, Retryable
from fleetgate.jsonutil import dumps
from fleetgate.retry import on_conflict
from fleetgate.services import commands as engine
from fleetgate.services import devices, xyte
from fleetgate.services.xyte_push import (
    CommandPublish,
    commands,
    publish_config,
    publish_license,
    repository,
)

PENDING_COMMAND = "commandPending"
NEW_LICENSES = "newLicenses"


# --------------------------------------------------------------------------- config
def current_config(record: XyteDevice) -> ConfigVersion:
    """The config at the record's version (version 0 and no fields before any was written)."""
    if record.config_version <= 0:
        return rules.empty_config(record)
    found = repository().config(record.device_id, record.config_version)
    if found is None:  # only a version older than the history keeps, read from a very stale record
        raise Retryable("The config is being changed; retry")
    return found


def device_config(record: XyteDevice, change: DeviceConfig) -> ConfigVersion:
    """A device's own config (``POST config``, MQTT ``config/update``): the version it makes, or the
    current one when it repeats it; either way recorded as applied by the device. ``Conflict`` for a
    config older than the server's."""
    repo = repository()

    def attempt() -> ConfigVersion | FleetgateError:
        # decided on a strongly consistent read: an acknowledgement writes nothing to correct it
        fresh = xyte.repository().get(record.device_id, consistent=True)
        if fresh is None:
            return NotFound(f"Device '{record.device_id}' is not a Xyte device")
        current = current_config(fresh)
        try:
            made = rules.device_change(current, change)
        except Conflict as refusal:  # older than the server's: a value, not a lost write to retry
            return refusal
        if made is None:
            return current
        made = replace(made, updated=now_ms())
        repo.write_config(current.version, made)
        return made

    result = on_conflict(attempt, busy="The config is being changed by many writers; retry")
    if isinstance(result, FleetgateError):
        raise result
    repo.record_applied(record.device_id, result.version, now_ms())
    return result


def set_config(device_id: str, config: dict[str, Any], name: str | None) -> tuple[ConfigVersion, bool]:
    """The operator's change: always a new version, published at once; returns it and whether the
    publish went out."""
    repo = repository()
    holder: list[XyteDevice] = []

    def attempt() -> ConfigVersion:
        record = xyte.repository().get(device_id, consistent=True)
        if record is None:
            raise NotFound(f"Device '{device_id}' is not a Xyte device")
        current = current_config(record)
        made = ConfigVersion(
            device_id, current.version + 1, name or current.name, config, now_ms(), "operator"
        )
        repo.write_config(current.version, made)
        holder[:] = [record]
        return made

    made = on_conflict(attempt, busy="The config is being changed by many writers; retry")
    return made, publish_config(holder[0], made)


def config_state(device_id: str) -> tuple[XyteDevice, ConfigVersion, AppliedConfig]:
    record = xyte.repository().get(device_id, consistent=True)
    if record is None:
        raise NotFound(f"Device '{device_id}' is not a Xyte device")
    return record, current_config(record), repository().applied(device_id)


def config_history(device_id: str) -> list[ConfigVersion]:
    xyte.record(device_id)
    return repository().config_versions(device_id)


# --------------------------------------------------------------------------- commands: operator
def send_command(device_id: str, request: rules.CommandRequest) -> tuple[Command, bool]:
    """Record a command (pending) for a Xyte device, publish it, raise ``command_pending``; returns the
    command and whether the publish went out."""
    record = xyte.record(device_id)
    delivery = CommandPublish(record)
    command, _ = engine.send(
        VOCABULARY, delivery, devices.get(device_id), rules.command_spec(request, now_ms())
    )
    repository().raise_flag(device_id, PENDING_COMMAND)
    return command, bool(delivery.published)


def get_command(device_id: str, command_id: str) -> Command:
    xyte.record(device_id)
    return engine.get(VOCABULARY, device_id, command_id)


def list_commands(device_id: str, limit: int, next_token: str | None) -> tuple[list[Command], str | None]:
    xyte.record(device_id)
    return engine.list_page(VOCABULARY, device_id, limit, next_token)


def cancel_command(device_id: str, command_id: str) -> Command:
    xyte.record(device_id)
    canceled = engine.cancel(VOCABULARY, device_id, command_id)
    _settle_command_flag(device_id)
    return canceled


# --------------------------------------------------------------------------- commands: device
def next_command(record: XyteDevice) -> Command | None:
    """The device's oldest open command (pending or in progress), or None; commands past their timeout
    are recorded timed_out on the way, and the flag is cleared when none is open."""
    if record.command_pending:
        _, seen = repository().flag_counter(record.device_id, PENDING_COMMAND)
        found = _open_commands(record.device_id)
        if not found:
            repository().clear_flag(record.device_id, PENDING_COMMAND, seen)
        return found[0] if found else None
    found = _open_commands(record.device_id)
    return found[0] if found else None


def answer_command(record: XyteDevice, command_id: str | None, state: State, message: str | None) -> Command:
    """The device's report (HTTPS ``POST command``, MQTT ``commands/update``); ``command_id`` None
    (model API before 1.0.1) means the oldest open command. A repeat of the recorded report changes
    nothing; a report on an ended command is refused (``Conflict``)."""
    if command_id is None:
        oldest = _open_commands(record.device_id)
        if not oldest:
            raise NotFound("The device has no open command")
        command_id = oldest[0].uuid
    result = None if message is None else dumps({"message": message})
    command, _ = engine.answer(VOCABULARY, record.device_id, command_id, Answer(state, result))
    assert command is not None
    if command.state in TERMINAL:
        _settle_command_flag(record.device_id)
    return command


def pending_commands(record: XyteDevice) -> list[Command]:
    """The open commands of the device and of its children (devices registered under it), the device's
    first, each device's oldest first."""
    found = _open_commands(record.device_id)
    for child in repository().child_ids(record.device_id):
        found.extend(_open_commands(child))
    return found


def _open_commands(device_id: str) -> list[Command]:
    repo = commands()
    now = now_ms()
    found = []
    for command in repo.open_commands(device_id):
        ended = settle(command, now)
        if ended is None:
            found.append(command)
            continue
        with suppress(Conflict):  # another writer recorded its end first
            repo.replace(command, ended)
    return found


def _settle_command_flag(device_id: str) -> None:
    repo = repository()
    up, seen = repo.flag_counter(device_id, PENDING_COMMAND)
    if up and not _open_commands(device_id):
        repo.clear_flag(device_id, PENDING_COMMAND, seen)


# --------------------------------------------------------------------------- licenses: operator
def add_license(device_id: str, data: Any, signature: str, expires_at: str | None) -> tuple[License, bool]:
    record = xyte.record(device_id)
    found = rules.new_license(
        device_id, str(uuid.uuid4()), data=data, signature=signature, expires_at=expires_at, now=now_ms()
    )
    repository().create_license(found)
    repository().raise_flag(device_id, NEW_LICENSES)
    return found, publish_license(record, found)


def update_license(
    device_id: str, license_id: str, data: Any, signature: str, expires_at: str | None
) -> tuple[License, bool]:
    return _change(device_id, license_id, "update", data=data, signature=signature, expires_at=expires_at)


def remove_license(device_id: str, license_id: str) -> tuple[License, bool]:
    """The device is told to remove the license; removing one already being removed (or removed)
    changes nothing and sends nothing."""
    return _change(device_id, license_id, "remove")


def _change(device_id: str, license_id: str, action: str, **fields: Any) -> tuple[License, bool]:
    record = xyte.record(device_id)
    repo = repository()
    unchanged: list[License] = []

    def attempt() -> License | FleetgateError:
        current = repo.license(device_id, license_id)
        if current is None:
            return NotFound(f"License '{license_id}' not found for this device")
        if action == "remove" and current.action == "remove":
            unchanged.append(current)
            return current
        try:
            new = rules.changed(current, now_ms(), action, **fields)
        except Conflict as refusal:
            return refusal
        repo.replace_license(current, new)
        return new

    outcome = on_conflict(attempt, busy="The license is being changed by many writers; retry")
    if isinstance(outcome, FleetgateError):
        raise outcome
    if unchanged:
        return outcome, False
    repo.raise_flag(device_id, NEW_LICENSES)
    return outcome, publish_license(record, outcome)


def licenses(device_id: str) -> list[License]:
    xyte.record(device_id)
    return sorted(repository().licenses(device_id), key=lambda found: found.created)


def get_license(device_id: str, license_id: str) -> License:
    xyte.record(device_id)
    found = repository().license(device_id, license_id)
    if found is None:
        raise NotFound(f"License '{license_id}' not found for this device")
    return found


# --------------------------------------------------------------------------- licenses: device
def pending_licenses(record: XyteDevice) -> list[License]:
    """The license changes the device has not answered, oldest change first; clears ``new_licenses``
    when there are none."""
    repo = repository()
    seen = repo.flag_counter(record.device_id, NEW_LICENSES)[1] if record.new_licenses else None
    pending = sorted(
        (found for found in repo.licenses(record.device_id) if found.pending), key=lambda f: f.updated
    )
    if not pending and seen is not None:
        repo.clear_flag(record.device_id, NEW_LICENSES, seen)
    return pending


def acknowledge_license(record: XyteDevice, license_id: str, state: str, error: str | None) -> License:
    """The device's answer to a license change (HTTPS ``POST licenses``, MQTT ``license/update``). A
    repeat changes nothing; an answer when nothing is pending and it differs is a ``Conflict``; an
    unknown license ``NotFound``. Clears ``new_licenses`` when nothing else is pending."""
    repo = repository()
    first: list[License] = []

    def attempt() -> License | FleetgateError:
        current = repo.license(record.device_id, license_id)
        if current is None:
            return NotFound(f"License '{license_id}' not found for this device")
        if first and current.revision != first[0].revision:
            return current  # the operator changed it after the change this answer is about
        first[:] = [current]
        try:
            new = rules.acknowledged(current, state, error, now_ms())
        except Conflict as refusal:  # a value, so that on_conflict retries lost writes only
            return refusal
        if new is None:
            return current
        repo.replace_license(current, new)
        return new

    answered = on_conflict(attempt, busy="The license is being changed by many writers; retry")
    if isinstance(answered, FleetgateError):
        raise answered
    up, seen = repo.flag_counter(record.device_id, NEW_LICENSES)
    if up and not any(found.pending for found in repo.licenses(record.device_id)):
        repo.clear_flag(record.device_id, NEW_LICENSES, seen)
    return answered
