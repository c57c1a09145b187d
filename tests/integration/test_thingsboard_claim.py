"""Claiming: the device's ThingsBoard POST /api/v1/{token}/claim opens a window; an operator claims the
device by name and secret (POST /manage/v1/devices/claim) and can release it
(DELETE /manage/v1/devices/{id}/claim). Handlers in process against moto."""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from fleetgate.errors import Conflict, Forbidden
from fleetgate.services import claims
from tests.integration.conftest import Device, Stack, create_device, event, with_body

CLAIM = "TbPostClaimFunction"
MANAGE = "ManageDevicesFunction"
ALICE = "670a27c2-c162-4871-b6f8-1bb5eab98796"  # the sub of the operator in events/manage/*
BOB = "0b0b0b0b-1111-4222-8333-444455556666"
SECRET = "abc123"  # the secret in events/thingsboard/post_claim.json
NOT_CLAIMABLE = "No device with this name is waiting to be claimed with this secret key"


def device_claim(stack: Stack, device: Device, body: str | None) -> dict[str, Any]:
    return stack.invoke(CLAIM, with_body(event("thingsboard/post_claim", token=device.token), body))


def as_operator(ev: dict[str, Any], sub: str, username: str) -> dict[str, Any]:
    result = copy.deepcopy(ev)
    result["requestContext"]["authorizer"]["jwt"]["claims"].update({"sub": sub, "username": username})
    return result


def operator_claim(
    stack: Stack, name: str, secret: str | None = SECRET, *, sub: str = ALICE, body: str | None = None
) -> tuple[int, Any]:
    if body is None:
        payload: dict[str, str] = {"deviceName": name}
        if secret is not None:
            payload["secretKey"] = secret
        body = json.dumps(payload)
    ev = as_operator(with_body(event("manage/claim_device"), body), sub, "bob" if sub == BOB else "admin")
    response = stack.invoke(MANAGE, ev)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def release(stack: Stack, device_id: str, sub: str = ALICE) -> tuple[int, Any]:
    ev = as_operator(event("manage/release_device", device_id=device_id), sub, "x")
    response = stack.invoke(MANAGE, ev)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def get_device(stack: Stack, device_id: str) -> dict[str, Any]:
    response = stack.invoke(MANAGE, event("manage/get_device", device_id=device_id))
    data: dict[str, Any] = json.loads(response["body"])["data"]
    return data


def items(stack: Stack, sk: str) -> list[dict[str, Any]]:
    scanned = boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]
    return [i for i in scanned if i["sk"]["S"] == sk]


# ------------------------------------------------------------------ device side
def test_claim_request_opens_a_window_with_the_secrets_hash(stack: Stack, device: Device) -> None:
    before = int(time.time() * 1000)

    response = device_claim(stack, device, '{"secretKey":"abc123","durationMs":60000}')

    assert response["statusCode"] == 200
    assert response["body"] == ""
    [window] = items(stack, "CLAIM")
    assert window["pk"]["S"] == f"DEVICE#{device.id}"
    assert window["secretHash"]["S"].startswith("scrypt$")
    assert "abc123" not in json.dumps(window)
    assert before + 60000 <= int(window["expiresAt"]["N"]) <= int(time.time() * 1000) + 60000


@pytest.mark.parametrize(
    "body", [None, "", "  ", "{}", '{"durationMs":0}', '{"durationMs":-5}', '{"durationMs":"0"}']
)
def test_no_duration_means_the_default_day(stack: Stack, device: Device, body: str | None) -> None:
    before = int(time.time() * 1000)

    response = device_claim(stack, device, body)

    assert response["statusCode"] == 200
    [window] = items(stack, "CLAIM")
    expires = int(window["expiresAt"]["N"])
    assert before + 86_400_000 <= expires <= int(time.time() * 1000) + 86_400_000


def test_empty_body_means_an_empty_secret(stack: Stack, device: Device) -> None:
    device_claim(stack, device, None)

    status, body = operator_claim(stack, "thermostat-1", secret=None)

    assert status == 200, body
    assert body["data"]["deviceId"] == device.id


def test_lenient_json_and_gson_values_are_read(stack: Stack, device: Device) -> None:
    response = device_claim(stack, device, "{secretKey:12345,durationMs:'60000'}")

    assert response["statusCode"] == 200
    assert operator_claim(stack, "thermostat-1", "12345")[0] == 200


def test_a_new_claim_request_replaces_the_window(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"first"}')
    device_claim(stack, device, '{"secretKey":"second"}')

    assert len(items(stack, "CLAIM")) == 1
    assert operator_claim(stack, "thermostat-1", "second")[0] == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("5", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"secretKey":', "Invalid JSON"),
        ('{"secretKey":{"a":1}}', "secretKey must be a string"),
        ('{"secretKey":null}', "secretKey must be a string"),
        ('{"secretKey":"' + "s" * 1025 + '"}', "secretKey must be at most"),
        ('{"durationMs":"soon"}', "durationMs must be an integer"),
        ('{"durationMs":1.5}', "durationMs must be an integer"),
        ('{"durationMs":true}', "durationMs must be an integer"),
        ('{"durationMs":99999999999999999999}', "durationMs must be an integer"),
        ('{"durationMs":31536000001}', "durationMs must be at most"),
    ],
)
def test_bad_claim_body_is_400_plain_text_and_writes_nothing(
    stack: Stack, device: Device, body: str, message: str
) -> None:
    before = stack.count_items("DevicesTable")

    response = device_claim(stack, device, body)

    assert response["statusCode"] == 400
    assert response["headers"]["content-type"].startswith("text/plain")
    assert message in response["body"]
    assert stack.count_items("DevicesTable") == before


