"""Xyte config, in process against moto: Get Config and Set Config (``XyteConfigFunction``) for every
model API version whose shape differs, the operator's ``/manage/v1/xyte/devices/{id}/config`` (each
change a new version, published at once with its MQTT 5 properties), the sample agent's loop
(telemetry says a higher config_version → GET config → apply → POST config), and every class of bad
input answered with Xyte's ``{error, code}`` and nothing written."""

from __future__ import annotations

import json

import pytest

from fleetgate.services import xyte
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import Stack
from tests.integration.xyte_sync_steps import (  # noqa: F401 - fixtures
    _core_settings,
    call,
    items,
    ok,
    publishes,
    recorded,
    register,
    template,
)

CONFIG = {"input": "hdmi", "fan_speed": 100.1}


def operator_sets(stack: Stack, device_id: str, config: dict, name: str | None = None) -> dict:
    body: dict = {"config": config}
    if name is not None:
        body["name"] = name
    return ok(stack, "manage/xyte_set_config", device_id, body)["data"]


# --------------------------------------------------------------------------- shapes by API version
@pytest.mark.parametrize("api_version", ["1.0.0", "1.0.4"])
def test_before_1_0_5_get_config_is_flat(stack: Stack, api_version: str) -> None:
    # Given a device of an older model and an operator's config
    device = register(api_version)
    operator_sets(stack, device.id, CONFIG)

    # When the device reads it
    body = ok(stack, "xyte/config_get_config", device)

    # Then the fields sit beside version and last_updated, without device_id
    assert body.pop("last_updated").endswith("Z")
    assert body == {"input": "hdmi", "fan_speed": 100.1, "version": 1}


def test_from_1_0_5_get_config_is_scoped_and_from_1_0_7_names_the_device(stack: Stack) -> None:
    scoped, stamped = register("1.0.5"), register("1.0.7")
    for device in (scoped, stamped):
        operator_sets(stack, device.id, CONFIG, name="classroom")

    first = ok(stack, "xyte/config_get_config", scoped)
    second = ok(stack, "xyte/config_get_config", stamped)

    assert first.keys() == {"name", "version", "last_updated", "config"}
    assert (first["name"], first["version"], first["config"]) == ("classroom", 1, CONFIG)
    assert second.pop("device_id") == stamped.id
    assert second.keys() == first.keys()


def test_before_any_config_a_device_reads_version_0_and_no_fields(stack: Stack) -> None:
    device = register("1.0.7")
    assert ok(stack, "xyte/config_get_config", device) | {"last_updated": None} == {
        "name": "default",
        "version": 0,
        "last_updated": None,
        "config": {},
        "device_id": device.id,
    }


# --------------------------------------------------------------------------- the sample agent's loop
def test_the_agent_loop_get_apply_post_acknowledges_without_a_new_version(stack: Stack) -> None:
    # Given a config the operator set (version 1) and the device's record saying so
    device = register("1.0.7")
    operator_sets(stack, device.id, CONFIG)
    assert xyte.record(device.id).config_version == 1  # what its telemetry answer reads

    # When the device reads it, applies it and posts it back as it got it
    got = ok(stack, "xyte/config_get_config", device)
    answer = ok(stack, "xyte/config_set_config", device, got)

    # Then it is the device's acknowledgement: the same version, nothing new stored, applied recorded
    assert answer == {"version": 1, "device_id": device.id}
    assert xyte.record(device.id).config_version == 1
    view = ok(stack, "manage/xyte_get_config", device.id)["data"]
    assert (view["version"], view["appliedVersion"], view["source"]) == (1, 1, "operator")
    assert len(ok(stack, "manage/xyte_config_versions", device.id)["data"]) == 1


@pytest.mark.parametrize(
    ("api_version", "change"),
    [
        ("1.0.0", {"input": "vga", "version": 1}),
        ("1.0.4", {"input": "vga"}),
        ("1.0.5", {"version": 1, "config": {"input": "vga"}}),
        ("1.0.7", {"name": "mine", "config": {"input": "vga"}, "device_id": None}),
    ],
)
def test_a_device_change_becomes_the_next_version(stack: Stack, api_version: str, change: dict) -> None:
    device = register(api_version)
    operator_sets(stack, device.id, CONFIG)
    if change.get("device_id", 1) is None:
        change = {**change, "device_id": device.id}

    answer = ok(stack, "xyte/config_set_config", device, change)

    assert answer["version"] == 2
    view = ok(stack, "manage/xyte_get_config", device.id)["data"]
    assert view["config"] == {"input": "vga"} and view["source"] == "device"
    assert view["appliedVersion"] == 2
    assert ok(stack, "xyte/config_get_config", device)["version"] == 2


def test_a_config_older_than_the_servers_is_422_and_writes_nothing(stack: Stack) -> None:
    device = register("1.0.5")
    operator_sets(stack, device.id, CONFIG)
    operator_sets(stack, device.id, {"input": "dp"})
    before = items(stack)

    status, body = call(stack, "xyte/config_set_config", device, {"version": 1, "config": {"input": "vga"}})

    assert status == 422 and body["code"] == "Conflict" and "older" in body["error"]
    assert items(stack) == before


