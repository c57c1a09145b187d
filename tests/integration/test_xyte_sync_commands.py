"""Xyte commands on the command engine, in process against moto: the operator sends, reads, lists and
cancels (``/manage/v1/xyte/devices/{id}/commands``); each command is recorded pending and published to
``v1/device/{id}/commands`` (properties checked on the Publish call and moto's record); the device takes
it over HTTPS (``GET command``, ``POST command``, ``GET command/pending_commands``) the way Xyte's
sample agent does; the ``command_pending`` flag follows; a publish that fails leaves the command pending
for HTTPS; bad reports are 4xx with nothing written."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from fleetgate.data import iot
from fleetgate.services import xyte, xyte_push
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import Stack
from tests.integration.xyte_sync_steps import (  # noqa: F401 - fixtures
    IOT_DATA_ENDPOINT,
    UNKNOWN,
    XyteDevice,
    _core_settings,
    call,
    items,
    ok,
    publishes,
    recorded,
    register,
    template,
)

REBOOT = {"name": "reboot"}


def send(stack: Stack, device: XyteDevice | str, body: dict | None = None) -> dict[str, Any]:
    return ok(
        stack,
        "manage/xyte_send_command",
        device if isinstance(device, str) else device.id,
        body or REBOOT,
        status=201,
    )["data"]


def report(stack: Stack, device: XyteDevice, body: Any) -> tuple[int, Any]:
    return call(stack, "xyte/command_update_command", device, body)


def command_item(stack: Stack, device_id: str, command_id: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(
        TableName=stack.table("CommandsTable"),
        Key={"deviceId": {"S": device_id}, "executionId": {"S": command_id}},
    )["Item"]


def backdate(stack: Stack, device_id: str, command_id: str) -> None:
    """As if the command's timeout had run out."""
    boto3.client("dynamodb").update_item(
        TableName=stack.table("CommandsTable"),
        Key={"deviceId": {"S": device_id}, "executionId": {"S": command_id}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1)}},
    )


