"""Operator API for server-side RPC (``/manage/v1/devices/{id}/rpc``), handlers in process against moto:
send (and wait for a two-way reply), read, list, cancel; every class of bad input."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from fleetgate.dialects.thingsboard import rpc as rpc_service
from fleetgate.dialects.thingsboard.rpc import rpc_request
from fleetgate.services import devices
from fleetgate_local.inprocess import InProcessFunctions
from fleetgate_local.template import Template
from tests.integration.conftest import Device, Stack, create_device, event, with_body, with_query

MANAGE = "ManageRpcFunction"
ROOT = Path(__file__).resolve().parents[2]


def send(stack: Stack, device_id: str, body: Any) -> tuple[int, Any, dict[str, Any]]:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = stack.invoke(MANAGE, with_body(event("manage/send_rpc", device_id=device_id), raw))
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def addressed(name: str, device_id: str, rpc_uuid: str) -> dict[str, Any]:
    ev = event(name, device_id=device_id)
    ev["pathParameters"]["rpcId"] = rpc_uuid
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = f"/manage/v1/devices/{device_id}/rpc/{rpc_uuid}"
    return ev


def read(stack: Stack, device_id: str, rpc_uuid: str) -> tuple[int, Any]:
    response = stack.invoke(MANAGE, addressed("manage/get_rpc", device_id, rpc_uuid))
    return response["statusCode"], json.loads(response["body"])


def cancel(stack: Stack, device_id: str, rpc_uuid: str) -> tuple[int, Any]:
    response = stack.invoke(MANAGE, addressed("manage/cancel_rpc", device_id, rpc_uuid))
    return response["statusCode"], json.loads(response["body"])


def listing(stack: Stack, device_id: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    response = stack.invoke(MANAGE, with_query(event("manage/list_rpcs", device_id=device_id), query))
    return response["statusCode"], json.loads(response["body"])


def rpc_item_count(stack: Stack) -> int:
    return stack.count_items("RpcTable")


def queued(stack: Stack, device: Device, **body: Any) -> dict[str, Any]:
    status, payload, _ = send(stack, device.id, {"method": "m", "persistent": True} | body)
    assert status == 200, payload
    data: dict[str, Any] = payload["data"]
    return data


# --------------------------------------------------------------------------- send
def test_one_way_rpc_is_queued_and_answered_at_once(stack: Stack, device: Device) -> None:
    started = time.monotonic()

    status, body, _ = send(stack, device.id, {"method": "blink", "params": {"times": 3}, "oneway": True})

    assert status == 200
    data = body["data"]
    assert uuid.UUID(data["rpcId"])
    assert {k: data[k] for k in ("id", "deviceId", "method", "params", "oneway", "status", "deliveries")} == {
        "id": 1,
        "deviceId": device.id,
        "method": "blink",
        "params": {"times": 3},
        "oneway": True,
        "status": "QUEUED",
        "deliveries": 0,
    }
    assert data["expirationTime"] == data["createdTime"] + 10_000
    assert time.monotonic() - started < 2


def test_persistent_two_way_rpc_is_answered_at_once_with_its_ids(stack: Stack, device: Device) -> None:
    status, body, _ = send(stack, device.id, {"method": "reboot", "persistent": True, "timeout": 60_000})

    assert status == 200
    assert body["data"]["status"] == "QUEUED"
    assert body["data"]["persistent"] is True
    assert body["data"]["expirationTime"] == body["data"]["createdTime"] + 60_000


def test_two_way_rpc_waits_for_the_devices_reply(stack: Stack, device: Device) -> None:
    send(stack, device.id, {"method": "warm-up", "oneway": True})  # the operator function is active now
    rpc_service.next_for_device(device.id)
    result: dict[str, Any] = {}

    def operator() -> None:
        result["response"] = send(stack, device.id, {"method": "getTemperature", "params": {"unit": "C"}})

    thread = threading.Thread(target=operator)
    thread.start()
    command = None
    deadline = time.monotonic() + 10
    while command is None and time.monotonic() < deadline:
        command = rpc_service.next_for_device(device.id)
        time.sleep(0.05)
    assert command == {"id": 2, "method": "getTemperature", "params": {"unit": "C"}}
    rpc_service.reply(device.id, command["id"], '{"temperature": 21.5}')
    thread.join(15)

    status, body, _ = result["response"]
    assert status == 200
    assert body["data"]["status"] == "SUCCESSFUL"
    assert body["data"]["response"] == {"temperature": 21.5}
    assert body["data"]["deliveries"] == 1


def test_two_way_rpc_that_expires_unanswered_is_504_and_stays_readable(stack: Stack, device: Device) -> None:
    started = time.monotonic()

    status, body, headers = send(
        stack, device.id, {"method": "getTemperature", "expirationTime": rpc_service.now_ms() + 1_200}
    )

    assert status == 504
    assert body["error"]["code"] == 504
    assert "EXPIRED" in body["error"]["message"]
    assert 1.0 <= time.monotonic() - started < 5
    location = headers["Location"]
    rpc_uuid = location.rsplit("/", 1)[1]
    assert location == f"/manage/v1/devices/{device.id}/rpc/{rpc_uuid}"
    assert read(stack, device.id, rpc_uuid)[1]["data"]["status"] == "EXPIRED"


def test_the_wait_ends_at_the_cap_and_the_rpc_stays_queued_for_the_device(
    stack: Stack, device: Device
) -> None:
    template = Template.load(ROOT / "template.yaml", {"LongPollCapSeconds": "1"})
    capped = Stack(template, stack.provisioned, InProcessFunctions(template, stack.provisioned))
    started = time.monotonic()

    status, body, headers = send(capped, device.id, {"method": "slowOne", "timeout": 60_000})

    assert status == 504
    assert "QUEUED" in body["error"]["message"]
    assert 0.9 <= time.monotonic() - started < 4
    rpc_uuid = headers["Location"].rsplit("/", 1)[1]
    assert read(capped, device.id, rpc_uuid)[1]["data"]["status"] == "QUEUED"
    assert rpc_service.next_for_device(device.id) == {"id": 1, "method": "slowOne", "params": {}}


def test_ids_stay_unique_under_concurrent_senders(stack: Stack, device: Device) -> None:
    queued(stack, device)
    record = devices.get(device.id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        sent = list(
            pool.map(
                lambda i: rpc_service.send(record, rpc_request(method=f"m{i}", now=rpc_service.now_ms())).id,
                range(24),
            )
        )

    assert sorted(sent) == list(range(2, 26))


# --------------------------------------------------------------------------- read, list, cancel
def test_read_shows_status_timestamps_and_response(stack: Stack, device: Device) -> None:
    sent = queued(stack, device, params={"a": 1}, additionalInfo={"ticket": "T-1"}, retries=3)
    rpc_service.next_for_device(device.id)
    rpc_service.reply(device.id, 1, '"done"')

    status, body = read(stack, device.id, sent["rpcId"])

    assert status == 200
    data = body["data"]
    assert (data["status"], data["response"], data["deliveries"], data["retries"]) == (
        "SUCCESSFUL",
        "done",
        1,
        3,
    )
    assert data["additionalInfo"] == {"ticket": "T-1"}
    assert data["createdTime"] <= data["deliveredTime"] <= data["completedTime"] < data["expirationTime"]


def test_an_rpc_is_read_only_through_its_own_device(stack: Stack, device: Device) -> None:
    other = create_device(stack, "other-device")
    sent = queued(stack, device)

    status, body = read(stack, other.id, sent["rpcId"])

    assert status == 404
    assert body["error"]["code"] == 404


@pytest.mark.parametrize(
    ("device_id", "rpc_uuid", "expected"),
    [
        ("mine", "0b7f3c52-9e41-4d6a-8f2e-5a1c7d9b3e60", 404),
        ("mine", "not-a-uuid", 400),
        ("unknown", "6d2a9e14-3b8c-4f57-a0d1-c4e8b2f7a913", 404),
    ],
)
def test_reading_or_canceling_what_is_not_there_is_a_clear_4xx(
    stack: Stack, device: Device, device_id: str, rpc_uuid: str, expected: int
) -> None:
    target = device.id if device_id == "mine" else str(uuid.uuid4())

    read_status, read_body = read(stack, target, rpc_uuid)
    cancel_status, cancel_body = cancel(stack, target, rpc_uuid)

    assert (read_status, cancel_status) == (expected, expected)
    assert read_body["error"]["code"] == cancel_body["error"]["code"] == expected
    assert rpc_item_count(stack) == 0


def test_a_queued_rpc_can_be_canceled_and_is_then_never_delivered(stack: Stack, device: Device) -> None:
    sent = queued(stack, device)

    status, body = cancel(stack, device.id, sent["rpcId"])

    assert status == 200
    assert body["data"]["status"] == "CANCELED"
    assert rpc_service.next_for_device(device.id) is None
    assert cancel(stack, device.id, sent["rpcId"])[0] == 409


def test_a_delivered_rpc_cannot_be_canceled(stack: Stack, device: Device) -> None:
    sent = queued(stack, device)
    rpc_service.next_for_device(device.id)

    status, body = cancel(stack, device.id, sent["rpcId"])

    assert status == 409
    assert "DELIVERED" in body["error"]["message"]
    assert read(stack, device.id, sent["rpcId"])[1]["data"]["status"] == "DELIVERED"


def test_list_is_newest_first_and_paged(stack: Stack, device: Device) -> None:
    for method in ("a", "b", "c"):
        queued(stack, device, method=method)

    status, first = listing(stack, device.id, {"limit": "2"})
    _, second = listing(stack, device.id, {"limit": "2", "nextToken": first["nextToken"]})

    assert status == 200
    assert [r["method"] for r in first["data"]] == ["c", "b"]
    assert first["count"] == 2
    assert [r["method"] for r in second["data"]] == ["a"]
    assert "nextToken" not in second


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"nextToken": "garbage!"}, {"nextToken": "other"}],
)
def test_bad_list_parameters_are_400(stack: Stack, device: Device, query: dict[str, str]) -> None:
    other = create_device(stack, "other-device")
    queued(stack, other)
    queued(stack, other)
    if query.get("nextToken") == "other":  # a valid token, but for another device
        query = {"nextToken": listing(stack, other.id, {"limit": "1"})[1]["nextToken"]}

    status, body = listing(stack, device.id, query)

    assert status == 400
    assert body["error"]["code"] == 400


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        '"reboot"',
        "{}",
        {"params": {}},
        {"method": ""},
        {"method": "m" * 256},
        {"method": 5},
        {"method": "m", "oneway": "true"},
        {"method": "m", "persistent": 1},
        {"method": "m", "timeout": -1},
        {"method": "m", "timeout": "5000"},
        {"method": "m", "timeout": 5000.5},
        {"method": "m", "timeout": 31 * 86_400_000},
        {"method": "m", "expirationTime": 1_000},
        {"method": "m", "expirationTime": "tomorrow"},
        {"method": "m", "retries": -1},
        {"method": "m", "oneWay": True},
        '{"method": "m", "params": NaN}',
    ],
)
def test_bad_rpc_requests_are_400_and_write_nothing(stack: Stack, device: Device, body: Any) -> None:
    status, response, _ = send(stack, device.id, body)

    assert status == 400
    assert response["error"]["code"] == 400
    assert response["error"]["message"]
    assert rpc_item_count(stack) == 0


def test_rpc_requests_over_64_kib_are_413_and_write_nothing(stack: Stack, device: Device) -> None:
    body = json.dumps({"method": "m", "params": "x" * 65_536})

    status, response, _ = send(stack, device.id, body)

    assert status == 413
    assert response["error"]["code"] == 413
    assert rpc_item_count(stack) == 0


def test_rpc_to_an_unknown_device_is_404_and_writes_nothing(stack: Stack) -> None:
    status, response, _ = send(stack, str(uuid.uuid4()), {"method": "m", "oneway": True})

    assert status == 404
    assert response["error"]["code"] == 404
    assert rpc_item_count(stack) == 0


def test_the_rpc_table_is_on_demand_with_recovery_and_ttl(stack: Stack) -> None:
    ddb = boto3.client("dynamodb")
    name = stack.table("RpcTable")

    table = ddb.describe_table(TableName=name)["Table"]
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in table["LocalSecondaryIndexes"]} == {"ByRpcId", "ByOpenSeq"}
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expiresAt", "ENABLED")


@pytest.mark.parametrize(
    ("name", "oneway", "persistent"),
    [("manage/send_oneway_rpc", True, False), ("manage/send_persistent_rpc", False, True)],
)
def test_the_example_events_queue_their_rpc(
    stack: Stack, device: Device, name: str, oneway: bool, persistent: bool
) -> None:
    response = stack.invoke(MANAGE, event(name, device_id=device.id))

    assert response["statusCode"] == 200
    data = json.loads(response["body"])["data"]
    assert (data["status"], data["oneway"], data["persistent"]) == ("QUEUED", oneway, persistent)
