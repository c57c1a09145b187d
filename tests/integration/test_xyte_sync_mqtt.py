"""Xyte answers over MQTT 5, in process against moto: the rule functions of ``…/config/update``,
``…/commands/update`` and ``…/command/update``, ``…/license/update`` (events shaped like the rules'
SELECT, ``events/xyte/on_*.json``). Answers are matched by correlation data; replies go to the
message's response topic with its correlation data; bad messages never raise, are counted and write
nothing; ``push_config`` re-publishes what a device missed while offline."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from fleetgate.services import xyte, xyte_push
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import Stack
from tests.integration.xyte_sync_steps import (  # noqa: F401 - fixtures
    UNKNOWN,
    XyteDevice,
    _core_settings,
    deliver,
    items,
    ok,
    register,
    rule_event,
    template,
)

CONFIG = "XyteOnConfigUpdateFunction"
COMMANDS = "XyteOnCommandsUpdateFunction"
LICENSES = "XyteOnLicenseUpdateFunction"


def send(stack: Stack, device: XyteDevice) -> str:
    return str(ok(stack, "manage/xyte_send_command", device.id, {"name": "reboot"}, status=201)["data"]["id"])


def status_of(stack: Stack, device: XyteDevice, command_id: str) -> str:
    return str(ok(stack, "manage/xyte_get_command", device.id, command=command_id)["data"]["status"])


def rejected(output: str) -> int:
    return sum(
        json.loads(line).get("MessagesRejected", [0])[0]
        for line in output.splitlines()
        if line.startswith("{") and "MessagesRejected" in line
    )


# --------------------------------------------------------------------------- config
def test_the_echoed_config_is_the_acknowledgement_of_the_version_correlated(stack: Stack) -> None:
    device = register("1.0.7")
    ok(stack, "manage/xyte_set_config", device.id, {"config": {"input": "hdmi", "fan_speed": 100.1}})

    [reply] = deliver(stack, CONFIG, rule_event("on_config_update", device))  # no version: correlation "1"

    assert reply["topic"] == f"v1/device/{device.id}/config/accepted"
    assert json.loads(reply["payload"]) == {"version": 1, "device_id": device.id}
    assert base64.b64decode(reply["correlationData"]) == b"1"
    view = ok(stack, "manage/xyte_get_config", device.id)["data"]
    assert (view["version"], view["appliedVersion"]) == (1, 1)


def test_a_config_change_over_mqtt_is_the_next_version_and_an_older_one_is_refused(stack: Stack) -> None:
    device = register("1.0.5")
    ok(stack, "manage/xyte_set_config", device.id, {"config": {"input": "hdmi"}})
    ok(stack, "manage/xyte_set_config", device.id, {"config": {"input": "dp"}})

    [made] = deliver(
        stack,
        CONFIG,
        rule_event("on_config_update", device, body={"config": {"input": "vga"}}, correlation="2"),
    )
    before = items(stack)
    [refused] = deliver(
        stack, CONFIG, rule_event("on_config_update", device, body={"config": {"x": 1}}, correlation="1")
    )

    assert json.loads(made["payload"]) == {"version": 3}
    assert json.loads(refused["payload"])["code"] == "Conflict"
    assert items(stack) == before


def test_offline_config_is_pushed_until_the_device_acknowledges_it(stack: Stack) -> None:
    device = register("1.0.7")
    ok(stack, "manage/xyte_set_config", device.id, {"config": {"input": "hdmi"}})

    with recorded_aws_calls() as calls:
        assert xyte_push.push_config(xyte.record(device.id)) is True
    [again] = [c.params for c in calls if c.operation == "Publish"]
    assert again["topic"] == f"v1/device/{device.id}/config"
    assert again["responseTopic"] == f"v1/device/{device.id}/config/update"
    assert base64.b64decode(again["correlationData"]) == b"1"

    deliver(stack, CONFIG, rule_event("on_config_update", device, body={"config": {"input": "hdmi"}}))
    with recorded_aws_calls() as calls:
        assert xyte_push.push_config(xyte.record(device.id)) is False
    assert not [c for c in calls if c.operation == "Publish"]


# --------------------------------------------------------------------------- commands
@pytest.mark.parametrize("event", ["on_commands_update", "on_command_update"])
def test_a_command_answer_is_matched_by_correlation_data_on_both_spellings(stack: Stack, event: str) -> None:
    device = register("1.0.7")
    command_id = send(stack, device)

    replies = deliver(
        stack, COMMANDS, rule_event(event, device, body={"status": "in_progress"}, correlation=command_id)
    )
    deliver(
        stack,
        COMMANDS,
        rule_event(event, device, body={"status": "error", "message": "no"}, correlation=command_id),
    )

    assert status_of(stack, device, command_id) == "failed"  # error is HTTPS's failed
    if event == "on_commands_update":  # its event names a response topic
        assert json.loads(replies[0]["payload"]) == {
            "id": command_id,
            "status": "in_progress",
            "device_id": device.id,
        }
        assert base64.b64decode(replies[0]["correlationData"]).decode() == command_id
    else:
        assert replies == []
    assert xyte.record(device.id).command_pending is False


def test_a_repeated_answer_is_idempotent_and_an_answer_to_an_ended_command_is_refused(stack: Stack) -> None:
    device = register("1.0.7")
    command_id = send(stack, device)
    done = rule_event(
        "on_commands_update", device, body={"id": command_id, "status": "done"}, correlation=command_id
    )
    deliver(stack, COMMANDS, done)
    before = items(stack)

    [repeat] = deliver(stack, COMMANDS, done)  # AWS retried the invocation
    [refused] = deliver(
        stack,
        COMMANDS,
        rule_event("on_commands_update", device, body={"status": "in_progress"}, correlation=command_id),
    )

    assert json.loads(repeat["payload"])["status"] == "done"
    assert json.loads(refused["payload"])["code"] == "Conflict"
    assert items(stack) == before


@pytest.mark.parametrize(
    ("body", "correlation", "code"),
    [
        (b"not json", None, "InvalidRequest"),
        ([1, 2], None, "InvalidRequest"),
        ({"status": 5}, None, "InvalidRequest"),
        ({"status": "finished"}, None, "InvalidRequest"),
        ({"status": "done", "message": ["x"]}, None, "InvalidRequest"),
        ({"status": "done"}, b"", "InvalidRequest"),  # no correlation data and no id
        ({"status": "done"}, b"\xff\xfe", "InvalidRequest"),
        ({"status": "done", "id": UNKNOWN}, None, "InvalidRequest"),  # disagrees with the correlation
        ({"status": "done"}, UNKNOWN, "NotFound"),
        ({"status": "done", "blob": "x" * 1_100_000}, None, "PayloadTooLarge"),
    ],
)
def test_bad_command_answers_are_refused_counted_and_write_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str], body: Any, correlation: Any, code: str
) -> None:
    device = register("1.0.7")
    command_id = send(stack, device)
    before = items(stack)
    capsys.readouterr()

    replies = deliver(
        stack,
        COMMANDS,
        rule_event(
            "on_commands_update",
            device,
            body=body,
            correlation=command_id if correlation is None else correlation,
        ),
    )

    assert items(stack) == before
    assert rejected(capsys.readouterr().out) == 1
    if code == "PayloadTooLarge":
        assert replies == []  # the message is unreadable: nobody to answer
    else:
        assert [json.loads(r["payload"])["code"] for r in replies] == [code]


def test_messages_not_from_the_topics_device_are_dropped_without_a_reply(stack: Stack) -> None:
    device, other = register("1.0.7"), register("1.0.7")
    command_id = send(stack, device)
    before = items(stack)
    for fields in (
        {"clientId": other.id},
        {"clientId": None},
        {"userProperties": [{"key": "access_key", "value": other.key}]},
        {"userProperties": [{"key": "access_key", "value": "not-a-key"}]},
    ):
        ev = rule_event("on_commands_update", device, correlation=command_id, **fields)
        assert deliver(stack, COMMANDS, ev) == [], fields
    assert items(stack) == before
    assert status_of(stack, device, command_id) == "pending"


def test_a_reply_never_goes_outside_the_devices_topics_or_to_a_rule_topic(stack: Stack) -> None:
    device, other = register("1.0.7"), register("1.0.7")
    command_id = send(stack, device)
    for topic in (
        f"v1/device/{other.id}/commands/accepted",
        f"v1/device/{device.id}/commands/update",
        "elsewhere",
    ):
        ev = rule_event("on_commands_update", device, correlation=command_id, responseTopic=topic)
        assert deliver(stack, COMMANDS, ev) == [], topic
    assert status_of(stack, device, command_id) == "done"  # recorded all the same


# --------------------------------------------------------------------------- licenses
def test_a_license_answer_is_matched_by_correlation_data(stack: Stack) -> None:
    device = register("1.0.7")
    license_id = ok(stack, "manage/xyte_add_license", device.id, {"data": "d", "signature": "s"}, status=201)[
        "data"
    ]["id"]

    [reply] = deliver(
        stack,
        LICENSES,
        rule_event("on_license_update", device, body={"state": "inuse"}, correlation=license_id),
    )

    assert json.loads(reply["payload"]) == {"id": license_id, "state": "inuse"}
    assert base64.b64decode(reply["correlationData"]).decode() == license_id
    assert xyte.record(device.id).new_licenses is False


@pytest.mark.parametrize(
    ("body", "correlation", "code"),
    [
        (b"{", None, "InvalidRequest"),
        ({"state": "pending"}, None, "InvalidRequest"),
        ({}, None, "InvalidRequest"),
        ({"state": "inuse"}, b"", "InvalidRequest"),
        ({"state": "inuse", "id": UNKNOWN}, None, "InvalidRequest"),
        ({"state": "inuse"}, UNKNOWN, "NotFound"),
    ],
)
def test_bad_license_answers_are_refused_and_write_nothing(
    stack: Stack, body: Any, correlation: Any, code: str
) -> None:
    device = register("1.0.7")
    license_id = ok(stack, "manage/xyte_add_license", device.id, {"data": "d", "signature": "s"}, status=201)[
        "data"
    ]["id"]
    before = items(stack)

    replies = deliver(
        stack,
        LICENSES,
        rule_event(
            "on_license_update",
            device,
            body=body,
            correlation=license_id if correlation is None else correlation,
        ),
    )

    assert [json.loads(r["payload"])["code"] for r in replies] == [code]
    assert items(stack) == before


def test_a_topic_of_another_function_is_refused(stack: Stack) -> None:
    device = register("1.0.7")
    before = items(stack)
    ev = rule_event("on_license_update", device, topic=f"v1/device/{device.id}/telemetry")
    assert [json.loads(r["payload"])["code"] for r in deliver(stack, LICENSES, ev)] == ["InvalidRequest"]
    assert items(stack) == before


def test_aws_calls_per_message(stack: Stack) -> None:
    """The figures in docs/xyte-sync.md."""
    device = register("1.0.7")
    command_id = send(stack, device)
    with recorded_aws_calls() as calls:
        deliver(stack, COMMANDS, rule_event("on_commands_update", device, correlation=command_id))
    print([c.operation for c in calls])
    assert [c.operation for c in calls].count("Publish") == 1
