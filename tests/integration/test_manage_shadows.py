"""Operator API for device shadows (``/manage/v1/devices/{id}/shadow[s]``), handlers in process against
moto: the AWS GET document, desired updates (and their ThingsBoard shared-attribute side), delete with
the version carrying on, named shadows, history; every class of bad input refused with nothing written.

Rules: docs/thingdatas.md, "The shadow rules" (AWS semantics and messages)."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from fleetgate.domain.shadow import CLASSIC
from tests.integration.conftest import Device, Stack, create_device, event, td_event, with_body, with_query

MANAGE = "ManageShadowsFunction"
REPORT = "TdPostShadowReportedFunction"
GET_TD = "TdGetShadowFunction"
THING = "thermostat-001"


@pytest.fixture
def thing(stack: Stack) -> Device:
    return create_device(stack, THING)


def call(
    stack: Stack, name: str, device_id: str, *, body: Any = None, query: dict[str, str] | None = None
) -> tuple[int, Any]:
    ev = event(f"manage/{name}", device_id=device_id)
    if body is not None:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    if query is not None:
        ev = with_query(ev, query)
    response = stack.invoke(MANAGE, ev)
    return response["statusCode"], json.loads(response["body"])


def patch(stack: Stack, device: Device, body: Any, name: str | None = None) -> tuple[int, Any]:
    return call(stack, "update_shadow_desired", device.id, body=body, query={"name": name} if name else None)


def get(stack: Stack, device: Device, name: str | None = None) -> tuple[int, Any]:
    return call(stack, "get_shadow", device.id, query={"name": name} if name else None)


def delete(stack: Stack, device: Device, name: str | None = None) -> tuple[int, Any]:
    return call(stack, "delete_shadow", device.id, query={"name": name} if name else None)


def report(stack: Stack, auth: str, reported: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    ev = td_event("post_shadow_reported", auth, {"thingName": THING, "state": {"reported": reported}})
    if name:
        ev = with_query(ev, {"name": name})
    response = stack.invoke(REPORT, ev)
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def td_read(stack: Stack, auth: str, name: str | None = None) -> tuple[int, Any]:
    ev = td_event("get_shadow", auth, thingName=THING)
    if name:
        ev = with_query(ev, {"name": name})
    response = stack.invoke(GET_TD, ev)
    return response["statusCode"], json.loads(response["body"])


def written(stack: Stack) -> tuple[int, int, list[str]]:
    docs = boto3.client("dynamodb").scan(TableName=stack.table("ShadowsTable"))["Items"]
    return (
        stack.count_items("ShadowsTable"),
        stack.count_items("ShadowHistoryTable"),
        sorted(json.dumps(d, sort_keys=True) for d in docs),
    )


def attributes_queue_messages(device: Device) -> list[str]:
    sqs = boto3.client("sqs")
    url = next(u for u in sqs.list_queues()["QueueUrls"] if u.endswith(f"{device.id}-attributes"))
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )
    return [m["Body"] for m in messages]


def ts(t: int) -> dict[str, int]:
    return {"timestamp": t}


# --------------------------------------------------------------------------- GET
def test_get_returns_the_full_aws_document(stack: Stack, thing: Device, auth: str) -> None:
    reported = report(stack, auth, {"t": 20, "mode": "eco"})
    _, accepted = patch(stack, thing, {"state": {"desired": {"t": 24}}})
    before = int(time.time())

    status, body = get(stack, thing)

    data = body["data"]
    assert status == 200
    assert before <= data["timestamp"] <= int(time.time())  # the time of the read, as AWS
    assert data == {
        "state": {"desired": {"t": 24}, "reported": {"t": 20, "mode": "eco"}, "delta": {"t": 24}},
        "metadata": {
            "desired": {"t": ts(accepted["data"]["timestamp"])},
            "reported": {"t": ts(reported["timestamp"]), "mode": ts(reported["timestamp"])},
        },
        "version": 2,
        "timestamp": data["timestamp"],
    }


def test_get_of_a_shadow_never_written_is_404_with_the_aws_message(stack: Stack, thing: Device) -> None:
    classic_status, classic = get(stack, thing)
    named_status, named = get(stack, thing, "firmware")

    assert (classic_status, classic) == (
        404,
        {"error": {"code": 404, "message": f"No shadow exists with name: '{THING}'"}},
    )
    assert (named_status, named) == (
        404,
        {"error": {"code": 404, "message": "No shadow exists with name: 'firmware'"}},
    )


@pytest.mark.parametrize(
    "route",
    ["get_shadow", "update_shadow_desired", "delete_shadow", "list_named_shadows", "get_shadow_history"],
)
def test_unknown_device_is_404_on_every_route(stack: Stack, route: str) -> None:
    body = {"state": {"desired": {"a": 1}}} if route == "update_shadow_desired" else None

    status, payload = call(stack, route, "8f14e45f-ceea-467f-a0e6-000000000000", body=body)

    assert status == 404
    assert payload["error"]["code"] == 404
    assert stack.count_items("ShadowsTable") == 0


# --------------------------------------------------------------------------- PATCH desired
def test_patch_merges_desired_and_returns_the_accepted_document(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"t": 20, "cfg": {"a": 1, "b": 2}, "list": [1, 2]}}})
    before = int(time.time())

    status, body = patch(
        stack,
        thing,
        {"state": {"desired": {"t": None, "cfg": {"b": None, "c": 3}, "list": [3]}}, "clientToken": "op-1"},
    )

    data = body["data"]
    stamp = data["timestamp"]
    assert status == 200
    assert before <= stamp <= int(time.time())
    assert data == {
        "state": {"desired": {"t": None, "cfg": {"b": None, "c": 3}, "list": [3]}},
        "metadata": {
            "desired": {"t": ts(stamp), "cfg": {"b": ts(stamp), "c": ts(stamp)}, "list": [ts(stamp)]}
        },
        "version": 2,
        "timestamp": stamp,
        "clientToken": "op-1",
    }
    assert get(stack, thing)[1]["data"]["state"]["desired"] == {"cfg": {"a": 1, "c": 3}, "list": [3]}


def test_event_example_sets_desired(stack: Stack, thing: Device) -> None:
    response = stack.invoke(MANAGE, event("manage/update_shadow_desired", device_id=thing.id))

    assert response["statusCode"] == 200
    assert get(stack, thing)[1]["data"]["state"]["desired"] == {"targetTemperature": 24}


def test_null_desired_removes_the_section(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"t": 20})
    patch(stack, thing, {"state": {"desired": {"t": 24}}})

    status, _ = patch(stack, thing, {"state": {"desired": None}})

    state = get(stack, thing)[1]["data"]["state"]
    assert status == 200
    assert state == {"reported": {"t": 20}}


def test_patch_with_the_current_version_is_accepted(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"t": 20}}})

    status, body = patch(stack, thing, {"state": {"desired": {"t": 21}}, "version": 1})

    assert (status, body["data"]["version"]) == (200, 2)


def test_patch_with_another_version_is_409_and_writes_nothing(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"t": 20}}})
    before = written(stack)

    status, body = patch(stack, thing, {"state": {"desired": {"t": 21}}, "version": 5})

    assert (status, body) == (409, {"error": {"code": 409, "message": "Version conflict"}})
    assert written(stack) == before


def test_desired_changes_leave_no_history(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"t": 20}}})

    assert stack.count_items("ShadowHistoryTable") == 0


BAD_PATCHES = [
    pytest.param("{nope", "Invalid JSON", id="malformed-json"),
    pytest.param("[1]", "The body must be a JSON object", id="array-body"),
    pytest.param({"desired": {"a": 1}}, "Missing required node: state", id="no-state"),
    pytest.param({"state": None}, "State node must be an object", id="state-null"),
    pytest.param({"state": "x"}, "State node must be an object", id="state-string"),
    pytest.param({"state": {}}, "Missing required node: desired", id="state-empty"),
    pytest.param({"state": {"desired": 1}}, "Desired node must be an object", id="desired-number"),
    pytest.param(
        {"state": {"reported": {"a": 1}}}, "State contains an invalid node: 'reported'", id="reported"
    ),
    pytest.param(
        {"state": {"desired": {"a": 1}, "delta": {}}}, "State contains an invalid node: 'delta'", id="delta"
    ),
    pytest.param({"state": {"desired": {"a": 1}}, "version": -1}, "Invalid version", id="version-negative"),
    pytest.param({"state": {"desired": {"a": 1}}, "version": "2"}, "Invalid version", id="version-string"),
    pytest.param(
        {"state": {"desired": {"a": 1}}, "clientToken": "t" * 65}, "Invalid clientToken", id="token"
    ),
    pytest.param(
        {"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}},
        "JSON contains too many levels of nesting; maximum is 6",
        id="too-deep",
    ),
    pytest.param(
        {"state": {"desired": {"a": [None]}}}, "Invalid JSON: arrays can't have null values", id="null-array"
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_PATCHES)
def test_bad_patch_is_400_and_writes_nothing(stack: Stack, thing: Device, body: Any, message: str) -> None:
    patch(stack, thing, {"state": {"desired": {"t": 20}}})
    before = written(stack)

    status, payload = patch(stack, thing, body)

    assert status == 400
    assert payload["error"]["code"] == 400
    if message == "Invalid JSON":  # the operator API adds the parser's detail
        assert payload["error"]["message"].startswith("Invalid JSON: ")
    else:
        assert payload["error"]["message"] == message
    assert written(stack) == before


def test_patch_over_8_kb_is_413_and_writes_nothing(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"t": 20}}})
    before = written(stack)

    status, payload = patch(stack, thing, {"state": {"desired": {"big": "x" * 8200}}})

    assert (status, payload) == (
        413,
        {"error": {"code": 413, "message": "The payload exceeds the maximum size allowed"}},
    )
    assert written(stack) == before


@pytest.mark.parametrize(
    "route", ["get_shadow", "update_shadow_desired", "delete_shadow", "get_shadow_history"]
)
def test_bad_shadow_name_is_400(stack: Stack, thing: Device, route: str) -> None:
    body = {"state": {"desired": {"a": 1}}} if route == "update_shadow_desired" else None

    status, payload = call(stack, route, thing.id, body=body, query={"name": "no/slashes"})

    assert status == 400
    assert payload["error"]["message"].startswith("Invalid shadow name")
    assert stack.count_items("ShadowsTable") == 0


# --------------------------------------------------------------------------- ThingsBoard parity
def test_desired_set_here_is_a_thingsboard_shared_attribute(stack: Stack, thing: Device) -> None:
    """ThingDatas → ThingsBoard: the classic shadow's desired state is what a ThingsBoard device reads
    as shared attributes, and its attribute poller is woken and fed."""
    status, _ = patch(stack, thing, {"state": {"desired": {"targetTemperature": 24, "mode": "eco"}}})
    assert status == 200
    wake_ups = attributes_queue_messages(thing)

    attributes = stack.invoke(
        "TbGetAttributesFunction",
        with_query(
            event("thingsboard/get_attributes", token=thing.token), {"sharedKeys": "targetTemperature"}
        ),
    )
    started = time.monotonic()
    update = stack.invoke(
        "TbGetAttributeUpdatesFunction",
        with_query(event("thingsboard/get_attribute_updates", token=thing.token), {"timeout": "3000"}),
    )

    assert wake_ups == ["attributes"]
    assert json.loads(attributes["body"]) == {"shared": {"targetTemperature": 24}}
    assert update["statusCode"] == 200
    assert json.loads(update["body"]) == {"targetTemperature": 24, "mode": "eco"}
    assert time.monotonic() - started < 2


def test_named_shadow_desired_is_not_a_shared_attribute(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"fw": "2.0"}}}, name="firmware")

    attributes = stack.invoke(
        "TbGetAttributesFunction", event("thingsboard/get_attributes", token=thing.token)
    )

    assert attributes_queue_messages(thing) == []
    assert json.loads(attributes["body"]) == {}


def test_deleting_the_classic_shadow_deletes_the_shared_attributes(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"mode": "eco"}}})
    poll = with_query(event("thingsboard/get_attribute_updates", token=thing.token), {"timeout": "1000"})
    assert json.loads(stack.invoke("TbGetAttributeUpdatesFunction", poll)["body"]) == {"mode": "eco"}
    attributes_queue_messages(thing)  # drain the wake-up of the patch

    delete(stack, thing)

    assert attributes_queue_messages(thing) == ["attributes"]
    assert json.loads(stack.invoke("TbGetAttributeUpdatesFunction", poll)["body"]) == {"deleted": ["mode"]}


# --------------------------------------------------------------------------- DELETE
def test_delete_answers_the_deleted_version_and_the_next_write_carries_on(
    stack: Stack, thing: Device, auth: str
) -> None:
    report(stack, auth, {"t": 1})
    patch(stack, thing, {"state": {"desired": {"t": 2}}})
    before = int(time.time())

    status, body = delete(stack, thing)

    assert status == 200
    assert body["data"]["version"] == 2
    assert before <= body["data"]["timestamp"] <= int(time.time())
    assert get(stack, thing)[0] == 404
    assert delete(stack, thing)[0] == 404
    assert report(stack, auth, {"t": 3})["version"] == 3  # AWS: the version continues after a delete
    assert get(stack, thing)[1]["data"]["state"] == {"reported": {"t": 3}}


def test_deleted_classic_shadow_reads_as_empty_on_thingdatas_with_its_version(
    stack: Stack, thing: Device, auth: str
) -> None:
    report(stack, auth, {"t": 1})
    delete(stack, thing)

    status, body = td_read(stack, auth)

    assert status == 200
    assert {k: body[k] for k in ("reported", "desired", "delta", "version")} == {
        "reported": {},
        "desired": {},
        "delta": {},
        "version": 1,
    }
    assert body["updatedAt"] is not None


def test_deleted_named_shadow_is_404_on_thingdatas_and_reports_recreate_it(
    stack: Stack, thing: Device, auth: str
) -> None:
    report(stack, auth, {"fw": "1"}, name="firmware")
    delete(stack, thing, "firmware")

    gone_status, gone = td_read(stack, auth, "firmware")
    recreated = report(stack, auth, {"fw": "2"}, name="firmware")

    assert (gone_status, gone["message"]) == (404, "No shadow exists with name: 'firmware'")
    assert recreated["version"] == 2
    assert td_read(stack, auth, "firmware")[1]["reported"] == {"fw": "2"}


def test_patch_with_the_deleted_version_is_accepted(stack: Stack, thing: Device) -> None:
    patch(stack, thing, {"state": {"desired": {"t": 1}}})
    delete(stack, thing)

    status, body = patch(stack, thing, {"state": {"desired": {"t": 2}}, "version": 1})

    assert (status, body["data"]["version"]) == (200, 2)


# --------------------------------------------------------------------------- list named
def test_list_named_shadows_excludes_the_classic_and_deleted_ones_and_pages(
    stack: Stack, thing: Device, auth: str
) -> None:
    report(stack, auth, {"t": 1})
    for name in ("alpha", "beta", "gamma", "delta"):
        report(stack, auth, {"n": name}, name=name)
    report(stack, auth, {"n": 2}, name="beta")
    delete(stack, thing, "gamma")

    status, first = call(stack, "list_named_shadows", thing.id, query={"limit": "2"})
    _, second = call(
        stack, "list_named_shadows", thing.id, query={"limit": "2", "nextToken": first["nextToken"]}
    )

    assert status == 200
    assert [s["name"] for s in first["data"]] == ["alpha", "beta"]
    assert first["count"] == 2
    assert [s["name"] for s in second["data"]] == ["delta"]
    assert "nextToken" not in second
    beta = first["data"][1]
    assert beta["version"] == 2
    assert beta["updatedAt"].endswith("Z")


def test_list_named_shadows_of_a_device_without_any_is_empty(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"t": 1})

    status, body = call(stack, "list_named_shadows", thing.id)

    assert (status, body) == (200, {"data": [], "count": 0})


@pytest.mark.parametrize("route", ["list_named_shadows", "get_shadow_history"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit must be between 1 and 100"),
        ({"limit": "101"}, "limit must be between 1 and 100"),
        ({"limit": "ten"}, "limit must be an integer"),
        ({"nextToken": "%%%"}, "Invalid nextToken"),
    ],
)
def test_bad_paging_is_400(
    stack: Stack, thing: Device, route: str, query: dict[str, str], message: str
) -> None:
    status, body = call(stack, route, thing.id, query=query)

    assert (status, body) == (400, {"error": {"code": 400, "message": message}})


# --------------------------------------------------------------------------- history
def test_history_is_newest_first_per_shadow_and_pages(stack: Stack, thing: Device, auth: str) -> None:
    for i in range(3):
        ev = td_event(
            "post_shadow_reported",
            auth,
            {"thingName": THING, "state": {"reported": {"t": i}}, "clientToken": f"c{i}"},
        )
        assert stack.invoke(REPORT, ev)["statusCode"] == 200
    report(stack, auth, {"fw": "1"}, name="firmware")
    patch(stack, thing, {"state": {"desired": {"t": 9}}})  # version 4, not a report

    status, first = call(stack, "get_shadow_history", thing.id, query={"limit": "2"})
    _, second = call(
        stack, "get_shadow_history", thing.id, query={"limit": "2", "nextToken": first["nextToken"]}
    )
    _, named = call(stack, "get_shadow_history", thing.id, query={"name": "firmware"})

    assert status == 200
    entries = first["data"] + second["data"]
    assert [(e["version"], e["reported"], e["clientToken"], e["source"]) for e in entries] == [
        (3, {"t": 2}, "c2", "thingdatas"),
        (2, {"t": 1}, "c1", "thingdatas"),
        (1, {"t": 0}, "c0", "thingdatas"),
    ]
    assert all(isinstance(e["timestamp"], int) for e in entries)
    assert (
        "nextToken" not in second
        or call(
            stack, "get_shadow_history", thing.id, query={"limit": "2", "nextToken": second["nextToken"]}
        )[1]["data"]
        == []
    )
    assert [(e["version"], e["reported"]) for e in named["data"]] == [(1, {"fw": "1"})]
    assert "clientToken" not in named["data"][0]


def test_history_outlives_a_deleted_shadow(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"t": 1})
    delete(stack, thing)
    report(stack, auth, {"t": 2})

    _, body = call(stack, "get_shadow_history", thing.id)

    assert [(e["version"], e["reported"]) for e in body["data"]] == [(2, {"t": 2}), (1, {"t": 1})]


def test_deleting_a_device_deletes_its_shadows_and_history(stack: Stack, thing: Device, auth: str) -> None:
    other = create_device(stack, "other-thing")
    for i in range(30):  # more than one BatchWriteItem's worth
        report(stack, auth, {"t": i})
    report(stack, auth, {"fw": "1"}, name="firmware")
    stack.invoke(
        "TbPostAttributesFunction",
        with_body(event("thingsboard/post_attributes", token=other.token), '{"x": 1}'),
    )

    response = stack.invoke("ManageDevicesFunction", event("manage/delete_device", device_id=thing.id))

    assert response["statusCode"] == 204
    history = boto3.client("dynamodb").scan(TableName=stack.table("ShadowHistoryTable"))["Items"]
    assert [i["deviceId"]["S"] for i in history] == [other.id]
    shadows_left = boto3.client("dynamodb").scan(TableName=stack.table("ShadowsTable"))["Items"]
    assert [i["deviceId"]["S"] for i in shadows_left] == [other.id]
    assert shadows_left[0]["shadowName"]["S"] == CLASSIC
