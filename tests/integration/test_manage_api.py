"""Operator API v0 (/manage/v1): login, devices and credentials, telemetry and attributes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.integration.conftest import Device, Stack, create_device, event, with_body, with_query

MANAGE = "ManageDevicesFunction"


def call(
    stack: Stack,
    name: str,
    *,
    device_id: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    ev = event(name) if device_id is None else event(name, device_id=device_id)
    if body is not None:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    if query is not None:
        ev = with_query(ev, query)
    response = stack.invoke(MANAGE, ev)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def post_telemetry(stack: Stack, token: str, body: str = '{"a": 1}') -> int:
    response = stack.invoke(
        "TbPostTelemetryFunction", with_body(event("thingsboard/post_telemetry", token=token), body)
    )
    return int(response["statusCode"])


# ------------------------------------------------------------------ login
@pytest.fixture
def operator(stack: Stack) -> tuple[str, str]:
    idp = boto3.client("cognito-idp")
    pool = stack.provisioned.physical_ids["OperatorUserPool"]
    idp.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Correct-horse-1", Permanent=True)
    return "alice", "Correct-horse-1"


def login(stack: Stack, name: str, password: str) -> dict[str, Any]:
    return stack.invoke(
        "ManageAuthFunction",
        with_body(event("manage/login"), json.dumps({"name": name, "password": password})),
    )


def test_login_returns_a_jwt_and_the_user(stack: Stack, operator: tuple[str, str]) -> None:
    response = login(stack, *operator)

    assert response["statusCode"] == 200
    data = json.loads(response["body"])["data"]
    assert data["token"].count(".") == 2
    assert data["user"]["name"] == "alice"
    assert data["user"]["isActive"] is True


def test_wrong_password_is_401_in_the_envelope(stack: Stack, operator: tuple[str, str]) -> None:
    response = login(stack, operator[0], "Wrong-password-1")

    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"error": {"code": 401, "message": "Incorrect name or password"}}


@pytest.mark.parametrize("body", ['{"name": "alice"}', "[]", "not json", '{"name": "", "password": "x"}'])
def test_malformed_login_is_400(stack: Stack, body: str) -> None:
    response = stack.invoke("ManageAuthFunction", with_body(event("manage/login"), body))

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == 400


# ------------------------------------------------------------------ devices
def test_create_device_shows_the_token_once_and_stores_only_its_hash(stack: Stack) -> None:
    status, body = call(
        stack, "manage/create_device", body={"name": "pump-7", "type": "pump", "label": "Basement"}
    )

    assert status == 201
    data = body["data"]
    token = data["credentials"]["accessToken"]
    assert len(token) == 20
    assert {data["name"], data["type"], data["label"]} == {"pump-7", "pump", "Basement"}
    stored = json.dumps(boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"])
    assert token not in stored
    _, fetched = call(stack, "manage/get_device", device_id=data["id"])
    assert "credentials" not in fetched["data"]
    assert fetched["data"]["name"] == "pump-7"


def test_duplicate_name_is_409_and_writes_nothing(stack: Stack, device: Device) -> None:
    before = stack.count_items("DevicesTable")

    status, body = call(stack, "manage/create_device", body={"name": "thermostat-1"})

    assert status == 409
    assert body["error"]["code"] == 409
    assert stack.count_items("DevicesTable") == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "has space"},
        {"name": "x" * 129},
        {"name": 5},
        {"name": "ok", "type": ""},
        {"name": "ok", "label": "l" * 257},
        "[]",
        "{bad json",
    ],
)
def test_invalid_device_is_400_and_writes_nothing(stack: Stack, body: Any) -> None:
    status, response = call(stack, "manage/create_device", body=body)

    assert status == 400
    assert response["error"]["code"] == 400
    assert stack.count_items("DevicesTable") == 0


def test_list_devices_is_paginated_by_name(stack: Stack) -> None:
    for name in ["c-dev", "a-dev", "b-dev"]:
        create_device(stack, name)

    status, first = call(stack, "manage/list_devices", query={"limit": "2"})
    _, second = call(stack, "manage/list_devices", query={"limit": "2", "nextToken": first["nextToken"]})

    assert status == 200
    assert [d["name"] for d in first["data"]] == ["a-dev", "b-dev"]
    assert [d["name"] for d in second["data"]] == ["c-dev"]
    assert "nextToken" not in second


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"nextToken": "%%%"}])
def test_bad_list_parameters_are_400(stack: Stack, query: dict[str, str]) -> None:
    status, body = call(stack, "manage/list_devices", query=query)

    assert status == 400
    assert body["error"]["code"] == 400


def test_unknown_device_is_404(stack: Stack) -> None:
    status, body = call(stack, "manage/get_device", device_id="00000000-0000-0000-0000-000000000000")

    assert status == 404
    assert body["error"]["code"] == 404


def test_deleted_device_token_stops_working_at_once(stack: Stack, device: Device) -> None:
    assert post_telemetry(stack, device.token) == 200
    claim = stack.invoke("TbPostClaimFunction", event("thingsboard/post_claim", token=device.token))
    assert claim["statusCode"] == 200  # the device now has a claiming window stored under its key

    status, _ = call(stack, "manage/delete_device", device_id=device.id)

    assert status == 204
    assert post_telemetry(stack, device.token) == 401
    assert call(stack, "manage/get_device", device_id=device.id)[0] == 404
    assert call(stack, "manage/create_device", body={"name": "thermostat-1"})[0] == 201  # the name is free
    leftovers = boto3.client("dynamodb").query(
        TableName=stack.table("DevicesTable"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"DEVICE#{device.id}"}},
    )["Items"]
    assert leftovers == []
    assert boto3.client("sqs").list_queues(QueueNamePrefix=f"fg-local-{device.id}").get("QueueUrls", []) == []


def test_regenerated_credentials_replace_the_old_token(stack: Stack, device: Device) -> None:
    status, body = call(stack, "manage/regenerate_credentials", device_id=device.id)

    new_token = body["data"]["credentials"]["accessToken"]
    assert status == 200
    assert new_token != device.token
    assert post_telemetry(stack, device.token) == 401
    assert post_telemetry(stack, new_token) == 200


# ------------------------------------------------------------------ telemetry
def test_telemetry_history_filters_keys_range_and_limit(stack: Stack, device: Device) -> None:
    for ts in (1000, 2000, 3000):
        post_telemetry(stack, device.token, json.dumps({"ts": ts, "values": {"t": ts // 100, "h": 1}}))

    status, body = call(
        stack,
        "manage/get_telemetry",
        device_id=device.id,
        query={"keys": "t", "startTs": "1500", "endTs": "3000", "limit": "1"},
    )

    assert status == 200
    assert body["data"] == {"t": [{"ts": 3000, "value": 30}]}


def test_latest_telemetry_filters_keys(stack: Stack, device: Device) -> None:
    post_telemetry(stack, device.token, '{"ts": 5, "values": {"t": 1, "h": 2}}')

    _, body = call(stack, "manage/get_latest_telemetry", device_id=device.id, query={"keys": "h"})

    assert body["data"] == {"h": {"ts": 5, "value": 2}}


@pytest.mark.parametrize(
    "query",
    [
        {"startTs": "abc"},
        {"endTs": "1.5"},
        {"limit": "0"},
        {"limit": "1001"},
        {"startTs": "10", "endTs": "5"},
        {"startTs": "-1"},
    ],
)
def test_bad_telemetry_query_is_400(stack: Stack, device: Device, query: dict[str, str]) -> None:
    status, body = call(stack, "manage/get_telemetry", device_id=device.id, query=query)

    assert status == 400
    assert body["error"]["code"] == 400


def test_telemetry_of_unknown_device_is_404(stack: Stack) -> None:
    assert call(stack, "manage/get_telemetry", device_id="nope")[0] == 404
    assert call(stack, "manage/get_latest_telemetry", device_id="nope")[0] == 404


# ------------------------------------------------------------------ attributes
def test_shared_attributes_merge_and_delete(stack: Stack, device: Device) -> None:
    call(stack, "manage/put_shared_attributes", device_id=device.id, body={"a": 1, "b": {"x": 1}})
    call(stack, "manage/put_shared_attributes", device_id=device.id, body={"b": {"y": 2}, "c": 3})
    status, body = call(stack, "manage/delete_shared_attributes", device_id=device.id, query={"keys": "c"})

    assert status == 200
    assert body["data"]["shared"] == {"a": 1, "b": {"y": 2}}
    _, read = call(stack, "manage/get_attributes", device_id=device.id)
    assert read["data"]["shared"] == {"a": 1, "b": {"y": 2}}
    assert read["data"]["client"] == {}


@pytest.mark.parametrize("body", ["[1]", "{}", "nope", '{"a": NaN}'])
def test_bad_shared_attribute_bodies_are_400(stack: Stack, device: Device, body: str) -> None:
    status, response = call(stack, "manage/put_shared_attributes", device_id=device.id, body=body)

    assert status == 400
    assert response["error"]["code"] == 400
    assert stack.count_items("ShadowsTable") == 0


def test_delete_shared_without_keys_is_400(stack: Stack, device: Device) -> None:
    status, _ = call(stack, "manage/delete_shared_attributes", device_id=device.id, query={})

    assert status == 400


def test_attributes_of_unknown_device_are_404(stack: Stack) -> None:
    assert call(stack, "manage/get_attributes", device_id="nope")[0] == 404
    assert call(stack, "manage/put_shared_attributes", device_id="nope", body={"a": 1})[0] == 404
    assert stack.count_items("ShadowsTable") == 0
