"""Xyte device info, Update Device (its rate limit and API-version strictness), deletion, cloud
settings and space info on the hub, through the template's functions; credentials of another device
are 403, unknown ones 401, and refused calls write nothing."""

from __future__ import annotations

from typing import Any

import pytest

from fleetgate import clock
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import Stack
from tests.integration.xyte_steps import XDevice, create_model, hub, registered, registry_items, snapshot


@pytest.fixture
def model_key(stack: Stack) -> str:
    return create_model(stack, "1.0.7")[1]


@pytest.fixture
def device(stack: Stack, model_key: str) -> XDevice:
    return registered(stack, model_key)


def _record(stack: Stack, device: XDevice) -> dict[str, Any]:
    return next(
        i for i in registry_items(stack) if i["pk"]["S"] == f"DEVICE#{device.id}" and i["sk"]["S"] == "XYTE"
    )


HUB_ROUTES = [
    ("device", "device_get"),
    ("device", "device_put"),
    ("device", "device_get_children"),
    ("device", "device_get_space"),
    ("device", "device_put_cloud_settings"),
    ("delete", "delete_device"),
    ("telemetry", "telemetry_post"),
    ("telemetry", "telemetry_post_children"),
    ("events", "events_post"),
    ("incidents", "incidents_get"),
    ("incidents", "incidents_post"),
    ("incidents", "incidents_delete_all"),
    ("incidents", "incidents_delete_one"),
]


@pytest.mark.parametrize(("function", "name"), HUB_ROUTES)
def test_every_hub_route_refuses_another_devices_key_and_an_unknown_one(
    stack: Stack, device: XDevice, model_key: str, function: str, name: str
) -> None:
    # Given two devices of one model
    other = registered(stack, model_key, cloud_id="b", mac=None)
    before = snapshot(stack)

    # When each route is called on the first device with the second's key, an unknown key and none
    foreign = hub(stack, function, name, device, token=other.key)
    unknown = hub(stack, function, name, device, token="not-a-key")
    empty = hub(stack, function, name, device, token="")

    # Then: 403 for the other device's key, 401 otherwise, in the dialect's body; nothing written
    assert foreign == (403, {"error": "This access key belongs to another device", "code": "Forbidden"})
    assert unknown[0] == empty[0] == 401 and unknown[1]["code"] == "Unauthorized"
    assert snapshot(stack) == before


# --------------------------------------------------------------------------- device info
def test_device_info_shows_what_registration_and_telemetry_said(stack: Stack, device: XDevice) -> None:
    hub(stack, "telemetry", "telemetry_post", device, {"status": "error", "message": "lamp"})

    status, info = hub(stack, "device", "device_get", device)

    assert status == 200 and info["id"] == info["device_id"] == device.id
    assert info["partner"] | {"model_id": None} == {
        "mac": "11:22:33:44:55:66",
        "sn": "112",
        "cloud_id": "A1_TEST_CLOUD_ID",
        "model": "Projector X1",
        "model_id": None,
        "vendor": None,
        "sub_model": None,
    }
    assert info["state"] == {"status": "error", "message": "lamp", "firmware_version": "1.0.1"}
    assert info["last_seen"].endswith("Z") and info["api_version"] == "1.0.7"
    assert (info["config_version"], info["info_version"], info["space_version"]) == (0, 0, 0)


# --------------------------------------------------------------------------- Update Device
def test_update_device_changes_the_record_and_counts_info_version(stack: Stack, device: XDevice) -> None:
    status, answer = hub(stack, "device", "device_put", device)  # the seed: firmware 1.0.2, a name

    assert (status, answer) == (200, {"success": True, "info_version": 1, "device_id": device.id})
    info = hub(stack, "device", "device_get", device)[1]
    assert info["state"]["firmware_version"] == "1.0.2" and info["name"] == "lobby display"
    # a call that changes nothing is recorded but does not count as a change
    assert hub(stack, "device", "device_put", device)[1]["info_version"] == 1
    applied = hub(stack, "device", "device_put", device, {"config_version": 3, "space_version": 2})
    assert applied[1]["info_version"] == 1
    assert hub(stack, "device", "device_get", device)[1]["applied"] == {
        "config_version": 3,
        "space_version": 2,
    }


