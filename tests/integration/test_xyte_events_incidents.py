"""Xyte events (stored in the one events store, listed by the operator's events route) and incidents
(opened, listed, closed by the device or the operator; refused while the device suspends them)."""

from __future__ import annotations

from typing import Any

import pytest

from fleetgate_local.inprocess import load_event
from tests.integration.conftest import DEVICE_PLACEHOLDER, EVENTS, Stack
from tests.integration.xyte_steps import (
    XDevice,
    create_model,
    decoded,
    hub,
    operator,
    registered,
    snapshot,
    with_query,
)

SEED_INCIDENT = "0193a5b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def device(stack: Stack) -> XDevice:
    return registered(stack, create_model(stack, "1.0.7")[1])


# --------------------------------------------------------------------------- events
def test_the_seed_event_is_listed_by_the_operator_as_a_device_event(stack: Stack, device: XDevice) -> None:
    status, answer = hub(stack, "events", "events_post", device)

    assert status == 201 and answer["success"] is True and answer["device_id"] == device.id
    code, listed = operator(
        stack, "ManageEventsFunction", "list_device_events", **{DEVICE_PLACEHOLDER: device.id}
    )
    assert code == 200
    [event] = listed["data"]
    assert event["eventId"] == answer["id"] and event["eventType"] == "lamp_hours"
    assert event["severity"] == "warn"  # category "warning"
    assert event["data"] == {"category": "warning", "int_key_1": 20000, "string_key_1": "lamp 1"}


BAD_EVENTS: list[tuple[str, Any]] = [
    ("no name", {"category": "info"}),
    ("a name with a space", {"name": "lamp hours"}),
    ("an int key that is a string", {"name": "a", "int_key_1": "7"}),
    ("a string key that is a number", {"name": "a", "string_key_2": 7}),
    ("a bad timestamp", {"name": "a", "timestamp": "soon"}),
    ("an array", [1]),
]


@pytest.mark.parametrize(("case", "body"), BAD_EVENTS, ids=[c for c, _ in BAD_EVENTS])
def test_bad_events_are_400_and_write_nothing(stack: Stack, device: XDevice, case: str, body: Any) -> None:
    before = snapshot(stack)
    status, answer = hub(stack, "events", "events_post", device, body)
    assert status == 400 and answer["code"] == "InvalidRequest"
    assert snapshot(stack) == before


# --------------------------------------------------------------------------- incidents
def test_a_device_opens_lists_and_closes_its_incidents(stack: Stack, device: XDevice) -> None:
    status, opened = hub(stack, "incidents", "incidents_post", device)
    second = hub(stack, "incidents", "incidents_post", device, {"title": "Fan noise"})[1]

    assert status == 201 and opened["status"] == "open" and opened["title"] == "Lamp failure"
    assert [i["id"] for i in hub(stack, "incidents", "incidents_get", device)[1]] == [
        opened["id"],
        second["id"],
    ]

    code, closed = hub(stack, "incidents", "incidents_delete_one", device, **{SEED_INCIDENT: opened["id"]})
    assert code == 200 and closed["status"] == "closed" and closed["closed_at"]
    again = hub(stack, "incidents", "incidents_delete_one", device, **{SEED_INCIDENT: opened["id"]})
    assert again == (200, closed)  # closing again changes nothing
    assert [i["id"] for i in hub(stack, "incidents", "incidents_get", device)[1]] == [second["id"]]

    code, all_closed = hub(stack, "incidents", "incidents_delete_all", device)
    assert code == 200 and [i["id"] for i in all_closed] == [second["id"]]
    assert hub(stack, "incidents", "incidents_get", device) == (200, [])


def test_incidents_are_refused_while_the_device_suspends_them(stack: Stack, device: XDevice) -> None:
    hub(stack, "device", "device_put_cloud_settings", device)  # the seed: suspend_creation true
    before = snapshot(stack)

    status, answer = hub(stack, "incidents", "incidents_post", device)

    assert status == 422 and answer["code"] == "IncidentsSuspended"
    assert snapshot(stack) == before
    hub(
        stack,
        "device",
        "device_put_cloud_settings",
        device,
        {"property": "incidents.suspend_creation", "value": False},
    )
    assert hub(stack, "incidents", "incidents_post", device)[0] == 201


BAD_INCIDENTS: list[tuple[str, Any]] = [
    ("no title", {"issue": "lamp"}),
    ("an empty title", {"title": ""}),
    ("a boolean priority", {"title": "t", "priority": True}),
    ("a description that is not a string", {"title": "t", "description": 1}),
]


@pytest.mark.parametrize(("case", "body"), BAD_INCIDENTS, ids=[c for c, _ in BAD_INCIDENTS])
def test_bad_incidents_are_400_and_write_nothing(stack: Stack, device: XDevice, case: str, body: Any) -> None:
    before = snapshot(stack)
    status, answer = hub(stack, "incidents", "incidents_post", device, body)
    assert status == 400 and answer["code"] == "InvalidRequest"
    assert snapshot(stack) == before


def test_closing_an_unknown_or_malformed_incident_is_refused(stack: Stack, device: XDevice) -> None:
    assert (
        hub(stack, "incidents", "incidents_delete_one", device)[0] == 404
    )  # the seed's id: no such incident
    status, answer = hub(stack, "incidents", "incidents_delete_one", device, **{SEED_INCIDENT: "not-an-id"})
    assert status == 400 and answer["code"] == "InvalidRequest"


def test_the_operator_lists_and_closes_a_devices_incidents(stack: Stack, device: XDevice) -> None:
    opened = hub(stack, "incidents", "incidents_post", device)[1]
    ids = {DEVICE_PLACEHOLDER: device.id}

    status, listed = operator(stack, "ManageXyteDevicesFunction", "list_xyte_incidents", **ids)
    assert status == 200 and [i["id"] for i in listed["data"]] == [opened["id"]] and listed["count"] == 1

    code, closed = operator(
        stack, "ManageXyteDevicesFunction", "close_xyte_incident", **ids, **{SEED_INCIDENT: opened["id"]}
    )
    assert code == 200 and closed["data"]["status"] == "closed"
    ev = with_query(load_event(EVENTS / "manage" / "list_xyte_incidents.json", **ids), {"status": "closed"})
    status, closed_list = decoded(stack.invoke("ManageXyteDevicesFunction", ev))
    assert status == 200 and [i["id"] for i in closed_list["data"]] == [opened["id"]]
    ev = with_query(load_event(EVENTS / "manage" / "list_xyte_incidents.json", **ids), {"status": "gone"})
    assert decoded(stack.invoke("ManageXyteDevicesFunction", ev))[0] == 400
