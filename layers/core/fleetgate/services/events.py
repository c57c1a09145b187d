"""Device events: a device records one (ThingDatas ``POST /events``); the operator lists them.

An event is kept ``TELEMETRY_RETENTION_DAYS`` after it was received (not after its own timestamp, so
a device that uploads old events late does not see them purged at once).
"""

from __future__ import annotations

from typing import Any

from fleetgate.clock import now_ms
from fleetgate.data.events import EventRepository
from fleetgate.domain import events as rules
from fleetgate.domain.events import Event, EventQuery
from fleetgate.domain.paging import check_limit
from fleetgate.settings import get_settings


def _repository() -> EventRepository:
    return EventRepository(get_settings().require("events_table"))


def record(device_id: str, body: dict[str, Any]) -> Event:
    """Validate and store one event of ``device_id``; nothing is written for a bad one."""
    now = now_ms()
    request = rules.parse_event(body, now)
    event = rules.new_event(
        request, device_id=device_id, now_ms=now, retention_days=get_settings().event_retention_days
    )
    _repository().append(event)
    return event


def store(device_id: str, *, event_type: str, severity: str, timestamp: int, data_json: str) -> Event:
    """Store one event another dialect has validated (Xyte's ``POST .../events``)."""
    now = now_ms()
    request = rules.EventInput(event_type, severity, timestamp, data_json, None)
    event = rules.new_event(
        request, device_id=device_id, now_ms=now, retention_days=get_settings().event_retention_days
    )
    _repository().append(event)
    return event


def list_page(
    device_id: str, query: EventQuery, limit: int, next_token: str | None
) -> tuple[list[Event], str | None]:
    """One page of a device's events. With a type or severity filter a page may hold fewer than
    ``limit`` events (even none) while ``nextToken`` is present: keep reading until it is absent."""
    check_limit(limit)
    return _repository().list_page(device_id, query, limit, next_token)
