"""Shadow use cases over the shadow engine, safe under concurrent writers.

An update reads the document, applies the engine, and writes it back only if the version is unchanged;
when another writer got there first it starts again from the new document. Requests that name an
expected version get the engine's ``VersionConflict`` on the retry instead.

Every accepted update that touches the reported side is also kept as history, written in the same
DynamoDB transaction as the shadow, so a refused or retried attempt leaves no entry behind.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import replace
from typing import Any

from fleetgate.data import wakeups
from fleetgate.data.shadow_history import HistoryEntry, ShadowHistoryRepository
from fleetgate.data.shadows import ShadowRepository
from fleetgate.domain.devices import Device
from fleetgate.domain.shadow import CLASSIC, Json, Shadow, ShadowUpdate, apply_update, cleared, parse_update
from fleetgate.errors import InvalidRequest, NotFound, Retryable, VersionConflict
from fleetgate.settings import get_settings

MAX_ATTEMPTS = 12
MAX_PAGE = 100
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
    for attempt in range(MAX_ATTEMPTS):
        current_shadow = repo.get(device_id, name)
        now = int(time.time())
        new, accepted = apply_update(current_shadow, request, now, replace_top_level=replace_top_level)
        also = None
        if history is not None:
            also = history.put_request(device_id, _history_entry(name, new, request, source, now))
        try:
            repo.save(device_id, name, new, expected_version=current_shadow.version, also=also)
            return new, accepted
        except VersionConflict:
            time.sleep(random.uniform(0, 0.004 * 2 ** min(attempt, 6)))  # noqa: S311 - jitter, not crypto
    raise Retryable("The shadow is being changed by many writers; retry the request")


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
    for attempt in range(MAX_ATTEMPTS):
        shadow = get(device, name)
        now = int(time.time())
        gone = replace(cleared(shadow), timestamp=now)  # updatedAt: the time of the deletion
        try:
            repo.save(device.id, name, gone, expected_version=shadow.version)
        except VersionConflict:
            time.sleep(random.uniform(0, 0.004 * 2 ** min(attempt, 6)))  # noqa: S311 - jitter, not crypto
            continue
        _wake_attribute_poller(device, name)  # the shared attributes are gone
        return {"version": shadow.version, "timestamp": now}
    raise Retryable("The shadow is being changed by many writers; retry the request")


def list_named(
    device_id: str, limit: int, next_token: str | None
) -> tuple[list[tuple[str, Shadow]], str | None]:
    _check_limit(limit)
    return repository().list_named(device_id, limit, next_token)


def history(
    device_id: str, name: str, limit: int, next_token: str | None
) -> tuple[list[HistoryEntry], str | None]:
    """A shadow's accepted reports, newest first (kept after the shadow is deleted, until they expire)."""
    _check_limit(limit)
    return history_repository().page(device_id, name, limit, next_token)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")


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
        expires_at=now + get_settings().telemetry_retention_days * DAY_S,
        client_token=request.client_token,
    )