# --------------------------------------------------------------------------- the operator
def test_each_operator_change_is_a_new_version_published_at_once(stack: Stack) -> None:
    device = register("1.0.7")

    status, answer, sent = publishes(stack, "manage/xyte_set_config", device.id, {"config": CONFIG})
    again = operator_sets(stack, device.id, CONFIG)  # the same config: still a new version

    assert status == 200 and answer["data"]["version"] == 1 and answer["data"]["published"] is True
    assert again["version"] == 2
    [message] = sent
    assert message["topic"] == f"v1/device/{device.id}/config"
    assert message["responseTopic"] == f"v1/device/{device.id}/config/update"
    assert message["qos"] == 1 and message["messageExpiry"] == 86_400
    assert message["correlation"] == "1"
    assert message["json"] | {"last_updated": None} == {
        "name": "default",
        "version": 1,
        "last_updated": None,
        "config": CONFIG,
        "device_id": device.id,
    }
    assert (message["topic"], message["json"]) in recorded()
    versions = ok(stack, "manage/xyte_config_versions", device.id)["data"]
    assert [v["version"] for v in versions] == [2, 1]


def test_the_history_keeps_twenty_versions(stack: Stack) -> None:
    device = register("1.0.7")
    for i in range(22):
        operator_sets(stack, device.id, {"step": i})

    versions = ok(stack, "manage/xyte_config_versions", device.id)["data"]

    assert [v["version"] for v in versions] == list(range(22, 2, -1))
    assert ok(stack, "xyte/config_get_config", device)["config"] == {"step": 21}


def test_operator_routes_refuse_bad_bodies_and_unknown_devices(stack: Stack) -> None:
    device = register("1.0.7")
    before = items(stack)
    for body in (
        "not json",
        {"config": []},
        {"config": {}, "extra": 1},
        {"name": "x"},
        {"config": {}, "name": ""},
    ):
        status, answer = call(stack, "manage/xyte_set_config", device.id, body)
        assert status == 400, (body, answer)
    huge = {"config": {"blob": "x" * 70_000}}
    assert call(stack, "manage/xyte_set_config", device.id, huge)[0] == 413
    assert (
        call(stack, "manage/xyte_set_config", "0b1a2c3d-0000-4000-8000-000000000001", {"config": {}})[0]
        == 404
    )
    assert call(stack, "manage/xyte_get_config", "0b1a2c3d-0000-4000-8000-000000000001")[0] == 404
    assert items(stack) == before


# --------------------------------------------------------------------------- bad device input
@pytest.mark.parametrize(
    ("api_version", "body", "status"),
    [
        ("1.0.7", "not json", 400),
        ("1.0.7", "[1, 2]", 400),
        ("1.0.7", {"input": "vga"}, 400),  # flat from a scoped model
        ("1.0.7", {"config": [1]}, 400),
        ("1.0.7", {"config": {}, "extra": 1}, 400),
        ("1.0.7", {"config": {}, "version": "3"}, 400),
        ("1.0.7", {"config": {}, "version": -1}, 400),
        ("1.0.7", {"config": {}, "version": True}, 400),
        ("1.0.7", {"config": {}, "name": 5}, 400),
        ("1.0.7", {"config": {}, "device_id": "someone-else"}, 400),
        ("1.0.0", {"input": "vga", "version": 1.5}, 400),
        ("1.0.0", {"input": "vga", "last_updated": 5}, 400),
        ("1.0.7", {"config": {"blob": "x" * 70_000}}, 413),
    ],
)
def test_bad_device_configs_are_4xx_in_xytes_error_body_and_write_nothing(
    stack: Stack, api_version: str, body: object, status: int
) -> None:
    device = register(api_version)
    before = items(stack)

    got, answer = call(stack, "xyte/config_set_config", device, body)

    assert got == status and set(answer) == {"error", "code"}
    assert items(stack) == before


def test_hub_credentials_unknown_key_401_foreign_key_403(stack: Stack) -> None:
    a, b = register("1.0.7"), register("1.0.7")
    before = items(stack)
    for name, body in (("xyte/config_get_config", None), ("xyte/config_set_config", {"config": {"x": 1}})):
        assert call(stack, name, a, body, key="not-a-key")[0] == 401
        assert call(stack, name, a, body, key=b.key)[0] == 403
        assert call(stack, name, a, body, key="")[0] == 401
    assert items(stack) == before


def test_aws_calls_per_request(stack: Stack) -> None:
    """The figures in docs/xyte-sync.md."""
    device = register("1.0.7")
    operator_sets(stack, device.id, CONFIG)
    got = ok(stack, "xyte/config_get_config", device)
    counts = {}
    for label, name, body in (
        ("get", "xyte/config_get_config", None),
        ("ack", "xyte/config_set_config", got),
        ("change", "xyte/config_set_config", {"config": {"input": "vga"}}),
    ):
        with recorded_aws_calls() as calls:
            ok(stack, name, device, body)
        counts[label] = [c.operation for c in calls]
    with recorded_aws_calls() as calls:
        operator_sets(stack, device.id, CONFIG)
    counts["operator"] = [c.operation for c in calls]
    print(json.dumps(counts))
    assert counts["get"] == ["GetItem", "GetItem", "GetItem"]
    assert len(counts["ack"]) == 5 and "TransactWriteItems" not in counts["ack"]
    assert counts["change"].count("TransactWriteItems") == 1
    assert counts["operator"].count("Publish") == 1


def test_two_writes_from_the_same_version_cannot_both_win(stack: Stack) -> None:
    from dataclasses import replace  # noqa: PLC0415

    from fleetgate.domain.xyte_sync import ConfigVersion  # noqa: PLC0415
    from fleetgate.errors import Conflict  # noqa: PLC0415
    from fleetgate.services import xyte_push  # noqa: PLC0415

    device = register("1.0.7")
    repo = xyte_push.repository()
    first = ConfigVersion(device.id, 1, "default", {"a": 1}, 1, "device")
    repo.write_config(0, first)
    before = items(stack)

    with pytest.raises(Conflict):
        repo.write_config(0, replace(first, config={"a": 2}))

    assert items(stack) == before
    assert ok(stack, "xyte/config_get_config", device)["config"] == {"a": 1}
