"""Operator API for device profiles (/manage/v1/device-profiles) and pre-provisioned devices
(POST /manage/v1/devices with a profileId)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.integration.conftest import Stack, event, with_body, with_query

PROFILES = "ManageProfilesFunction"
DEVICES = "ManageDevicesFunction"


def call(
    stack: Stack,
    name: str,
    *,
    profile_id: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    function: str = PROFILES,
) -> tuple[int, Any]:
    ev = event(name) if profile_id is None else event(name, device_id=profile_id)
    if body is not None:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    if query is not None:
        ev = with_query(ev, query)
    response = stack.invoke(function, ev)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def create_profile(
    stack: Stack, name: str = "thermostats", strategy: str = "ALLOW_CREATE_NEW_DEVICES", **extra: Any
) -> dict[str, Any]:
    status, body = call(
        stack, "manage/create_device_profile", body={"name": name, "provisionStrategy": strategy, **extra}
    )
    assert status == 201, body
    data: dict[str, Any] = body["data"]
    return data


def provision(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.invoke(
        "TbProvisionFunction", with_body(event("thingsboard/provision"), json.dumps(body))
    )
    assert response["statusCode"] == 200, response
    result: dict[str, Any] = json.loads(response["body"])
    return result


def provision_with(stack: Stack, profile: dict[str, Any], name: str, secret: str | None = None) -> str:
    return str(
        provision(
            stack,
            {
                "deviceName": name,
                "provisionDeviceKey": profile["provisionDeviceKey"],
                "provisionDeviceSecret": secret or profile["provisionDeviceSecret"],
            },
        )["status"]
    )


def stored_items(stack: Stack) -> str:
    return json.dumps(boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"])


# ------------------------------------------------------------------ create
def test_create_shows_the_secret_once_and_stores_only_its_digest(stack: Stack) -> None:
    data = create_profile(stack)

    assert data["name"] == "thermostats"
    assert data["provisionStrategy"] == "ALLOW_CREATE_NEW_DEVICES"
    assert len(data["provisionDeviceKey"]) == 20
    assert len(data["provisionDeviceSecret"]) == 20
    assert data["provisionDeviceSecret"] not in stored_items(stack)
    status, fetched = call(stack, "manage/get_device_profile", profile_id=data["id"])
    assert status == 200
    assert "provisionDeviceSecret" not in fetched["data"]
    assert fetched["data"]["provisionDeviceKey"] == data["provisionDeviceKey"]


def test_a_chosen_provision_key_is_kept(stack: Stack) -> None:
    data = create_profile(stack, provisionDeviceKey="my-key:1")

    assert data["provisionDeviceKey"] == "my-key:1"


def test_duplicate_name_is_409_and_writes_nothing(stack: Stack) -> None:
    create_profile(stack, "pumps")
    before = stack.count_items("DevicesTable")

    status, body = call(
        stack, "manage/create_device_profile", body={"name": "pumps", "provisionStrategy": "DISABLED"}
    )

    assert status == 409
    assert "pumps" in body["error"]["message"]
    assert stack.count_items("DevicesTable") == before


def test_duplicate_provision_key_is_409_and_writes_nothing(stack: Stack) -> None:
    create_profile(stack, "pumps", provisionDeviceKey="shared-key")
    before = stack.count_items("DevicesTable")

    status, body = call(
        stack,
        "manage/create_device_profile",
        body={"name": "valves", "provisionStrategy": "DISABLED", "provisionDeviceKey": "shared-key"},
    )

    assert status == 409
    assert "provisionDeviceKey" in body["error"]["message"]
    assert stack.count_items("DevicesTable") == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "p"},
        {"provisionStrategy": "DISABLED"},
        {"name": "", "provisionStrategy": "DISABLED"},
        {"name": "x" * 65, "provisionStrategy": "DISABLED"},
        {"name": " padded", "provisionStrategy": "DISABLED"},
        {"name": "ctl\u0001", "provisionStrategy": "DISABLED"},
        {"name": "p", "provisionStrategy": "SOMETIMES"},
        {"name": "p", "provisionStrategy": "DISABLED", "provisionDeviceKey": "has space"},
        {"name": "p", "provisionStrategy": "DISABLED", "provisionDeviceKey": ""},
        {"name": "p", "provisionStrategy": "DISABLED", "provisionDeviceSecret": "chosen"},
        "[]",
        "not json",
        "",
    ],
)
def test_invalid_profile_is_400_and_writes_nothing(stack: Stack, body: Any) -> None:
    status, response = call(stack, "manage/create_device_profile", body=body)

    assert status == 400
    assert response["error"]["code"] == 400
    assert stack.count_items("DevicesTable") == 0


# ------------------------------------------------------------------ read and list
def test_list_is_paginated_by_name(stack: Stack) -> None:
    for name in ("c-profile", "a-profile", "b-profile"):
        create_profile(stack, name, "DISABLED")

    status, first = call(stack, "manage/list_device_profiles", query={"limit": "2"})
    _, second = call(
        stack, "manage/list_device_profiles", query={"limit": "2", "nextToken": first["nextToken"]}
    )

    assert status == 200
    assert [p["name"] for p in first["data"]] == ["a-profile", "b-profile"]
    assert first["count"] == 2
    assert [p["name"] for p in second["data"]] == ["c-profile"]
    assert "nextToken" not in second
    assert all("provisionDeviceSecret" not in p for p in first["data"] + second["data"])


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"nextToken": "%%%"}])
def test_bad_list_parameters_are_400(stack: Stack, query: dict[str, str]) -> None:
    status, body = call(stack, "manage/list_device_profiles", query=query)

    assert status == 400
    assert body["error"]["code"] == 400


@pytest.mark.parametrize(
    "name", ["manage/get_device_profile", "manage/rotate_provision_secret", "manage/delete_device_profile"]
)
def test_unknown_profile_is_404(stack: Stack, name: str) -> None:
    status, body = call(stack, name, profile_id="no-such-profile")

    assert status == 404
    assert body["error"]["code"] == 404


# ------------------------------------------------------------------ update, rotate, delete
def test_patch_changes_the_strategy_that_provisioning_applies(stack: Stack) -> None:
    profile = create_profile(stack)

    status, body = call(
        stack,
        "manage/update_device_profile",
        profile_id=profile["id"],
        body={"provisionStrategy": "DISABLED"},
    )

    assert status == 200
    assert body["data"]["provisionStrategy"] == "DISABLED"
    assert provision_with(stack, profile, "pump-1") == "NOT_FOUND"
    call(
        stack,
        "manage/update_device_profile",
        profile_id=profile["id"],
        body={"provisionStrategy": "ALLOW_CREATE_NEW_DEVICES"},
    )
    assert provision_with(stack, profile, "pump-1") == "SUCCESS"


@pytest.mark.parametrize(
    "body", [{}, {"provisionStrategy": "NEVER"}, {"name": "renamed"}, "[]", "not json", ""]
)
def test_bad_patch_is_400_and_changes_nothing(stack: Stack, body: Any) -> None:
    profile = create_profile(stack)

    status, response = call(stack, "manage/update_device_profile", profile_id=profile["id"], body=body)

    assert status == 400
    assert response["error"]["code"] == 400
    _, fetched = call(stack, "manage/get_device_profile", profile_id=profile["id"])
    assert fetched["data"]["provisionStrategy"] == "ALLOW_CREATE_NEW_DEVICES"
    assert fetched["data"]["updatedAt"] == profile["updatedAt"]


def test_patch_of_unknown_profile_is_404(stack: Stack) -> None:
    status, _ = call(
        stack, "manage/update_device_profile", profile_id="nope", body={"provisionStrategy": "DISABLED"}
    )

    assert status == 404


def test_rotated_secret_replaces_the_old_one_at_once(stack: Stack) -> None:
    profile = create_profile(stack)

    status, body = call(stack, "manage/rotate_provision_secret", profile_id=profile["id"])

    assert status == 200
    new_secret = body["data"]["provisionDeviceSecret"]
    assert new_secret != profile["provisionDeviceSecret"]
    assert body["data"]["provisionDeviceKey"] == profile["provisionDeviceKey"]
    assert provision_with(stack, profile, "old-secret") == "NOT_FOUND"
    assert provision_with(stack, profile, "new-secret", new_secret) == "SUCCESS"
    assert new_secret not in stored_items(stack)


def test_delete_removes_the_profile_its_name_and_its_key(stack: Stack) -> None:
    profile = create_profile(stack)

    status, _ = call(stack, "manage/delete_device_profile", profile_id=profile["id"])

    assert status == 204
    assert call(stack, "manage/get_device_profile", profile_id=profile["id"])[0] == 404
    assert stack.count_items("DevicesTable") == 0
    assert provision_with(stack, profile, "after-delete") == "NOT_FOUND"
    assert create_profile(stack)["name"] == "thermostats"  # the name is free again


def test_delete_of_a_profile_in_use_is_409_and_keeps_it(stack: Stack) -> None:
    profile = create_profile(stack)
    assert provision_with(stack, profile, "pump-1") == "SUCCESS"

    status, body = call(stack, "manage/delete_device_profile", profile_id=profile["id"])

    assert status == 409
    assert "used by devices" in body["error"]["message"]
    assert call(stack, "manage/get_device_profile", profile_id=profile["id"])[0] == 200


# ------------------------------------------------------------------ devices of a profile
def test_profile_devices_lists_provisioned_and_pre_provisioned_devices(stack: Stack) -> None:
    profile = create_profile(stack)
    other = create_profile(stack, "other", "DISABLED")
    assert provision_with(stack, profile, "b-provisioned") == "SUCCESS"
    status, created = call(
        stack,
        "manage/create_device",
        body={"name": "a-pre", "profileId": profile["id"]},
        function=DEVICES,
    )
    assert status == 201
    call(stack, "manage/create_device", body={"name": "c-other", "profileId": other["id"]}, function=DEVICES)
    call(stack, "manage/create_device", body={"name": "d-none"}, function=DEVICES)

    status, page = call(stack, "manage/list_device_profile_devices", profile_id=profile["id"])

    assert status == 200
    assert [d["name"] for d in page["data"]] == ["a-pre", "b-provisioned"]
    assert {d["type"] for d in page["data"]} == {"thermostats"}
    assert created["data"]["profileId"] == profile["id"]


def test_devices_of_unknown_profile_is_404(stack: Stack) -> None:
    status, _ = call(stack, "manage/list_device_profile_devices", profile_id="nope")

    assert status == 404


def test_pre_provisioned_device_keeps_an_explicit_type(stack: Stack) -> None:
    profile = create_profile(stack)

    status, body = call(
        stack,
        "manage/create_device",
        body={"name": "typed", "type": "pump", "profileId": profile["id"]},
        function=DEVICES,
    )

    assert status == 201
    assert body["data"]["type"] == "pump"
    assert body["data"]["profileId"] == profile["id"]


@pytest.mark.parametrize("profile_id", ["no-such-profile", "", 5])
def test_device_with_unknown_profile_is_400_and_writes_nothing(stack: Stack, profile_id: Any) -> None:
    profile = create_profile(stack, "p", "DISABLED")
    before = stack.count_items("DevicesTable")

    status, body = call(
        stack,
        "manage/create_device",
        body={"name": "orphan", "type": "pump", "profileId": profile_id},
        function=DEVICES,
    )

    assert status == 400
    assert body["error"]["code"] == 400
    assert stack.count_items("DevicesTable") == before
    assert profile["id"] != profile_id
