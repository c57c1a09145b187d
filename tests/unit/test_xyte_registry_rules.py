"""The pure rules of Xyte registration, Update Device, telemetry, space, events and incidents
(``fleetgate.domain.xyte_registry``)."""

from __future__ import annotations

import pytest

from fleetgate.domain.xyte import Identity, XyteDevice
from fleetgate.domain.xyte_registry import (
    UPDATE_LIMIT,
    UPDATE_WINDOW_MS,
    admit_update,
    local_time,
    new_incident_id,
    parse_event,
    parse_iso_ms,
    parse_telemetry,
    parse_update,
)
from fleetgate.errors import InvalidRequest, TooManyRequests

NOW = 1_795_341_600_000  # 2026-11-22T10:00:00Z


def record(api_version: str = "1.0.7") -> XyteDevice:
    return XyteDevice("d1", "m1", api_version, Identity("c", None, "1"), "1.0.0")


def test_the_window_admits_ten_calls_and_forgets_those_an_hour_old() -> None:
    calls = tuple(NOW - UPDATE_WINDOW_MS + 1 + i for i in range(UPDATE_LIMIT))
    with pytest.raises(TooManyRequests, match="retry in 1 s"):
        admit_update(calls, NOW)
    # one millisecond later the oldest call is exactly an hour old: out of the window
    assert admit_update(calls, NOW + 1) == (*calls[1:], NOW + 1)


def test_an_update_takes_the_2022_spelling_only_where_asked_and_refuses_two_that_differ() -> None:
    assert parse_update({"firmwareVersion": "1.2.3"}, record(), aliases=True).record == {
        "firmware_version": "1.2.3"
    }
    with pytest.raises(InvalidRequest, match="Unknown parameter"):
        parse_update({"firmwareVersion": "1.2.3"}, record())
    with pytest.raises(InvalidRequest, match="differ"):
        parse_update({"firmwareVersion": "1.2.3", "firmware_version": "1.2.4"}, record(), aliases=True)


def test_applied_versions_are_kept_apart_from_the_records_fields() -> None:
    update = parse_update({"config_version": 4, "name": "n"}, record())
    assert update.record == {"name": "n"} and update.applied == {"config_version": 4}
    assert update.changes(record().with_changes(name="n")) == {}


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-11-22T10:00:00Z", NOW),
        ("2026-11-22T11:00:00+01:00", NOW),
        ("2026-11-22T10:00:00", NOW),  # no zone: UTC
        ("2026-11-22T10:00:00.250Z", NOW + 250),
    ],
)
def test_iso_times_in_any_zone(text: str, ms: int) -> None:
    assert parse_iso_ms(text, NOW) == ms


def test_a_time_more_than_a_day_ahead_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="a day ahead"):
        parse_iso_ms("2026-11-23T10:00:01Z", NOW)


def test_telemetry_splits_values_from_removals() -> None:
    report = parse_telemetry({"telemetries": {"a": 1, "b": None, "c": False}}, NOW)
    assert report.values == {"a": 1, "c": False} and report.removed == ("b",) and report.ts == NOW
    assert parse_telemetry({}, NOW, received_ms=NOW - 5).ts == NOW - 5


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (60, "2026-11-22T11:00:00+01:00"),
        (-330, "2026-11-22T04:30:00-05:30"),
        (0, "2026-11-22T10:00:00+00:00"),
    ],
)
def test_local_time_is_now_at_the_offset(offset: int, expected: str) -> None:
    assert local_time(NOW, offset) == expected


def test_incident_ids_sort_in_creation_order() -> None:
    ids = [new_incident_id(NOW + step) for step in (0, 1, 1000, 86_400_000)]
    assert ids == sorted(ids) and len(set(ids)) == 4 and all(len(i) == 36 for i in ids)


@pytest.mark.parametrize(
    ("category", "severity"), [("warning", "warn"), ("ERROR", "error"), ("lamp", "info"), (None, "info")]
)
def test_an_events_category_names_its_severity_when_it_can(category: str | None, severity: str) -> None:
    body = {"name": "lamp_hours"} | ({} if category is None else {"category": category})
    assert parse_event(body, NOW).severity == severity
