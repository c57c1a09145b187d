"""Xyte's sync topic, ``v1/device/{id}/get``: a device that reconnected (Xyte's MQTT updates are queued
only for a while) asks for everything that waits for it, and the server publishes it again, each on its
own topic with its MQTT 5 properties:

- the space info (``…/space_info``), always;
- the current config, unless the device acknowledged it (``xyte_push.push_config``);
- the oldest command it has not reported on (``push_next_command``: never one it started or ended);
- every license change it has not answered (``push_licenses``);
- a firmware notice (``…/firmware``: ``{latest_fw_version, latest_fw_file_id}``) when its model has
  newer firmware than the device reported.

Nothing is written but the commands' re-delivery count, so a repeated ``get`` (or a retried invocation)
only publishes again: the device sees each item with the id it had, never a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fleetgate.data import iot
from fleetgate.domain import xyte as rules
from fleetgate.domain.xyte import XyteDevice
from fleetgate.domain.xyte_registry import SpaceInfo
from fleetgate.errors import CallFailed, NotFound
from fleetgate.jsonutil import dumps
from fleetgate.observability import logger
from fleetgate.services import xyte, xyte_push, xyte_space

NOTICE_EXPIRY_S = 86_400


@dataclass(frozen=True)
class Resent:
    """What one ``get`` published."""

    space_info: bool
    config: bool
    command: bool
    licenses: int
    firmware: bool


def republish(record: XyteDevice, render_space: Callable[[SpaceInfo, XyteDevice], bytes]) -> Resent:
    return Resent(
        space_info=_publish(
            xyte_space.TOPIC.format(device_id=record.device_id),
            render_space(xyte_space.current(record.device_id), record),
        ),
        config=xyte_push.push_config(record),
        command=xyte_push.push_next_command(record),
        licenses=xyte_push.push_licenses(record),
        firmware=_firmware_notice(record),
    )


def _firmware_notice(record: XyteDevice) -> bool:
    try:
        model = xyte.get_model(record.model_id)
    except NotFound:
        return False
    if not rules.firmware_outdated(record.firmware_version, model.latest_fw_version):
        return False
    body = rules.stamped(
        {"latest_fw_version": model.latest_fw_version, "latest_fw_file_id": model.latest_fw_file_id}, record
    )
    return _publish(f"v1/device/{record.device_id}/firmware", dumps(body).encode())


def _publish(topic: str, payload: bytes) -> bool:
    try:
        iot.publish(topic, payload, qos=1, message_expiry_s=NOTICE_EXPIRY_S)
    except CallFailed as exc:
        logger.warning("Publish failed", extra={"topic": topic, "reason": exc.message})
        return False
    return True
