"""Xyte licenses, in process against moto: the operator adds, updates and removes
(``/manage/v1/xyte/devices/{id}/licenses``), each change pending, published to ``v1/device/{id}/license``
with its MQTT 5 properties and raising ``new_licenses``; the device reads them the sample agent's way
(``GET licenses`` → ``POST licenses`` inuse) or one at a time (``GET license``); answers are idempotent;
bad input is 4xx with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from fleetgate.services import xyte, xyte_push
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import Stack
from tests.integration.xyte_sync_steps import (  # noqa: F401 - fixtures
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

LICENSE = {
    "data": "eyJzZWF0cyI6IDI1fQ==",
    "signature": "RSA signature...",
    "expires_at": "2027-12-31T23:59:59Z",
}


def add(stack: Stack, device: XyteDevice, body: dict | None = None) -> dict[str, Any]:
    return ok(stack, "manage/xyte_add_license", device.id, body or LICENSE, status=201)["data"]


def answer(stack: Stack, device: XyteDevice, body: Any) -> tuple[int, Any]:
    return call(stack, "xyte/licenses_update_license", device, body)


def test_an_added_license_is_pending_published_and_raises_the_flag(stack: Stack) -> None:
    device = register("1.0.7")

    status, body, sent = publishes(stack, "manage/xyte_add_license", device.id, LICENSE)

    assert status == 201
    data = body["data"]
    assert (data["action"], data["state"], data["published"]) == ("add", "pending", True)
    assert data["expiresAt"] == "2027-12-31T23:59:59.000Z"
    [message] = sent
    assert message["topic"] == f"v1/device/{device.id}/license"
    assert message["responseTopic"] == f"v1/device/{device.id}/license/update"
    assert message["correlation"] == data["id"] and message["qos"] == 1 and message["messageExpiry"] == 86_400
    payload = message["json"]
    assert payload.pop("current_time").endswith("Z")
    assert payload == {
        "id": data["id"],
        "device_id": device.id,
        "data": LICENSE["data"],
        "signature": LICENSE["signature"],
        "action": "add",
        "add": True,
        "update": False,
        "remove": False,
        "expires_at": "2027-12-31T23:59:59.000Z",
    }
    assert [p["id"] for topic, p in recorded() if topic == message["topic"]] == [data["id"]]
    assert xyte.record(device.id).new_licenses is True


@pytest.mark.parametrize("api_version", ["1.0.0", "1.0.7"])
def test_the_agent_flow_get_licenses_then_inuse_clears_the_flag(stack: Stack, api_version: str) -> None:
    device = register(api_version)
    first, second = add(stack, device), add(stack, device, {**LICENSE, "data": {"seats": 5}})

    pending = ok(stack, "xyte/licenses_get_licenses", device)
    assert [item["id"] for item in pending] == [first["id"], second["id"]]
    assert pending[1] == {
        "id": second["id"],
        "device_id": device.id,
        "data": {"seats": 5},
        "signature": LICENSE["signature"],
        "add": True,
        "update": False,
        "remove": False,
        "expires_at": "2027-12-31T23:59:59.000Z",
    }
    for item in pending:
        assert ok(stack, "xyte/licenses_update_license", device, {"id": item["id"], "state": "inuse"}) == {
            "id": item["id"],
            "state": "inuse",
        }

    assert ok(stack, "xyte/licenses_get_licenses", device) == []
    assert ok(stack, "xyte/licenses_get_license", device) == {}
    assert xyte.record(device.id).new_licenses is False
    listed = ok(stack, "manage/xyte_list_licenses", device.id)["data"]
    assert [(item["state"], item["action"]) for item in listed] == [("inuse", "add"), ("inuse", "add")]


def test_get_license_gives_the_oldest_change_then_the_next(stack: Stack) -> None:
    device = register("1.0.7")
    first = add(stack, device)
    second = add(stack, device)

    one = ok(stack, "xyte/licenses_get_license", device)
    assert one["id"] == first["id"] and one["action"] == "add" and one["current_time"].endswith("Z")
    ok(
        stack,
        "xyte/licenses_update_license",
        device,
        {"id": first["id"], "state": "error", "error": "bad signature"},
    )
    assert ok(stack, "xyte/licenses_get_license", device)["id"] == second["id"]
    view = ok(stack, "manage/xyte_get_license", device.id, license=first["id"])["data"]
    assert (view["state"], view["error"]) == ("error", "bad signature")


def test_update_and_remove_are_new_pending_changes(stack: Stack) -> None:
    device = register("1.0.7")
    added = add(stack, device)
    ok(stack, "xyte/licenses_update_license", device, {"id": added["id"], "state": "inuse"})

    status, body, sent = publishes(
        stack,
        "manage/xyte_update_license",
        device.id,
        {**LICENSE, "expires_at": "2028-01-01T00:00:00+01:00"},
        license=added["id"],
    )
    assert status == 200 and body["data"]["state"] == "pending" and body["data"]["revision"] == 2
    assert body["data"]["expiresAt"] == "2027-12-31T23:00:00.000Z"
    assert sent[0]["json"]["action"] == "update" and sent[0]["json"]["update"] is True
    assert ok(stack, "xyte/licenses_get_license", device)["action"] == "update"
    ok(stack, "xyte/licenses_update_license", device, {"id": added["id"], "state": "inuse"})

    status, body, sent = publishes(stack, "manage/xyte_remove_license", device.id, license=added["id"])
    assert body["data"]["action"] == "remove" and sent[0]["json"]["remove"] is True
    assert xyte.record(device.id).new_licenses is True
    ok(stack, "xyte/licenses_update_license", device, {"id": added["id"], "state": "removed"})
    assert xyte.record(device.id).new_licenses is False

    status, body, sent = publishes(stack, "manage/xyte_remove_license", device.id, license=added["id"])
    assert status == 200 and sent == [] and body["data"]["state"] == "removed"  # nothing to do again
    assert call(stack, "manage/xyte_update_license", device.id, LICENSE, license=added["id"])[0] == 409


def test_a_repeated_answer_is_idempotent_and_a_different_one_is_422(stack: Stack) -> None:
    device = register("1.0.7")
    added = add(stack, device)
    ok(stack, "xyte/licenses_update_license", device, {"id": added["id"], "state": "inuse"})
    before = items(stack)

    assert (
        ok(stack, "xyte/licenses_update_license", device, {"id": added["id"], "state": "inuse"})["state"]
        == "inuse"
    )
    status, body = answer(stack, device, {"id": added["id"], "state": "removed"})
    assert status == 422 and body["code"] == "Conflict"
    assert items(stack) == before


def test_created_while_offline_pushed_later_and_not_after_the_answer(stack: Stack) -> None:
    device = register("1.0.7")
    added = add(stack, device)

    with recorded_aws_calls() as calls:
        assert xyte_push.push_licenses(xyte.record(device.id)) == 1
    [again] = [c.params for c in calls if c.operation == "Publish"]
    assert again["topic"] == f"v1/device/{device.id}/license"
    ok(stack, "xyte/licenses_update_license", device, {"id": added["id"], "state": "inuse"})
    record = xyte.record(device.id)
    with recorded_aws_calls() as calls:
        assert xyte_push.push_licenses(record) == 0
    assert calls == []


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        {},
        {"id": "x", "state": "inuse"},
        {"state": "inuse"},
        {"id": UNKNOWN},
        {"id": UNKNOWN, "state": "pending"},
        {"id": UNKNOWN, "state": "inuse", "error": 5},
        {"id": UNKNOWN, "state": "inuse", "error": "e" * 2000},
    ],
)
def test_bad_answers_are_400_and_write_nothing(stack: Stack, body: Any) -> None:
    device = register("1.0.7")
    add(stack, device)
    before = items(stack)

    status, got = answer(stack, device, body)

    assert status == 400 and set(got) == {"error", "code"}, got
    assert items(stack) == before


def test_unknown_or_foreign_licenses_are_404_and_credentials_401_403(stack: Stack) -> None:
    a, b = register("1.0.7"), register("1.0.7")
    theirs = add(stack, b)
    before = items(stack)

    assert answer(stack, a, {"id": UNKNOWN, "state": "inuse"})[0] == 404
    assert answer(stack, a, {"id": theirs["id"], "state": "inuse"})[0] == 404
    for name in ("xyte/licenses_get_license", "xyte/licenses_get_licenses", "xyte/licenses_update_license"):
        body = {"id": theirs["id"], "state": "inuse"} if name.endswith("update_license") else None
        assert call(stack, name, b, body, key="nope")[0] == 401
        assert call(stack, name, b, body, key=a.key)[0] == 403
    assert items(stack) == before


def test_operator_refuses_bad_licenses(stack: Stack) -> None:
    device = register("1.0.7")
    before = items(stack)
    for body in (
        {},
        {"signature": "s"},
        {"data": None, "signature": "s"},
        {"data": "d", "signature": 5},
        {"data": "d", "signature": "s", "expires_at": "tomorrow"},
        {"data": "d", "signature": "s", "expires_at": "2027-01-01T00:00:00"},
        {"data": "d", "signature": "s", "extra": 1},
    ):
        assert call(stack, "manage/xyte_add_license", device.id, body)[0] == 400, body
    assert (
        call(stack, "manage/xyte_add_license", device.id, {"data": "x" * 40_000, "signature": "s"})[0] == 413
    )
    assert call(stack, "manage/xyte_add_license", UNKNOWN, LICENSE)[0] == 404
    assert call(stack, "manage/xyte_remove_license", device.id, license=UNKNOWN)[0] == 404
    assert call(stack, "manage/xyte_get_license", device.id, license="nope")[0] == 400
    assert items(stack) == before


def test_aws_calls_per_request(stack: Stack) -> None:
    """The figures in docs/xyte-sync.md."""
    device = register("1.0.7")
    added = add(stack, device)
    counts = {}
    for label, name, body in (
        ("get_licenses", "xyte/licenses_get_licenses", None),
        ("answer", "xyte/licenses_update_license", {"id": added["id"], "state": "inuse"}),
        ("get_idle", "xyte/licenses_get_license", None),
    ):
        with recorded_aws_calls() as calls:
            ok(stack, name, device, body)
        counts[label] = [c.operation for c in calls]
    with recorded_aws_calls() as calls:
        add(stack, device)
    counts["add"] = [c.operation for c in calls]
    print(counts)
    assert counts["get_idle"] == ["GetItem", "GetItem", "Query"]
    assert counts["add"].count("Publish") == 1
