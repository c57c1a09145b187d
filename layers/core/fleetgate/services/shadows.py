"""Shadow use cases over the shadow engine, safe under concurrent writers.

An update reads the document, applies the engine, and writes it back only if the version is unchanged;
when another writer got there first it starts again from the new document, which the lost write
handed back (no second read), after a nap (``fleetgate.retry``). Requests that name an
expected version get the engine's ``VersionConflict`` on the retry instead.

Every accepted update that touches the reported side is also kept as history, written in the same
DynamoDB transaction as the shadow, so a refused or retried attempt leaves no entry behind.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from fleetgate import clock
from fleetgate.data import wakeups
from fleetgate.data.shadow_history import HistoryEntry, ShadowHistoryRepository
from fleetgate.data.shadows import ShadowRepository, StaleShadow
from fleetgate.domain.devices import Device
from fleetgate.domain.paging import check_limit
from fleetgate.domain.shadow import CLASSIC, Json, Shadow, ShadowUpdate, apply_update, cleared, parse_update
from fleetgate.errors import InvalidRequest, NotFound
from fleetgate.retry import on_conflict
from fleetgate.settings import get_settings

BUSY = "The shadow is being changed by many writers; retry the request"
SHADOW_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,64}\Z")  # AWS's named-shadow rule
DAY_S = 86_400


def repository() -> ShadowRepository:
    return ShadowRepository(get_settings().require("shadows_table"))


def history_repository() -> ShadowHistoryRepository:
    return ShadowHistoryRepository(get_settings().require("shadow_history_table"))


def shadow_name(raw: str | None) -> str:
    """The storage name of the shadow a request's ``?name=`` addresses: the classic shadow when there
    is no ``name``, else a named shadow whose name follows AWS's pattern (400 otherwise, empty too)."""
    if raw is None:
        return CLASSIC
    if not SHADOW_NAME.match(raw):
        raise InvalidRequest(
            "Invalid shadow name: it must be 1-64 characters of letters, digits, ':', '_' or '-'"
        )
    return raw


def parse_report(document: Any) -> ShadowUpdate:
    """A device's report: the AWS update document restricted to ``state.reported`` (a device does not
    write desired), which must be there; ``"state": null`` would clear desired too, so it is refused."""
    return _parse_one_section(document, "reported")


def parse_desired(document: Any) -> ShadowUpdate:
    """An operator's update: the AWS update document restricted to ``state.desired``, which must be
    there (an object to merge, or null to delete the whole section)."""
    return _parse_one_section(document, "desired")


def _parse_one_section(document: Any, section: str) -> ShadowUpdate:
    update = parse_update(document, sections=(section,))
    if update.state is None:
        raise InvalidRequest("State node must be an object")
    if section not in update.state:
        raise InvalidRequest(f"Missing required node: {section}")
    return update


def read(device_id: str, name: str) -> Shadow:
    return repository().get(device_id, name)


def current(device_id: str, name: str) -> Shadow:
    """The shadow a device reads: its classic shadow always answers (empty until first written); a
    named one must exist (404 with AWS's message otherwise)."""
    shadow = read(device_id, name)
    if name != CLASSIC and not shadow.exists:
        raise NotFound(f"No shadow exists with name: '{name}'")
    return shadow


def get(device: Device, name: str) -> Shadow:
    """A shadow that exists (404 with AWS's message otherwise, which names the classic shadow by its
    thing's name)."""
    shadow = read(device.id, name)
    if not shadow.exists:
        raise NotFound(f"No shadow exists with name: '{device.name if name == CLASSIC else name}'")
    return shadow


def update(
    device_id: str,
    name: str,
    request: ShadowUpdate,
    *,
    replace_top_level: bool = False,
    source: str = "api",
) -> tuple[Shadow, Json]:
    """Apply ``request`` (retrying on concurrent writers); returns the new shadow and the
    ``/update/accepted`` document. ``source`` labels the history entry of an update touching reported."""
    repo = repository()
    history = history_repository() if _touches_reported(request) else None
    known: list[Shadow] = []  # the stored shadow a lost write handed back, for the next attempt

    def attempt() -> tuple[Shadow, Json]:
        current_shadow = known.pop() if known else repo.get(device_id, name)
        now = clock.now_s()
        # a VersionConflict of the engine is the request's own (its expected version): never retried
        new, accepted = apply_update(current_shadow, request, now, replace_top_level=replace_top_level)
        also = None
        if history is not None:
            also = history.put_request(device_id, _history_entry(name, new, request, source, now))
        _save(repo, device_id, name, new, read_version=current_shadow.version, also=also, known=known)
        return new, accepted

    return on_conflict(attempt, retry_on=(_RaceLost,), busy=BUSY)


def update_desired(device: Device, name: str, request: ShadowUpdate) -> Json:
    """An operator's change of desired state; returns the ``/update/accepted`` document. The classic
    shadow's desired state is the device's ThingsBoard shared attributes: its poller is woken."""
    _, accepted = update(device.id, name, request)
    _wake_attribute_poller(device, name)
    return accepted


def delete(device: Device, name: str) -> Json:
    """Delete a shadow (404 if there is none); its version carries on when it is next written, as in
    AWS. Returns AWS's ``{"version": <the deleted document's>, "timestamp": <now>}``."""
    repo = repository()

    def attempt() -> Json:
        shadow = get(device, name)
        now = clock.now_s()
        gone = replace(cleared(shadow), timestamp=now)  # updatedAt: the time of the deletion
        _save(repo, device.id, name, gone, read_version=shadow.version, also=None)
        return {"version": shadow.version, "timestamp": now}

    deleted = on_conflict(attempt, retry_on=(_RaceLost,), busy=BUSY)
    _wake_attribute_poller(device, name)  # the shared attributes are gone
    return deleted


class _RaceLost(Exception):
    """Another writer saved the shadow between this attempt's read and its write: read again."""


def _save(
    repo: ShadowRepository,
    device_id: str,
    name: str,
    new: Shadow,
    *,
    read_version: int,
    also: dict[str, Any] | None,
    known: list[Shadow] | None = None,
) -> None:
    try:
        repo.save(device_id, name, new, expected_version=read_version, also=also)
    except StaleShadow as exc:
        if known is not None and exc.current is not None:
            known.append(exc.current)
        raise _RaceLost() from exc


def list_named(
    device_id: str, limit: int, next_token: str | None
) -> tuple[list[tuple[str, Shadow]], str | None]:
    check_limit(limit)
    return repository().list_named(device_id, limit, next_token)


def history(
    device_id: str, name: str, limit: int, next_token: str | None
) -> tuple[list[HistoryEntry], str | None]:
    """A shadow's accepted reports, newest first (kept after the shadow is deleted, until they expire)."""
    check_limit(limit)
    return history_repository().page(device_id, name, limit, next_token)


def _check_limit(limit: int) -> None:
    check_limit(limit)


def _wake_attribute_poller(device: Device, name: str) -> None:
    if name == CLASSIC:
        wakeups.notify(device.queues.get("attributes"), "attributes")


def _touches_reported(request: ShadowUpdate) -> bool:
    return request.state is None or "reported" in request.state


def _history_entry(name: str, new: Shadow, request: ShadowUpdate, source: str, now: int) -> HistoryEntry:
    return HistoryEntry(
        shadow_name=name,
        version=new.version,
        timestamp=now,
        reported=None if request.state is None else request.state["reported"],
        source=source,
        expires_at=now + get_settings().shadow_history_retention_days * DAY_S,
        client_token=request.client_token,
    )
