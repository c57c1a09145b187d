"""Device events (ThingDatas ``POST /api/v1/thing-datas/events``): validation and the stored shape, no AWS.

The seed documents ``thingName``, ``eventType``, ``severity`` (``info``, ``warn`` or ``error``,
optional), ``timestamp`` (Unix milliseconds, required), ``data`` and ``appId`` (optional), and nothing
about limits; these rules fill that gap:

- ``eventType``: 1-128 letters, digits, ``_ . : -`` (it is a filter key, like a thing name).
- ``severity`` absent (or null) is ``info``.
- ``timestamp``: a JSON integer (not a boolean, a float or a string) from 2000-01-01T00:00:00Z up to a
  day ahead of the server's clock (devices' clocks drift; a timestamp far in the future or before 2000
  is a device without a set clock, which is better told than stored out of order).
- ``data``: a JSON object, ``{}`` when absent (or null); at most ``MAX_DATA_BYTES`` as compact JSON
  (413 above: it is a size, not a shape, problem).
- ``appId``: 1-128 characters without control characters.
- Any other field is a 400: a misspelt ``serverity`` would otherwise be dropped silently.

Events are append-only: each accepted request is a new event with its own ``eventId``; a retried
request is stored twice (Fleets documents no idempotency key for events).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from fleetgate.errors import InvalidRequest, PayloadTooLarge
from fleetgate.jsonutil import dumps, integer

EVENT_TYPE_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}\Z")
APP_ID_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{1,128}\Z")
SEVERITIES = ("info", "warn", "error")
DEFAULT_SEVERITY = "info"
MAX_DATA_BYTES = 65_536
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_CLOCK_AHEAD_MS = 86_400_000  # a device's clock may run up to a day ahead of ours
TIMESTAMP_DIGITS = 15  # the sort key's zero-padded width: good until the year 33658
FIELDS = frozenset({"thingName", "eventType", "severity", "timestamp", "data", "appId"})


@dataclass(frozen=True)
class EventInput:
    """A device's event, validated; nothing is stored until it is."""

    event_type: str
    severity: str
    timestamp: int  # epoch ms, as the device sent it
    data_json: str  # compact JSON of the data object
    app_id: str | None


@dataclass(frozen=True)
class Event:
    device_id: str
    event_id: str
    event_type: str
    severity: str
    timestamp: int  # epoch ms (device's clock)
    data_json: str  # stored as compact JSON text (a DynamoDB map would turn every number into a Decimal)
    app_id: str | None
    received_at: int  # epoch ms (server's clock)
    retain_until: int  # epoch seconds: TTL

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.data_json)
        return value

    @property
    def sort_key(self) -> str:
        return sort_key(self.timestamp, self.event_id)


def sort_key(timestamp: int, event_id: str) -> str:
    """``<timestamp, 15 digits>#<eventId>``: events sort by time, and two of the same millisecond both
    stay."""
    return f"{timestamp:0{TIMESTAMP_DIGITS}d}#{event_id}"


def parse_event(body: dict[str, Any], now_ms: int) -> EventInput:
    """Validate a request body (``thingName`` is the dialect's business)."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(unknown)}")
    event_type = body.get("eventType")
    if event_type is None:
        raise InvalidRequest("eventType is required")
    if not isinstance(event_type, str) or not EVENT_TYPE_PATTERN.match(event_type):
        raise InvalidRequest("eventType must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
    severity = body.get("severity")
    if severity is None:
        severity = DEFAULT_SEVERITY
    elif not isinstance(severity, str) or severity not in SEVERITIES:
        raise InvalidRequest("severity must be one of info, warn, error")
    timestamp = check_timestamp(body.get("timestamp"), now_ms)
    data = body.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise InvalidRequest("data must be a JSON object")
    data_json = dumps(data)
    if len(data_json.encode()) > MAX_DATA_BYTES:
        raise PayloadTooLarge(f"data exceeds the limit of {MAX_DATA_BYTES} bytes (compact JSON)")
    app_id = body.get("appId")
    if app_id is not None and (not isinstance(app_id, str) or not APP_ID_PATTERN.match(app_id)):
        raise InvalidRequest("appId must be a string of 1-128 characters without control characters")
    return EventInput(event_type, severity, timestamp, data_json, app_id)


def check_timestamp(value: Any, now_ms: int) -> int:
    if value is None:
        raise InvalidRequest("timestamp is required (Unix milliseconds)")
    timestamp = integer(value)
    if timestamp is None:
        raise InvalidRequest("timestamp must be an integer (Unix milliseconds)")
    if not MIN_TIMESTAMP_MS <= timestamp <= now_ms + MAX_CLOCK_AHEAD_MS:
        raise InvalidRequest(
            "timestamp must be Unix milliseconds from 2000-01-01 up to a day ahead of the server's clock"
        )
    return timestamp


def new_event(request: EventInput, *, device_id: str, now_ms: int, retention_days: int) -> Event:
    return Event(
        device_id=device_id,
        event_id=str(uuid.uuid4()),
        event_type=request.event_type,
        severity=request.severity,
        timestamp=request.timestamp,
        data_json=request.data_json,
        app_id=request.app_id,
        received_at=now_ms,
        retain_until=now_ms // 1000 + retention_days * 86_400,
    )


# --------------------------------------------------------------------------- operator queries
@dataclass(frozen=True)
class EventQuery:
    """An operator's listing: a time range (inclusive, epoch ms) and optional exact filters."""

    start_ts: int = 0
    end_ts: int = 10**TIMESTAMP_DIGITS - 1
    event_type: str | None = None
    severity: str | None = None
    newest_first: bool = True

    def key_range(self) -> tuple[str, str]:
        """Sort-key bounds covering every event from ``start_ts`` to ``end_ts`` inclusive: ``#`` sorts
        before every character of an id, ``$`` after ``#``."""
        return f"{self.start_ts:0{TIMESTAMP_DIGITS}d}#", f"{self.end_ts:0{TIMESTAMP_DIGITS}d}$"


def event_query(
    *,
    start_ts: str | None,
    end_ts: str | None,
    event_type: str | None,
    severity: str | None,
    order: str | None,
) -> EventQuery:
    """The query parameters of ``GET .../events``, validated (each problem a 400)."""
    limit_ts = 10**TIMESTAMP_DIGITS - 1
    start = _query_ms("startTs", start_ts, 0)
    end = _query_ms("endTs", end_ts, limit_ts)
    if start > end:
        raise InvalidRequest("startTs must not be after endTs")
    if event_type is not None and not EVENT_TYPE_PATTERN.match(event_type):
        raise InvalidRequest("eventType must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
    if severity is not None and severity not in SEVERITIES:
        raise InvalidRequest("severity must be one of info, warn, error")
    if order not in (None, "asc", "desc"):
        raise InvalidRequest("order must be asc or desc")
    return EventQuery(start, end, event_type, severity, newest_first=order != "asc")


def _query_ms(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > TIMESTAMP_DIGITS:
        raise InvalidRequest(
            f"{name} must be Unix milliseconds (a non-negative integer of at most 15 digits)"
        )
    return int(raw)
