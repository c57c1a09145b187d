"""Thing groups: create, read, list, delete, and their members. Joining or leaving a group reaches the
CONTINUOUS jobs that target it (``services.jobs``)."""

from __future__ import annotations

from fleetgate.clock import now_ms
from fleetgate.data.groups import GroupRepository
from fleetgate.domain.devices import Thing
from fleetgate.domain.groups import ThingGroup, check_name, new_group
from fleetgate.domain.paging import check_limit
from fleetgate.services import devices, jobs
from fleetgate.settings import get_settings


def _groups() -> GroupRepository:
    return GroupRepository(get_settings().require("devices_table"))


def create(name: str, description: str | None) -> ThingGroup:
    group = new_group(name, description, now_ms())
    _groups().create(group)
    return group


def get(name: str) -> ThingGroup:
    check_name(name)
    return _groups().get(name)


def list_page(limit: int, next_token: str | None) -> tuple[list[ThingGroup], str | None]:
    check_limit(limit)
    return _groups().list_page(limit, next_token)


def delete(name: str) -> None:
    """Delete the group and its memberships; the CONTINUOUS jobs targeting it stop reaching its members
    (their still-queued executions that came only through it are REMOVED)."""
    get(name)
    members = _groups().members(name)
    _groups().delete(name)
    jobs.group_deleted(name, members)


def members(name: str) -> list[Thing]:
    """Every member of the group (NotFound for an unknown group)."""
    get(name)
    return _groups().members(name)


def members_page(name: str, limit: int, next_token: str | None) -> tuple[list[Thing], str | None]:
    check_limit(limit)
    get(name)
    return _groups().members_page(name, limit, next_token)


def add_thing(name: str, thing_name: str) -> Thing:
    """Add the device named ``thing_name``; adding a member again changes nothing."""
    check_name(name)
    thing = devices.thing_named(thing_name)
    if _groups().add_member(name, thing, now_ms()):
        jobs.thing_joined_group(thing, name)
    return thing


def remove_thing(name: str, thing_name: str) -> None:
    check_name(name)
    thing = devices.thing_named(thing_name)
    _groups().remove_member(name, thing)
    jobs.thing_left_group(thing, name)


def groups_of(device_id: str) -> list[str]:
    return _groups().groups_of(device_id)


def forget_device(device_id: str, thing_name: str) -> None:
    _groups().forget_device(device_id, thing_name)


def _check_limit(limit: int) -> None:
    check_limit(limit)
