"""Claiming use cases: a device opens a claiming window; an operator who names it and gives its
secret within the window becomes its owner; the owner can release it (ThingsBoard's
``ClaimDevicesServiceImpl``, with an operator as the customer).

What an operator is told never separates "no such device", "no open window" and "wrong secret": all
three are the same 403, so names cannot be probed through claiming.
"""

from __future__ import annotations

from fleetgate import clock
from fleetgate.data.claims import ClaimRepository
from fleetgate.data.devices import DeviceRepository
from fleetgate.domain.claims import ClaimRequest, Ownership, open_window
from fleetgate.errors import Conflict, Forbidden, InvalidRequest, Unauthorized
from fleetgate.services import devices
from fleetgate.settings import get_settings

NOT_CLAIMABLE = "No device with this name is waiting to be claimed with this secret key"
EXPIRED = "The claiming window has expired; the device must ask to be claimed again"
TAKEN = "The device is already claimed by another operator"


def repository() -> ClaimRepository:
    return ClaimRepository(get_settings().require("devices_table"))


def request_claim(device_id: str, request: ClaimRequest) -> bool:
    """The device's side: open (or renew) its claiming window. False, and nothing written, when the
    device already has an owner (ThingsBoard only logs that)."""
    return repository().open_window(open_window(device_id, request, clock.now_ms()))


def claim(device_name: str, secret_key: str, operator: str, operator_name: str | None) -> Ownership:
    """The operator's side: become the owner of the device named ``device_name``. Claiming a device one
    already owns answers that ownership again. A wrong secret or an expired window uses the window up."""
    if not operator:
        raise Unauthorized("The request carries no operator identity")
    repo = repository()
    device_id = DeviceRepository(get_settings().require("devices_table")).id_for_name(device_name)
    if device_id is None:
        raise Forbidden(NOT_CLAIMABLE)
    state = repo.state(device_id)
    if not state.exists:
        raise Forbidden(NOT_CLAIMABLE)
    if state.ownership is not None:
        return _owned(state.ownership, operator)
    window = state.window
    if window is None:
        raise Forbidden(NOT_CLAIMABLE)
    if not window.matches(secret_key):
        repo.drop_window(window)
        raise Forbidden(NOT_CLAIMABLE)
    if window.expired(clock.now_ms()):
        repo.drop_window(window)
        raise InvalidRequest(EXPIRED)
    ownership = Ownership(device_id, operator, operator_name, clock.now_ms())
    try:
        repo.claim(window, ownership)
    except Conflict:
        current = repo.owner(device_id)
        if current is None:
            raise Forbidden(NOT_CLAIMABLE) from None  # the window was used up concurrently
        return _owned(current, operator)
    return ownership


def _owned(ownership: Ownership, operator: str) -> Ownership:
    if ownership.owner != operator:
        raise Conflict(TAKEN)
    return ownership


def release(device_id: str, operator: str) -> None:
    """The owner gives the device up; it can then be claimed again (after a new claim request)."""
    if not operator:
        raise Unauthorized("The request carries no operator identity")
    devices.get(device_id)  # 404 for an unknown device
    repo = repository()
    ownership = repo.owner(device_id)
    if ownership is None:
        raise Conflict("The device is not claimed")
    if ownership.owner != operator:
        raise Forbidden("Only the device's owner can release it")
    try:
        repo.release(device_id, operator)
    except Conflict:
        raise Conflict("The device is not claimed by you any more") from None


def owner_of(device_id: str) -> Ownership | None:
    return repository().owner(device_id)
