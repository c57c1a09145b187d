"""Xyte space info: where a device is (location, UTC offset, temperature units, maintenance), set by
the operator and read by the device.

- ``current(device_id)`` is what the device reads (``GET /v1/devices/{id}/space``, the sync topic):
  the stored space info, or the defaults (no location, UTC, celsius, not in maintenance) until the
  operator sets one. The dialect renders it (``dialects.xyte.registry.space_view``).
- ``set_space`` stores it, bumps the record's ``space_version`` (telemetry answers it as
  ``space_data_version``) and publishes it at once to ``v1/device/{id}/space_info`` (QoS 1, expiring
  after ``SPACE_EXPIRY_S``); a failed publish is logged and answered as not delivered: the device
  catches up through ``GET .../space`` when telemetry shows the new version.
"""

from __future__ import annotations

from collections.abc import Callable

from fleetgate.data import iot
from fleetgate.domain.xyte import XyteDevice
from fleetgate.domain.xyte_registry import SpaceInfo, check_space
from fleetgate.errors import CallFailed
from fleetgate.observability import logger
from fleetgate.services import xyte
from fleetgate.services.xyte_registry import repository

SPACE_EXPIRY_S = 86_400
TOPIC = "v1/device/{device_id}/space_info"


def current(device_id: str) -> SpaceInfo:
    """The device's space info (defaults until the operator sets one)."""
    return repository().space(device_id) or SpaceInfo()


def set_space(
    device_id: str, space: SpaceInfo, render: Callable[[SpaceInfo, XyteDevice], bytes]
) -> tuple[XyteDevice, bool]:
    """Store ``space`` for a Xyte device and push it; the record with its new ``space_version`` and
    whether the publish was accepted by the IoT data plane."""
    xyte.record(device_id)  # NotFound unless a Xyte device
    repository().put_space(device_id, check_space(space))
    record = xyte.repository().bump(device_id, "spaceVersion")
    try:
        iot.publish(
            TOPIC.format(device_id=device_id), render(space, record), qos=1, message_expiry_s=SPACE_EXPIRY_S
        )
    except CallFailed:
        logger.warning("Space info not published; the device reads it on its next sync")
        return record, False
    return record, True
