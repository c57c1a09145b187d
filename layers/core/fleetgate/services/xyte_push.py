"""Server → device publishing for Xyte: config, commands and licenses over MQTT (``iot-data`` Publish).

Every message is QoS 1 on the device's own topic, with an MQTT 5 response topic (the topic the device
answers on), correlation data and a message expiry:

| what | topic | response topic | correlation data | expiry |
|---|---|---|---|---|
| config | ``v1/device/{id}/config`` | ``…/config/update`` | the version, as text | 1 day |
| command | ``v1/device/{id}/commands`` | ``…/commands/update`` | the command id | its timeout |
| license | ``v1/device/{id}/license`` | ``…/license/update`` | the license id | 1 day |

Commands go to ``…/commands`` (the sample agent's spelling); devices that subscribe to ``…/command``
as well get nothing twice.

A failed publish is logged and counted (``XytePublishFailures``) and never undoes the change: what was
not delivered stays pending, the device sees it in its telemetry answer's flags and versions and reads it
over HTTPS, or asks again on ``get``, whose handler re-publishes with ``push_config``,
``push_next_command`` and ``push_licenses``. Each of those re-publishes only what is still pending and is
a no-op (no AWS call beyond the record the caller holds) when the record's versions and flags say there is
nothing; a command the device has reported on (in_progress, done, failed) is never sent again.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, replace

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.clock import now_ms
from fleetgate.data import iot
from fleetgate.data.xyte_sync import XyteCommandRepository, XyteSyncRepository
from fleetgate.domain.commands import Command, State
from fleetgate.domain.commands import settle as settled
from fleetgate.domain.devices import Device
from fleetgate.domain.xyte import XyteDevice
from fleetgate.domain.xyte_sync import (
    MESSAGE_EXPIRY_S,
    VOCABULARY,
    ConfigVersion,
    License,
    command_body,
    config_body,
    license_body,
)
from fleetgate.errors import CallFailed, Conflict
from fleetgate.jsonutil import dumps
from fleetgate.observability import logger, metrics
from fleetgate.settings import get_settings

TOPIC_ROOT = "v1/device"


def repository() -> XyteSyncRepository:
    return XyteSyncRepository(get_settings().require("devices_table"))


def commands() -> XyteCommandRepository:
    return XyteCommandRepository(get_settings().require("commands_table"), VOCABULARY)


def topic(device_id: str, name: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/{name}"


def _publish(device_id: str, name: str, body: object, correlation: str, expiry_s: int) -> bool:
    """One QoS 1 publish; False (logged, counted) when the data plane refused it."""
    try:
        iot.publish(
            topic(device_id, name),
            dumps(body).encode(),
            qos=1,
            response_topic=topic(device_id, f"{name}/update"),
            correlation_data=correlation.encode(),
            message_expiry_s=expiry_s,
        )
    except CallFailed as exc:
        logger.warning("Publish failed", extra={"topic": topic(device_id, name), "reason": exc.message})
        metrics.add_metric(name="XytePublishFailures", unit=MetricUnit.Count, value=1)
        return False
    return True


# --------------------------------------------------------------------------- one message each
def publish_config(record: XyteDevice, current: ConfigVersion) -> bool:
    return _publish(
        record.device_id, "config", config_body(current, record), str(current.version), MESSAGE_EXPIRY_S
    )


def publish_command(record: XyteDevice, command: Command, now: int) -> bool:
    expiry = max(1, -(-(command.expires - now) // 1000))
    return _publish(record.device_id, "commands", command_body(command, record, now), command.uuid, expiry)


def publish_license(record: XyteDevice, found: License) -> bool:
    return _publish(record.device_id, "license", license_body(found, now_ms()), found.id, MESSAGE_EXPIRY_S)


@dataclass
class CommandPublish:
    """The engine's delivery for Xyte commands: recorded pending, then published. A failed publish is
    not a failed command (``pushed`` but never raising): the device also reads it over HTTPS."""

    record: XyteDevice
    published: bool | None = None
    pushed: bool = True
    failure: str = "Publish failed"

    def deliver(self, device: Device, command: Command) -> None:
        self.published = publish_command(self.record, command, command.created)


# --------------------------------------------------------------------------- re-publishing
def push_config(record: XyteDevice) -> bool:
    """Publish the current config again if the device has not acknowledged it; False when there is
    nothing to send (no config yet, or the device applied the current version) or the publish failed."""
    if record.config_version <= 0:
        return False
    repo = repository()
    if repo.applied(record.device_id).version >= record.config_version:
        return False
    current = repo.config(record.device_id, record.config_version)
    return current is not None and publish_config(record, current)


def push_next_command(record: XyteDevice) -> bool:
    """Publish the oldest command still pending (the device has not reported on it) again, after
    recording the re-delivery with a write conditional on the version read: a command that moved on
    meanwhile is not sent. Commands found past their timeout are recorded timed_out on the way.
    False when nothing was sent (and at once when the record's ``command_pending`` flag is down)."""
    if not record.command_pending:
        return False
    repo = commands()
    now = now_ms()
    for command in repo.open_commands(record.device_id):
        ended = settled(command, now)
        if ended is not None:
            with suppress(Conflict):  # another writer recorded it first
                repo.replace(command, ended)
            continue
        if command.state is not State.DELIVERED:
            continue  # in progress on the device: never sent again
        again = replace(
            command,
            deliveries=command.deliveries + 1,
            last_delivered_time=now,
            updated=now,
            version=command.version + 1,
        )
        try:
            repo.replace(command, again)
        except Conflict:
            return False  # the device reported on it meanwhile
        return publish_command(record, again, now)
    return False


def push_licenses(record: XyteDevice) -> int:
    """Publish every license change the device has not answered yet, one message each; how many were
    published (0 at once when the record's ``new_licenses`` flag is down)."""
    if not record.new_licenses:
        return 0
    pending = [found for found in repository().licenses(record.device_id) if found.pending]
    return sum(publish_license(record, found) for found in sorted(pending, key=lambda f: f.updated))
