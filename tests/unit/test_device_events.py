"""ThingDatas device events (``fleetgate.domain.events``): validation, the sort key and the inclusive
time range of the operator's query."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetgate.domain.events import (
    MIN_TIMESTAMP_MS,
    EventQuery,
    event_query,
    new_event,
    parse_event,
    sort_key,
)
from fleetgate.errors import InvalidRequest, PayloadTooLarge

NOW = 1_795_341_600_000
SEED = {
    "thingName": "thermostat-001",
    "eventType": "highTemperature",
    "severity": "warn",
    "timestamp": 1748390400000,
    "data": {"currentTemp": 45.2},
}


def test_the_seeds_event_is_valid() -> None:
    request = parse_event(SEED, NOW)

    assert (request.event_type, request.severity, request.timestamp, request.app_id) == (
        "highTemperature",
        "warn",
        1748390400000,
        None,
    )
    assert request.data_json == '{"currentTemp":45.2}'


def test_new_event_is_kept_retention_days_after_receipt() -> None:
    event = new_event(parse_event(SEED, NOW), device_id="d", now_ms=NOW, retention_days=7)

    assert event.received_at == NOW
    assert event.retain_until == NOW // 1000 + 7 * 86_400
    assert event.sort_key == f"001748390400000#{event.event_id}"
    assert event.data == {"currentTemp": 45.2}


@pytest.mark.parametrize("timestamp", [MIN_TIMESTAMP_MS, NOW + 86_400_000])
def test_timestamp_bounds_are_inclusive(timestamp: int) -> None:
    assert parse_event(SEED | {"timestamp": timestamp}, NOW).timestamp == timestamp


def test_a_timestamp_written_with_a_zero_fraction_is_that_integer() -> None:
    timestamp = parse_event(SEED | {"timestamp": float(NOW)}, NOW).timestamp

    assert (timestamp, type(timestamp)) == (NOW, int)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"timestamp": MIN_TIMESTAMP_MS - 1}, InvalidRequest),
        ({"timestamp": NOW + 86_400_001}, InvalidRequest),
        ({"timestamp": None}, InvalidRequest),
        ({"timestamp": NOW + 0.5}, InvalidRequest),
        ({"severity": ["warn"]}, InvalidRequest),
        ({"severity": {"level": "warn"}}, InvalidRequest),
        ({"eventType": "a/b"}, InvalidRequest),
        ({"data": {"x": "y" * 65_536}}, PayloadTooLarge),
    ],
)
def test_bad_events(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_event(SEED | changes, NOW)


def test_null_optional_fields_take_their_defaults() -> None:
    request = parse_event(SEED | {"severity": None, "data": None, "appId": None}, NOW)

    assert (request.severity, request.data_json, request.app_id) == ("info", "{}", None)


@given(
    start=st.integers(0, 10**15 - 1),
    length=st.integers(0, 10**6),
    ts=st.integers(0, 10**15 - 1),
    event_id=st.uuids(version=4),
)
def test_the_key_range_holds_exactly_the_events_of_the_inclusive_time_range(
    start: int, length: int, ts: int, event_id: uuid.UUID
) -> None:
    end = min(start + length, 10**15 - 1)
    low, high = EventQuery(start_ts=start, end_ts=end).key_range()

    inside = low <= sort_key(ts, str(event_id)) <= high

    assert inside == (start <= ts <= end)


def test_query_defaults_cover_every_event_newest_first() -> None:
    query = event_query(start_ts=None, end_ts=None, event_type=None, severity=None, order=None)

    assert (query.start_ts, query.end_ts, query.newest_first) == (0, 10**15 - 1, True)
    assert not event_query(start_ts="", end_ts="", event_type=None, severity=None, order="asc").newest_first


@pytest.mark.parametrize(
    "params",
    [
        {"start_ts": "-5"},
        {"start_ts": "+5"},
        {"start_ts": "1.5"},
        {"start_ts": "٣"},  # a non-ASCII digit
        {"end_ts": "1" * 16},
        {"start_ts": "10", "end_ts": "9"},
        {"event_type": ""},
        {"severity": "INFO"},
        {"order": "ASC"},
    ],
)
def test_bad_query_parameters(params: dict[str, str]) -> None:
    args: dict[str, Any] = {
        "start_ts": None,
        "end_ts": None,
        "event_type": None,
        "severity": None,
        "order": None,
    }
    with pytest.raises(InvalidRequest):
        event_query(**(args | params))