@pytest.fixture
def failing_publish(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The iot-data client replaced by a stubbed one that refuses every publish queued on it."""
    stubbed = boto3.client("iot-data", region_name="us-east-1", endpoint_url=IOT_DATA_ENDPOINT)
    real = iot.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        return stubbed if service == "iot-data" else real(service, *args, **kwargs)

    monkeypatch.setattr(iot, "client", client)
    with Stubber(stubbed) as stubber:
        yield stubber


# --------------------------------------------------------------------------- sending
def test_a_command_is_recorded_pending_published_and_raises_the_flag(stack: Stack) -> None:
    device = register("1.0.7")
    body = {
        "name": "update_firmware",
        "parameters": {"url": "https://f.example/fw.bin", "version": "1.0.5"},
        "timeout": 600,
    }

    status, answer, sent = publishes(stack, "manage/xyte_send_command", device.id, body)

    assert status == 201
    data = answer["data"]
    assert (data["status"], data["name"], data["timeout"], data["published"]) == (
        "pending",
        "update_firmware",
        600,
        True,
    )
    [message] = sent
    assert message["topic"] == f"v1/device/{device.id}/commands"
    assert message["responseTopic"] == f"v1/device/{device.id}/commands/update"
    assert message["correlation"] == data["id"]
    assert message["qos"] == 1 and message["messageExpiry"] == 600
    assert message["json"] == {
        "id": data["id"],
        "status": "pending",
        "name": "update_firmware",
        "parameters": body["parameters"],
        "device_id": device.id,
    }
    assert (message["topic"], message["json"]) in recorded()
    assert xyte.record(device.id).command_pending is True


@pytest.mark.parametrize(("api_version", "stamped"), [("1.0.0", False), ("1.0.5", False), ("1.0.7", True)])
def test_get_command_names_the_device_from_1_0_7(stack: Stack, api_version: str, stamped: bool) -> None:
    device = register(api_version)
    sent = send(stack, device)

    body = ok(stack, "xyte/command_get_command", device)

    expected = {"id": sent["id"], "status": "pending", "name": "reboot", "parameters": {}}
    assert body == (expected | {"device_id": device.id} if stamped else expected)


def test_the_agent_flow_in_progress_then_done_clears_the_flag(stack: Stack) -> None:
    # Given a command the operator sent
    device = register("1.0.7")
    sent = send(stack, device)

    # When the device takes it, says it is working on it, then that it is done
    got = ok(stack, "xyte/command_get_command", device)
    first = ok(stack, "xyte/command_update_command", device, {"id": got["id"], "status": "in_progress"})
    middle = ok(stack, "xyte/command_get_command", device)
    last = ok(
        stack, "xyte/command_update_command", device, {"id": got["id"], "status": "done", "message": "ok"}
    )

    # Then each report is recorded, the open one is still offered in progress, and nothing waits after
    assert first == {"id": sent["id"], "status": "in_progress", "device_id": device.id}
    assert middle["status"] == "in_progress"
    assert last == {"id": sent["id"], "status": "done", "device_id": device.id}
    assert ok(stack, "xyte/command_get_command", device) == {}
    assert xyte.record(device.id).command_pending is False
    view = ok(stack, "manage/xyte_get_command", device.id, command=sent["id"])["data"]
    assert (view["status"], view["message"]) == ("done", "ok")


def test_commands_are_offered_oldest_first(stack: Stack) -> None:
    device = register("1.0.7")
    first, second = send(stack, device), send(stack, device, {"name": "dump"})

    assert ok(stack, "xyte/command_get_command", device)["id"] == first["id"]
    ok(stack, "xyte/command_update_command", device, {"id": first["id"], "status": "failed", "message": "no"})
    assert ok(stack, "xyte/command_get_command", device)["id"] == second["id"]
    assert xyte.record(device.id).command_pending is True  # the second still waits


def test_before_1_0_1_a_report_without_id_is_about_the_oldest_open_command(stack: Stack) -> None:
    old, new = register("1.0.0"), register("1.0.1")
    sent = send(stack, old)
    send(stack, new)
    before = items(stack)

    assert ok(stack, "xyte/command_update_command", old, {"status": "done"}) == {
        "id": sent["id"],
        "status": "done",
    }
    status, body = report(stack, new, {"status": "done"})
    assert status == 400 and body == {"error": "id is required", "code": "InvalidRequest"}
    assert report(stack, old, {"status": "done"})[0] == 404  # nothing open any more
    assert len(items(stack)) == len(before)


def test_a_repeated_report_is_idempotent_and_an_ended_command_takes_no_other(stack: Stack) -> None:
    device = register("1.0.7")
    sent = send(stack, device)
    done = {"id": sent["id"], "status": "done", "message": "ok"}
    ok(stack, "xyte/command_update_command", device, done)
    recorded_item = command_item(stack, device.id, sent["id"])

    assert ok(stack, "xyte/command_update_command", device, done)["status"] == "done"  # a retry
    for other in (
        {**done, "message": "again"},
        {"id": sent["id"], "status": "in_progress"},
        {"id": sent["id"], "status": "failed"},
    ):
        status, body = report(stack, device, other)
        assert status == 422 and body["code"] == "Conflict", other
    assert command_item(stack, device.id, sent["id"]) == recorded_item


def test_failed_and_error_are_the_same_report(stack: Stack) -> None:
    device = register("1.0.7")
    a, b = send(stack, device), send(stack, device)
    assert (
        ok(stack, "xyte/command_update_command", device, {"id": a["id"], "status": "failed"})["status"]
        == "failed"
    )
    assert (
        ok(stack, "xyte/command_update_command", device, {"id": b["id"], "status": "error"})["status"]
        == "failed"
    )


def test_a_timed_out_command_is_never_offered_and_refuses_reports(stack: Stack) -> None:
    device = register("1.0.7")
    sent = send(stack, device)
    backdate(stack, device.id, sent["id"])

    assert ok(stack, "xyte/command_get_command", device) == {}
    assert command_item(stack, device.id, sent["id"])["status"]["S"] == "timed_out"  # recorded on the way
    assert xyte.record(device.id).command_pending is False
    status, body = report(stack, device, {"id": sent["id"], "status": "done"})
    assert status == 422 and "timed_out" in body["error"]


def test_the_operator_cancels_pending_and_in_progress_commands_only(stack: Stack) -> None:
    device = register("1.0.7")
    a, b = send(stack, device), send(stack, device)
    ok(stack, "xyte/command_update_command", device, {"id": b["id"], "status": "in_progress"})

    assert ok(stack, "manage/xyte_cancel_command", device.id, command=a["id"])["data"]["status"] == "canceled"
    assert ok(stack, "manage/xyte_cancel_command", device.id, command=b["id"])["data"]["status"] == "canceled"
    assert xyte.record(device.id).command_pending is False
    assert call(stack, "manage/xyte_cancel_command", device.id, command=a["id"])[0] == 409
    assert report(stack, device, {"id": a["id"], "status": "done"})[0] == 422
    listed = ok(stack, "manage/xyte_list_commands", device.id)["data"]
    assert [c["id"] for c in listed] == [b["id"], a["id"]]


def test_pending_commands_lists_the_devices_and_its_childrens(stack: Stack) -> None:
    parent = register("1.0.5")
    child = register("1.0.5", parent=parent)
    stranger = register("1.0.5")
    mine, theirs = send(stack, parent), send(stack, child)
    send(stack, stranger)

    body = ok(stack, "xyte/command_pending_commands", parent)

    assert [(c["id"], c["device_id"]) for c in body] == [(mine["id"], parent.id), (theirs["id"], child.id)]
    assert ok(stack, "xyte/command_pending_commands", child) == [
        {"id": theirs["id"], "status": "pending", "name": "reboot", "parameters": {}, "device_id": child.id}
    ]


def test_a_failed_publish_leaves_the_command_pending_for_https(
    stack: Stack, failing_publish: Stubber
) -> None:
    device = register("1.0.7")
    failing_publish.add_client_error("publish", "InternalFailureException", http_status_code=500)

    data = send(stack, device)

    assert (data["status"], data["published"]) == ("pending", False)
    assert ok(stack, "xyte/command_get_command", device)["id"] == data["id"]


# --------------------------------------------------------------------------- offline, then push
def test_created_while_offline_delivered_by_push_and_never_twice_as_new(stack: Stack) -> None:
    device = register("1.0.7")
    sent = send(stack, device)  # the device was offline: the publish reached nobody

    with recorded_aws_calls() as calls:
        assert xyte_push.push_next_command(xyte.record(device.id)) is True
    [again] = [c.params for c in calls if c.operation == "Publish"]
    assert again["topic"] == f"v1/device/{device.id}/commands"
    assert again["responseTopic"] == f"v1/device/{device.id}/commands/update"
    assert command_item(stack, device.id, sent["id"])["deliveries"]["N"] == "2"

    ok(stack, "xyte/command_update_command", device, {"id": sent["id"], "status": "in_progress"})
    with recorded_aws_calls() as calls:
        assert xyte_push.push_next_command(xyte.record(device.id)) is False  # it has it
    assert not [c for c in calls if c.operation == "Publish"]
    ok(stack, "xyte/command_update_command", device, {"id": sent["id"], "status": "done"})
    record = xyte.record(device.id)
    with recorded_aws_calls() as calls:
        assert xyte_push.push_next_command(record) is False
    assert calls == []  # the flag is down: not even a read


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        {},
        {"id": "x", "status": "done"},
        {"status": "finished", "id": UNKNOWN},
        {"id": 5, "status": "done"},
        {"status": None},
        {"status": "done", "message": 7},
        {"status": "done", "message": "m" * 5000},
        {"id": UNKNOWN, "status": "pending"},
        {"id": UNKNOWN, "status": "done", "device_id": "someone-else"},
    ],
)
def test_bad_reports_are_400_and_write_nothing(stack: Stack, body: Any) -> None:
    device = register("1.0.7")
    send(stack, device)
    before = items(stack)

    status, answer = report(stack, device, body)

    assert status == 400 and set(answer) == {"error", "code"}, answer
    assert items(stack) == before


def test_unknown_or_foreign_commands_are_404_and_credentials_401_403(stack: Stack) -> None:
    a, b = register("1.0.7"), register("1.0.7")
    theirs = send(stack, b)
    before = items(stack)

    assert report(stack, a, {"id": UNKNOWN, "status": "done"})[0] == 404
    assert report(stack, a, {"id": theirs["id"], "status": "done"})[0] == 404
    for name in ("xyte/command_get_command", "xyte/command_update_command", "xyte/command_pending_commands"):
        body = {"id": theirs["id"], "status": "done"} if name.endswith("update_command") else None
        assert call(stack, name, b, body, key="nope")[0] == 401
        assert call(stack, name, b, body, key=a.key)[0] == 403
    assert items(stack) == before


def test_a_timeout_is_an_integer_as_json_schema_has_it(stack: Stack) -> None:
    # Given a Xyte device, when the operator sends a timeout written 600.0 (an integer to JSON Schema)
    device = register("1.0.7")
    status, answer, _ = publishes(
        stack, "manage/xyte_send_command", device.id, {"name": "reboot", "timeout": 600.0}
    )
    # Then it is 600 seconds; a boolean or a fraction is still no integer
    assert status == 201 and answer["data"]["timeout"] == 600, answer
    for timeout in (True, 600.5):
        assert (
            call(stack, "manage/xyte_send_command", device.id, {"name": "reboot", "timeout": timeout})[0]
            == 400
        )


def test_operator_refuses_bad_commands_and_non_xyte_devices(stack: Stack) -> None:
    device = register("1.0.7")
    before = items(stack)
    for body in (
        {},
        {"name": ""},
        {"name": "reboot", "parameters": []},
        {"name": "reboot", "timeout": 0},
        {"name": "reboot", "timeout": 604_801},
        {"name": "reboot", "timeout": "5"},
        {"name": "update_firmware", "parameters": {"url": "u"}},
        {"name": "update_firmware", "parameters": {"url": "u", "version": "1", "checksum": 5}},
        {"name": "reboot", "extra": True},
    ):
        assert call(stack, "manage/xyte_send_command", device.id, body)[0] == 400, body
    assert call(stack, "manage/xyte_send_command", UNKNOWN, REBOOT)[0] == 404
    assert call(stack, "manage/xyte_get_command", device.id, command="not-a-uuid")[0] == 400
    assert call(stack, "manage/xyte_get_command", device.id, command=UNKNOWN)[0] == 404
    assert items(stack) == before


def test_aws_calls_per_request(stack: Stack) -> None:
    """The figures in docs/xyte-sync.md."""
    device = register("1.0.7")
    sent = send(stack, device)
    counts = {}
    for label, name, body in (
        ("get", "xyte/command_get_command", None),
        ("in_progress", "xyte/command_update_command", {"id": sent["id"], "status": "in_progress"}),
        ("done", "xyte/command_update_command", {"id": sent["id"], "status": "done"}),
        ("get_idle", "xyte/command_get_command", None),
    ):
        with recorded_aws_calls() as calls:
            ok(stack, name, device, body)
        counts[label] = [c.operation for c in calls]
    with recorded_aws_calls() as calls:
        send(stack, device)
    counts["send"] = [c.operation for c in calls]
    print(counts)
    assert counts["in_progress"] == ["GetItem", "GetItem", "UpdateItem"]
    assert counts["get_idle"] == ["GetItem", "GetItem", "Query"]
    assert counts["send"].count("Publish") == 1 and counts["send"].count("PutItem") == 1


def test_a_clear_that_read_the_counter_before_a_new_command_leaves_the_flag_up(stack: Stack) -> None:
    # Given a clearer that read the flag's counter, then found nothing open
    device = register("1.0.7")
    repo = xyte_push.repository()
    _, seen = repo.flag_counter(device.id, "commandPending")

    # When a command is sent before it clears
    send(stack, device)

    # Then its clear fails and the flag stays up for the new command
    assert repo.clear_flag(device.id, "commandPending", seen) is False
    assert xyte.record(device.id).command_pending is True
    _, now_seen = repo.flag_counter(device.id, "commandPending")
    assert now_seen == seen + 1
