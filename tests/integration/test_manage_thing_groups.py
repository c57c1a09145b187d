"""Static thing groups through the operator API (``/manage/v1/thing-groups``): create, read, list,
delete, members; every class of bad input."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from fleetgate_local.inprocess import load_event
from tests.integration.conftest import EVENTS, Stack, create_device, event, with_body, with_query

MANAGE = "ManageThingGroupsFunction"


def call(
    stack: Stack, name: str, body: Any = None, query: dict[str, str] | None = None, **path: str
) -> tuple[int, Any]:
    ev = load_event(EVENTS / "manage" / f"{name}.json")
    for param, value in path.items():
        old = ev["pathParameters"][param]
        ev["pathParameters"][param] = value
        ev["rawPath"] = ev["requestContext"]["http"]["path"] = ev["rawPath"].replace(
            f"/{old}", f"/{value}", 1
        )
    if body is not None:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    if query is not None:
        ev = with_query(ev, query)
    response = stack.invoke(MANAGE, ev)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def registry_items(stack: Stack, prefix: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]
    return [i for i in items if i["pk"]["S"].startswith(prefix) or i["sk"]["S"].startswith(prefix)]


def test_a_group_is_created_read_and_listed(stack: Stack) -> None:
    status, created = call(stack, "create_thing_group", {"name": "thermostats", "description": "All of them"})
    call(stack, "create_thing_group", {"name": "boilers"})

    assert status == 201
    assert created["data"]["name"] == "thermostats"
    assert created["data"]["description"] == "All of them"
    assert call(stack, "get_thing_group")[1]["data"]["name"] == "thermostats"
    status, listed = call(stack, "list_thing_groups")
    assert [g["name"] for g in listed["data"]] == ["boilers", "thermostats"]
    status, first = call(stack, "list_thing_groups", query={"limit": "1"})
    assert len(first["data"]) == 1 and first["nextToken"]


def test_a_group_name_is_taken_once(stack: Stack) -> None:
    call(stack, "create_thing_group", {"name": "thermostats"})

    status, body = call(stack, "create_thing_group", {"name": "thermostats"})

    assert status == 409
    assert "already exists" in body["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "[]",
        {},
        {"name": ""},
        {"name": "has space"},
        {"name": "x" * 129},
        {"name": "g", "colour": "red"},
        {"name": "g", "description": "d" * 2029},
        {"name": 7},
    ],
)
def test_invalid_groups_are_400_and_create_nothing(stack: Stack, body: Any) -> None:
    status, answer = call(stack, "create_thing_group", body)

    assert status == 400
    assert answer["error"]["code"] == 400
    assert registry_items(stack, "GROUP#") == []


def test_things_join_and_leave_a_group(stack: Stack) -> None:
    one = create_device(stack, "thermostat-001")
    create_device(stack, "thermostat-002")
    call(stack, "create_thing_group", {"name": "thermostats"})

    status, added = call(stack, "add_thing_to_group")
    call(stack, "add_thing_to_group", thingName="thermostat-002")
    again = call(stack, "add_thing_to_group")  # adding a member twice changes nothing

    assert status == 200
    assert added["data"] == {"groupName": "thermostats", "thingName": "thermostat-001", "deviceId": one.id}
    assert again[0] == 200
    members = call(stack, "list_thing_group_members")[1]["data"]
    assert [m["thingName"] for m in members] == ["thermostat-001", "thermostat-002"]

    assert call(stack, "remove_thing_from_group")[0] == 204
    assert [m["thingName"] for m in call(stack, "list_thing_group_members")[1]["data"]] == ["thermostat-002"]
    status, body = call(stack, "remove_thing_from_group")
    assert status == 404
    assert "not a member" in body["error"]["message"]


def test_unknown_groups_and_things_are_404(stack: Stack) -> None:
    create_device(stack, "thermostat-001")
    call(stack, "create_thing_group", {"name": "thermostats"})

    assert call(stack, "get_thing_group", groupName="ghosts")[0] == 404
    assert call(stack, "list_thing_group_members", groupName="ghosts")[0] == 404
    assert call(stack, "add_thing_to_group", groupName="ghosts")[0] == 404
    assert call(stack, "add_thing_to_group", thingName="ghost")[0] == 404
    assert call(stack, "delete_thing_group", groupName="ghosts")[0] == 404
    assert call(stack, "add_thing_to_group", thingName="bad name!")[0] == 400
    assert registry_items(stack, "GROUP#") == registry_items(stack, "GROUP#thermostats")
    assert len(registry_items(stack, "GROUP#")) == 1


def test_deleting_a_group_removes_its_memberships_on_both_sides(stack: Stack) -> None:
    create_device(stack, "thermostat-001")
    call(stack, "create_thing_group", {"name": "thermostats"})
    call(stack, "add_thing_to_group")

    assert call(stack, "delete_thing_group")[0] == 204

    assert call(stack, "get_thing_group")[0] == 404
    assert registry_items(stack, "GROUP#") == []


def test_deleting_a_device_removes_it_from_its_groups(stack: Stack) -> None:
    device = create_device(stack, "thermostat-001")
    call(stack, "create_thing_group", {"name": "thermostats"})
    call(stack, "add_thing_to_group")

    response = stack.invoke("ManageDevicesFunction", event("manage/delete_device", device_id=device.id))

    assert response["statusCode"] == 204
    assert call(stack, "list_thing_group_members")[1]["data"] == []
    assert registry_items(stack, "GROUP#") == registry_items(stack, "GROUP#thermostats")
    assert len(registry_items(stack, "GROUP#")) == 1  # only the group itself
