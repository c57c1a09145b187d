"""Xyte telemetry over HTTPS (``XyteTelemetryFunction``): the one telemetry store (history and latest
values), removal by null and by override, the status as reported shadow state (written only when it
changes), the answer's versions and firmware hint, mass telemetry of children, and bad input."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import DEVICE_PLACEHOLDER, Stack
from tests.integration.xyte_steps import (
    MODEL_PLACEHOLDER,
    XDevice,
    create_model,
    hub,
    hub_event,
    operator,
    registered,
    snapshot,
)


@pytest.fixture
def model(stack: Stack) -> tuple[str, str]:
    return create_model(stack, "1.0.7")


@pytest.fixture
def device(stack: Stack, model: tuple[str, str]) -> XDevice:
    return registered(stack, model[1])


def latest(stack: Stack, device: XDevice) -> dict[str, Any]:
    status, body = operator(
        stack, "ManageDevicesFunction", "get_latest_telemetry", **{DEVICE_PLACEHOLDER: device.id}
    )
    assert status == 200
    return {k: v["value"] for k, v in body["data"].items()}


def reported(stack: Stack, device: XDevice) -> dict[str, Any]:
    status, body = operator(stack, "ManageShadowsFunction", "get_shadow", **{DEVICE_PLACEHOLDER: device.id})
    assert status == 200, body
    return dict(body["data"]["state"]["reported"])


def test_the_seed_telemetry_is_stored_and_answered(stack: Stack, device: XDevice) -> None:
    status, answer = hub(stack, "telemetry", "telemetry_post", device)

    assert status == 200
    assert answer == {
        "config_version": 0,
        "command": False,
        "new_licenses": False,
        "info_version": 0,
        "latest_fw_version": None,
        "latest_fw_file_id": None,
        "space_data_version": 0,
        "success": True,
        "device_id": device.id,
    }
    assert latest(stack, device) == {"fan_speed": 100.1, "input": "hdmi1"}
    assert reported(stack, device) == {"status": "online"}  # message null: absent


def test_null_removes_a_key_and_override_replaces_the_state(stack: Stack, device: XDevice) -> None:
    hub(stack, "telemetry", "telemetry_post", device, {"telemetries": {"a": 1, "b": 2, "c": 3}})

    hub(stack, "telemetry", "telemetry_post", device, {"telemetries": {"a": None, "d": 4}})
    assert latest(stack, device) == {"b": 2, "c": 3, "d": 4}

    hub(stack, "telemetry", "telemetry_post", device, {"override": True, "telemetries": {"c": 30}})
    assert latest(stack, device) == {"c": 30}

    hub(stack, "telemetry", "telemetry_post", device, {"override": True})
    assert latest(stack, device) == {}


def test_a_late_removal_keeps_a_newer_value(stack: Stack, device: XDevice) -> None:
    hub(
        stack,
        "telemetry",
        "telemetry_post",
        device,
        {"timestamp": "2026-01-02T00:00:00Z", "telemetries": {"a": 2}},
    )

    hub(
        stack,
        "telemetry",
        "telemetry_post",
        device,
        {"timestamp": "2026-01-01T00:00:00Z", "telemetries": {"a": None}},
    )
    hub(stack, "telemetry", "telemetry_post", device, {"timestamp": "2026-01-01T00:00:00Z", "override": True})

    assert latest(stack, device) == {"a": 2}


def test_the_status_reaches_the_shadow_only_when_it_changes(stack: Stack, device: XDevice) -> None:
    # Given a first report
    hub(stack, "telemetry", "telemetry_post", device, {"status": "online"})

    # When the same status comes again, then a new one with a message
    with recorded_aws_calls() as same:
        hub(stack, "telemetry", "telemetry_post", device, {"status": "online"})
    with recorded_aws_calls() as changed:
        hub(stack, "telemetry", "telemetry_post", device, {"status": "error", "message": "lamp"})

    # Then only the change touched the shadow
    assert not any(c.params.get("TableName", "").startswith("Shadow") for c in same)
    assert "TransactWriteItems" not in [c.operation for c in same]
    assert "TransactWriteItems" in [c.operation for c in changed]
    assert reported(stack, device) == {"status": "error", "message": "lamp"}


def test_the_answer_names_the_models_newer_firmware_only(stack: Stack, model: tuple[str, str]) -> None:
    model_id, key = model
    old = registered(stack, key)  # firmware 1.0.1
    current = registered(stack, key, cloud_id="c2", mac=None, firmware_version="1.0.5")
    status, _ = operator(
        stack, "ManageXyteModelsFunction", "update_xyte_model", **{MODEL_PLACEHOLDER: model_id}
    )
    assert status == 200  # the seed: latest 1.0.5, file 9266cb1b-...

    old_answer = hub(stack, "telemetry", "telemetry_post", old)[1]
    current_answer = hub(stack, "telemetry", "telemetry_post", current)[1]

    assert old_answer["latest_fw_version"] == "1.0.5"
    assert old_answer["latest_fw_file_id"] == "9266cb1b-6f4b-4bb4-9f3a-2d1c0b9a8e7f"
    assert current_answer["latest_fw_version"] is None and current_answer["latest_fw_file_id"] is None


def test_an_empty_telemetry_answers_the_versions_and_records_last_seen(stack: Stack, device: XDevice) -> None:
    assert hub(stack, "telemetry", "telemetry_post", device, {})[1]["success"] is True
    assert hub(stack, "device", "device_get", device)[1]["last_seen"] is not None
    assert latest(stack, device) == {}


BAD_TELEMETRY: list[tuple[str, Any, int]] = [
    ("not JSON", "{status:", 400),
    ("an array", "[]", 400),
    ("an unknown status", {"status": "busy"}, 400),
    ("a timestamp that is not ISO-8601", {"timestamp": "yesterday"}, 400),
    ("a numeric timestamp", {"timestamp": 1795341600}, 400),
    ("a timestamp before 2000", {"timestamp": "1999-12-31T23:59:59Z"}, 400),
    ("telemetries not an object", {"telemetries": [1]}, 400),
    ("an empty key", {"telemetries": {"": 1}}, 400),
    ("override not a boolean", {"override": "yes"}, 400),
    ("a message that is not a string", {"message": 5}, 400),
    ("telemetries of 128 KB", {"telemetries": {"blob": "x" * 131_072}}, 413),
]


@pytest.mark.parametrize(("case", "body", "expected"), BAD_TELEMETRY, ids=[c for c, _, _ in BAD_TELEMETRY])
def test_bad_telemetry_is_refused_and_writes_nothing(
    stack: Stack, device: XDevice, case: str, body: Any, expected: int
) -> None:
    before = snapshot(stack)
    status, answer = hub(stack, "telemetry", "telemetry_post", device, body)
    assert status == expected and set(answer) == {"error", "code"}, answer
    assert snapshot(stack) == before


def test_telemetry_costs_measured_aws_calls(stack: Stack, device: XDevice) -> None:
    hub(stack, "telemetry", "telemetry_post", device)  # the status is known from now on
    with recorded_aws_calls() as calls:
        assert hub(stack, "telemetry", "telemetry_post", device)[0] == 200
    # token + record (authentication), history batch, latest values, lastSeen, the model
    assert Counter(c.operation for c in calls) == {"GetItem": 3, "BatchWriteItem": 1, "UpdateItem": 2}


# --------------------------------------------------------------------------- children
def _child(stack: Stack, parent: XDevice, sn: str) -> XDevice:
    child_model = create_model(stack, "1.0.7", name=f"Speaker {sn}")[0]
    status, answer = hub(
        stack,
        "register",
        "register_post_child",
        parent,
        {"sn": sn, "model_id": child_model, "firmware_version": "1.0.0"},
    )
    assert status == 201, answer
    return XDevice(answer["id"], answer["access_key"], answer)


def test_a_parent_sends_its_childrens_telemetry_and_only_theirs(
    stack: Stack, device: XDevice, model: tuple[str, str]
) -> None:
    # Given a child of the device, and a device that is nobody's child
    child = _child(stack, device, "c-1")
    stranger = registered(stack, model[1], cloud_id="stranger", mac=None)
    seed = json.loads(hub_event("telemetry_post_children", device.key, device.id)["body"])["A1_TEST_CHILD_ID"]

    # When the parent sends the seed's entry for its child, the stranger, and an unknown token
    body = {
        child.id: seed | {"access_token": child.key},
        stranger.id: seed | {"access_token": stranger.key},
        "8f14e45f-ceea-467f-a0e6-000000000000": seed | {"access_token": "unknown"},
    }
    status, answers = hub(stack, "telemetry", "telemetry_post_children", device, body)

    # Then the child's is stored and answered, the others are "Invalid access token"
    assert status == 200
    assert answers[child.id]["success"] is True and answers[child.id]["device_id"] == child.id
    assert answers[stranger.id] == {"error": "Invalid access token"}
    assert answers["8f14e45f-ceea-467f-a0e6-000000000000"] == {"error": "Invalid access token"}
    assert latest(stack, child) == {"volume": 40} and latest(stack, stranger) == {}


def test_a_childs_bad_entry_is_answered_alone(stack: Stack, device: XDevice) -> None:
    first, second = _child(stack, device, "c-1"), _child(stack, device, "c-2")
    body = {
        first.id: {"access_token": first.key, "status": "busy"},
        second.id: {"access_token": second.key, "telemetries": {"volume": 3}},
    }
    status, answers = hub(stack, "telemetry", "telemetry_post_children", device, body)
    assert (
        status == 200 and answers[first.id]["code"] == "InvalidRequest" and answers[first.id]["status"] == 400
    )
    assert answers[second.id]["success"] is True


@pytest.mark.parametrize(
    "token", [["a key"], {"k": 1}, 7, True, None], ids=["array", "object", "int", "bool", "null"]
)
def test_a_childs_access_token_that_is_no_string_is_an_invalid_token(
    stack: Stack, device: XDevice, token: Any
) -> None:
    # Given a child of the device, and its entry carrying a JSON value that is no string as its token
    child = _child(stack, device, "c-1")
    body = {child.id: {"access_token": token, "telemetries": {"volume": 5}}}

    # When the parent sends it
    status, answers = hub(stack, "telemetry", "telemetry_post_children", device, body)

    # Then that entry is refused as any wrong token is, and nothing of it is stored
    assert status == 200, answers
    assert answers == {child.id: {"error": "Invalid access token"}}
    assert latest(stack, child) == {}


@pytest.mark.parametrize(
    ("case", "body"), [("101 children", "many"), ("an array", []), ("an entry not an object", {"a": 1})]
)
def test_a_mass_telemetry_must_be_1_to_100_objects(
    stack: Stack, device: XDevice, case: str, body: Any
) -> None:
    if body == "many":
        body = {f"child-{i}": {"access_token": "x"} for i in range(101)}
    before = snapshot(stack)
    status, answer = hub(stack, "telemetry", "telemetry_post_children", device, body)
    assert status == 400 and answer["code"] == "InvalidRequest"
    assert snapshot(stack) == before