def test_update_device_allows_ten_calls_in_a_rolling_hour(
    stack: Stack, device: XDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ten calls in the same hour
    start = clock.now_ms()
    monkeypatch.setattr(clock, "now_ms", lambda: start)
    for i in range(10):
        assert hub(stack, "device", "device_put", device, {"name": f"n{i}"})[0] == 200
    before = snapshot(stack)

    # When an eleventh comes 59 minutes later
    monkeypatch.setattr(clock, "now_ms", lambda: start + 59 * 60_000)
    status, answer = hub(stack, "device", "device_put", device, {"name": "late"})

    # Then it is 429 and writes nothing, and once the first calls are an hour old one is accepted
    assert status == 429 and answer["code"] == "TooManyRequests" and "retry in 61 s" in answer["error"]
    assert snapshot(stack) == before
    monkeypatch.setattr(clock, "now_ms", lambda: start + 3_600_001)
    assert hub(stack, "device", "device_put", device, {"name": "late"})[0] == 200


def test_unknown_keys_are_400_from_api_1_0_6_and_ignored_before(stack: Stack) -> None:
    _, strict_key = create_model(stack, "1.0.6", name="strict")
    _, lenient_key = create_model(stack, "1.0.5", name="lenient")
    strict = registered(stack, strict_key, cloud_id="s", mac=None)
    lenient = registered(stack, lenient_key, cloud_id="l", mac=None)
    before = _record(stack, strict)

    refused = hub(stack, "device", "device_put", strict, {"name": "x", "colour": "red"})
    accepted = hub(stack, "device", "device_put", lenient, {"name": "x", "colour": "red"})

    assert refused[0] == 400 and "colour" in refused[1]["error"]
    assert _record(stack, strict) == before  # not even counted against the rate limit
    assert accepted == (200, {"success": True, "info_version": 1})


BAD_UPDATES: list[tuple[str, Any]] = [
    ("not JSON", "{name:"),
    ("an array", "[1]"),
    ("firmware not SemVer", {"firmware_version": "v2"}),
    ("a number as name", {"name": 5}),
    ("details not an object", {"details": "x"}),
    ("a negative config version", {"config_version": -1}),
    ("a boolean space version", {"space_version": True}),
    ("itself as parent", "self"),
    ("an unknown parent", {"parent_id": "8f14e45f-ceea-467f-a0e6-000000000000"}),
]


@pytest.mark.parametrize(("case", "body"), BAD_UPDATES, ids=[c for c, _ in BAD_UPDATES])
def test_bad_updates_are_400_and_write_nothing(stack: Stack, device: XDevice, case: str, body: Any) -> None:
    before = snapshot(stack)
    status, answer = hub(
        stack, "device", "device_put", device, {"parent_id": device.id} if body == "self" else body
    )
    assert status == 400 and answer["code"] == "InvalidRequest", answer
    assert snapshot(stack) == before


def test_a_new_parent_moves_the_child(stack: Stack, device: XDevice) -> None:
    _, key = create_model(stack, name="Hub")
    first = registered(stack, key, cloud_id="p1", mac=None)
    second = registered(stack, key, cloud_id="p2", mac=None)
    assert hub(stack, "device", "device_put", device, {"parent_id": first.id})[0] == 200

    assert hub(stack, "device", "device_put", device, {"parent_id": second.id})[0] == 200

    assert hub(stack, "device", "device_get_children", first) == (200, [])
    assert [c["id"] for c in hub(stack, "device", "device_get_children", second)[1]] == [device.id]


# --------------------------------------------------------------------------- delete
def test_a_device_deletes_itself_and_may_register_again(
    stack: Stack, device: XDevice, model_key: str
) -> None:
    status, answer = hub(stack, "delete", "delete_device", device)

    assert (status, answer) == (200, {"success": True, "device_id": device.id})
    assert hub(stack, "device", "device_get", device)[0] == 401
    assert not any(i["pk"]["S"] == f"DEVICE#{device.id}" for i in registry_items(stack))
    assert registered(stack, model_key).id != device.id  # the same cloud id, MAC and sn again


# --------------------------------------------------------------------------- cloud settings
def test_cloud_settings_take_the_known_property_only(stack: Stack, device: XDevice) -> None:
    status, answer = hub(stack, "device", "device_put_cloud_settings", device)  # the seed: suspend, true

    assert (status, answer) == (
        200,
        {"settings": {"incidents.suspend_creation": True}, "success": True, "device_id": device.id},
    )
    before = snapshot(stack)
    for body in (
        {"property": "lights.on", "value": True},
        {"property": "incidents.suspend_creation", "value": 1},
    ):
        code, error = hub(stack, "device", "device_put_cloud_settings", device, body)
        assert code == 400 and error["code"] == "InvalidRequest"
    assert snapshot(stack) == before


# --------------------------------------------------------------------------- space
def test_space_info_has_defaults_until_the_operator_sets_it(stack: Stack, device: XDevice) -> None:
    status, space = hub(stack, "device", "device_get_space", device)

    assert status == 200
    assert space["location"] == {"coordinates": {"lat": None, "lng": None}, "utc_offset": 0, "name": None}
    assert (space["temperature_units"], space["maintenance"], space["name"]) == ("celsius", False, None)
    assert space["local_time"].endswith("+00:00") and space["device_id"] == device.id


def test_device_info_costs_two_reads_after_authentication(stack: Stack, device: XDevice) -> None:
    with recorded_aws_calls() as calls:
        assert hub(stack, "device", "device_get", device)[0] == 200
    # the token and the record (authentication), then the state and the model
    assert [c.operation for c in calls] == ["GetItem"] * 4
