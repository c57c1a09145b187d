"""Device registry use cases: register, look up, list, delete, regenerate and check credentials.

Every device endpoint imports this module (``authenticate``, ``thing_named``), so what only the
operator's register and delete need (queues, the other tables' repositories) is imported there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleetgate import clock
from fleetgate.data.devices import DeviceRepository
from fleetgate.domain.devices import (
    MAX_TOKEN,
    Device,
    DeviceIdentity,
    Thing,
    check_thing_name,
    hash_token,
    new_device,
    new_token,
)
from fleetgate.domain.paging import check_limit
from fleetgate.errors import Unauthorized
from fleetgate.settings import get_settings


def _devices() -> DeviceRepository:
    return DeviceRepository(get_settings().require("devices_table"))


def register(
    name: str,
    device_type: str | None = None,
    label: str | None = None,
    *,
    token: str | None = None,
    profile_id: str | None = None,
    gateway: bool = False,
    device_id: str | None = None,
    queues: bool = True,
    extra: Sequence[dict[str, Any]] = (),
    taken: Mapping[int, str] | None = None,
) -> tuple[Device, str]:
    """Create a device and, with ``queues``, its wake-up queues (ThingsBoard's long-polls need them);
    returns it with its access token, which is never available again. A chosen ``token`` already in use
    by another device is a Conflict; ``extra``/``taken``: see ``DeviceRepository.create``."""
    from fleetgate.data import wakeups  # noqa: PLC0415 - operator only (see the module's docstring)

    device, token = new_device(
        name,
        device_type,
        label,
        clock.now_ms(),
        token=token,
        profile_id=profile_id,
        gateway=gateway,
        device_id=device_id,
    )
    if queues:
        prefix = get_settings().require("wakeup_queue_prefix")
        device = device.with_queues(wakeups.create_queues(prefix, device.id))
    try:
        _devices().create(device, extra, taken)
    except Exception:
        wakeups.delete_queues(device.queues)
        raise
    return device, token


def get(device_id: str) -> Device:
    return _devices().get(device_id)


def thing_named(name: str) -> Thing:
    """The device named ``name``: ``InvalidRequest`` for a name no device can have, ``NotFound`` when no
    device has it. Every dialect and use case that addresses a device by name goes through here."""
    check_thing_name(name)
    return _devices().thing_named(name)


def list_page(limit: int, next_token: str | None) -> tuple[list[Device], str | None]:
    check_limit(limit)
    return _devices().list_page(limit, next_token)


def list_profile_page(profile_id: str, limit: int, next_token: str | None) -> tuple[list[Device], str | None]:
    check_limit(limit)
    return _devices().list_by_profile(profile_id, limit, next_token)


def delete(device_id: str) -> None:
    """Delete a device: its credentials stop working at once, then its state is removed."""
    from fleetgate.data import wakeups  # noqa: PLC0415 - operator only (see the module's docstring)
    from fleetgate.data.groups import GroupRepository  # noqa: PLC0415
    from fleetgate.data.shadow_history import ShadowHistoryRepository  # noqa: PLC0415
    from fleetgate.data.shadows import ShadowRepository  # noqa: PLC0415
    from fleetgate.data.telemetry import TelemetryRepository  # noqa: PLC0415

    settings = get_settings()
    repo = _devices()
    device = repo.get(device_id)
    repo.delete(device)
    GroupRepository(settings.require("devices_table")).forget_device(device_id, device.name)
    from fleetgate.services import jobs  # noqa: PLC0415 - only deletion needs the jobs engine

    jobs.thing_deleted(Thing(device_id, device.name))  # its pending executions are REMOVED
    from fleetgate.data.xyte import XyteRepository  # noqa: PLC0415

    XyteRepository(settings.require("devices_table")).release_claims(device_id)  # before its record goes
    repo.delete_satellites(device_id)
    ShadowRepository(settings.require("shadows_table")).delete_all(device_id)
    ShadowHistoryRepository(settings.require("shadow_history_table")).delete_all(device_id)
    TelemetryRepository(settings.require("telemetry_table")).delete_latest(device_id)
    wakeups.delete_queues(device.queues)


def regenerate_token(device_id: str) -> tuple[Device, str]:
    """A new access token; the old one stops working in the same transaction."""
    repo = _devices()
    device = repo.get(device_id)
    token = new_token()
    return repo.replace_token(device, hash_token(token)), token


def authenticate(token: str) -> DeviceIdentity:
    """The device an access token belongs to. Not cached: a deleted or regenerated token fails at once."""
    if not token or len(token) > MAX_TOKEN:
        raise Unauthorized()
    identity = _devices().identity_for_token(hash_token(token))
    if identity is None:
        raise Unauthorized()
    return identity