def test_unknown_token_is_401_empty(stack: Stack, device: Device) -> None:
    response = device_claim(stack, Device(device.id, "wrong-token"), "{}")

    assert response["statusCode"] == 401
    assert response["body"] == ""
    assert items(stack, "CLAIM") == []


def test_claim_request_of_an_owned_device_is_200_and_opens_no_window(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')
    assert operator_claim(stack, "thermostat-1")[0] == 200

    response = device_claim(stack, device, '{"secretKey":"again"}')

    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert items(stack, "CLAIM") == []


# ------------------------------------------------------------------ operator side
def test_operator_with_the_secret_becomes_the_owner(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')

    status, body = operator_claim(stack, "thermostat-1", "abc123")

    assert status == 200
    data = body["data"]
    assert data["deviceId"] == device.id
    assert data["owner"] == ALICE
    assert data["ownerName"] == "admin"
    assert data["claimedAt"].endswith("Z")
    assert get_device(stack, device.id)["owner"] == ALICE
    assert items(stack, "CLAIM") == []  # the window is used up


def test_claiming_again_as_the_owner_answers_the_ownership(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')
    _, first = operator_claim(stack, "thermostat-1")

    status, again = operator_claim(stack, "thermostat-1", "anything")

    assert status == 200
    assert again == first


def test_device_claimed_by_someone_else_is_409(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')
    operator_claim(stack, "thermostat-1")

    status, body = operator_claim(stack, "thermostat-1", sub=BOB)

    assert status == 409
    assert body["error"]["message"] == "The device is already claimed by another operator"
    assert get_device(stack, device.id)["owner"] == ALICE


def test_unknown_device_wrong_secret_and_no_window_look_the_same(stack: Stack, device: Device) -> None:
    create_device(stack, "no-window")
    device_claim(stack, device, '{"secretKey":"abc123"}')

    answers = [
        operator_claim(stack, "no-such-device"),
        operator_claim(stack, "no-window"),
        operator_claim(stack, "thermostat-1", "wrong"),
    ]

    assert answers == [(403, {"error": {"code": 403, "message": NOT_CLAIMABLE}})] * 3
    assert "owner" not in get_device(stack, device.id)


def test_a_wrong_secret_uses_the_window_up(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')
    operator_claim(stack, "thermostat-1", "wrong")

    status, _ = operator_claim(stack, "thermostat-1", "abc123")

    assert status == 403
    assert items(stack, "CLAIM") == []


def test_an_expired_window_is_400_and_used_up(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123","durationMs":1}')
    time.sleep(0.01)

    status, body = operator_claim(stack, "thermostat-1", "abc123")

    assert status == 400
    assert body["error"]["message"].startswith("The claiming window has expired")
    assert items(stack, "CLAIM") == []
    assert "owner" not in get_device(stack, device.id)


@pytest.mark.parametrize(
    "body",
    [
        "{}",
        '{"secretKey": "abc123"}',
        '{"deviceName": ""}',
        '{"deviceName": 5, "secretKey": "abc123"}',
        '{"deviceName": "thermostat-1", "secretKey": 123}',
        "[]",
        "not json",
        "",
    ],
)
def test_bad_operator_claim_is_400_and_writes_nothing(stack: Stack, device: Device, body: str) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')
    before = stack.count_items("DevicesTable")

    status, response = operator_claim(stack, "thermostat-1", body=body)

    assert status == 400
    assert response["error"]["code"] == 400
    assert stack.count_items("DevicesTable") == before
    assert len(items(stack, "CLAIM")) == 1  # the window is still open


def test_parallel_claims_make_exactly_one_owner(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')  # the function's environment is now set
    operators = [f"operator-{i}" for i in range(6)]

    def attempt(sub: str) -> str:
        try:
            claims.claim("thermostat-1", "abc123", sub, None)
        except (Conflict, Forbidden) as exc:
            return type(exc).__name__
        return "owner"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(attempt, operators))

    assert outcomes.count("owner") == 1
    winner = operators[outcomes.index("owner")]
    assert get_device(stack, device.id)["owner"] == winner
    assert len(items(stack, "OWNER")) == 1


# ------------------------------------------------------------------ release
def test_owner_releases_and_the_device_can_be_claimed_again(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')
    operator_claim(stack, "thermostat-1")

    status, body = release(stack, device.id)

    assert status == 204
    assert body is None
    assert "owner" not in get_device(stack, device.id)
    device_claim(stack, device, '{"secretKey":"new"}')
    assert operator_claim(stack, "thermostat-1", "new", sub=BOB)[0] == 200
    assert get_device(stack, device.id)["owner"] == BOB


def test_release_by_another_operator_is_403(stack: Stack, device: Device) -> None:
    device_claim(stack, device, '{"secretKey":"abc123"}')
    operator_claim(stack, "thermostat-1")

    status, body = release(stack, device.id, sub=BOB)

    assert status == 403
    assert body["error"]["message"] == "Only the device's owner can release it"
    assert get_device(stack, device.id)["owner"] == ALICE


def test_release_of_an_unclaimed_device_is_409(stack: Stack, device: Device) -> None:
    status, body = release(stack, device.id)

    assert status == 409
    assert body["error"]["message"] == "The device is not claimed"


def test_release_of_an_unknown_device_is_404(stack: Stack) -> None:
    status, _ = release(stack, "no-such-device")

    assert status == 404


# ------------------------------------------------------------------ least privilege
def test_claim_function_may_write_only_claim_windows(stack: Stack) -> None:
    policies = stack.template.resources()["TbPostClaimFunction"]["Properties"]["Policies"]

    [statement] = [s for p in policies if "Statement" in p for s in p["Statement"]]
    assert sorted(statement["Action"]) == ["dynamodb:ConditionCheckItem", "dynamodb:PutItem"]
    assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["DEVICE#*"]
    assert "tokenHash" not in statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
