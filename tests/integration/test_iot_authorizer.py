"""The MQTT device authorizer (``MqttAuthorizerFunction``) in process against moto: devices registered
through the operator API, the event IoT Core sends at CONNECT (``events/iot/authorizer.json``).

A registered device's id and token are allowed with its own topics; every other credential is a denial,
never an exception, and the authorizer writes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from fleetgate.domain import mqtt_policy
from fleetgate.domain.mqtt_policy import ArnScope
from fleetgate_local.inprocess import load_event, recorded_aws_calls
from tests.integration.conftest import (
    DEVICE_PLACEHOLDER,
    EVENTS,
    Device,
    Stack,
    create_device,
    event,
    with_body,
)

AUTHORIZER = "MqttAuthorizerFunction"
SCOPE = ArnScope("aws", "us-east-1", "123456789012")  # InProcessFunctions' function ARNs


def connect(device_id: str, token: str | bytes | None, client_id: str | None = "same") -> dict[str, Any]:
    """The CONNECT event for ``device_id``; ``client_id`` "same" is the device id, None leaves it out."""
    ev = load_event(EVENTS / "iot" / "authorizer.json", **{DEVICE_PLACEHOLDER: device_id})
    mqtt = ev["protocolData"]["mqtt"]
    if token is None:
        del mqtt["password"]
    else:
        mqtt["password"] = base64.b64encode(token.encode() if isinstance(token, str) else token).decode()
    if client_id is None:
        del mqtt["clientId"]
    elif client_id != "same":
        mqtt["clientId"] = client_id
    return ev


def authorize(stack: Stack, ev: Any) -> dict[str, Any]:
    before = stack.count_items("DevicesTable")
    with recorded_aws_calls() as calls:
        answer = stack.invoke(AUTHORIZER, ev)
    assert stack.count_items("DevicesTable") == before  # nothing written
    assert {c.operation for c in calls} <= {"GetItem"}
    return answer


@pytest.fixture
def other(stack: Stack) -> Device:
    return create_device(stack, "thermostat-2")


def test_a_registered_device_is_allowed_with_its_own_topics(stack: Stack, device: Device) -> None:
    answer = authorize(stack, connect(device.id, device.token))

    assert answer == mqtt_policy.allowed(device.id, "thermostat-1", SCOPE, "fleetgate")


def test_the_check_costs_one_registry_read(stack: Stack, device: Device) -> None:
    with recorded_aws_calls() as calls:
        stack.invoke(AUTHORIZER, connect(device.id, device.token))

    assert [(c.service, c.operation) for c in calls] == [("dynamodb", "GetItem")]


@pytest.mark.parametrize("client_id", [None, "thermostat-1"], ids=["no client id", "the device's name"])
def test_the_client_id_may_be_absent_or_the_device_name(
    stack: Stack, device: Device, client_id: str | None
) -> None:
    assert authorize(stack, connect(device.id, device.token, client_id))["isAuthenticated"] is True


def test_the_authorizer_name_suffix_of_a_username_is_left_out(stack: Stack, device: Device) -> None:
    ev = connect(device.id, device.token)
    ev["protocolData"]["mqtt"]["username"] = f"{device.id}?x-amz-customauthorizer-name=fleetgate"

    assert authorize(stack, ev)["principalId"] == device.id.replace("-", "")


def denied(stack: Stack, ev: Any) -> None:
    assert authorize(stack, ev) == mqtt_policy.denied()


def test_a_wrong_token_is_denied(stack: Stack, device: Device) -> None:
    denied(stack, connect(device.id, device.token + "x"))


def test_an_unknown_device_is_denied(stack: Stack, device: Device) -> None:
    denied(stack, connect("0b1c2d3e-0000-4000-8000-000000000000", device.token))


def test_another_devices_token_is_denied(stack: Stack, device: Device, other: Device) -> None:
    denied(stack, connect(device.id, other.token))


def test_a_client_id_of_another_device_is_denied(stack: Stack, device: Device, other: Device) -> None:
    denied(stack, connect(device.id, device.token, other.id))
    denied(stack, connect(device.id, device.token, "thermostat-2"))


def test_a_regenerated_token_stops_working_at_once(stack: Stack, device: Device) -> None:
    response = stack.invoke(
        "ManageDevicesFunction", with_body(event("manage/regenerate_credentials", device_id=device.id), "{}")
    )
    assert response["statusCode"] == 200, response
    new_token = json.loads(response["body"])["data"]["credentials"]["accessToken"]

    denied(stack, connect(device.id, device.token))
    assert authorize(stack, connect(device.id, new_token))["isAuthenticated"] is True


@pytest.mark.parametrize(
    "password",
    [None, b"", b"\xff\xfe\xfd", b"x" * 300, b"../" * 10],
    ids=["missing", "empty", "not UTF-8", "over the token limit", "garbage"],
)
def test_a_missing_or_garbage_password_is_denied(
    stack: Stack, device: Device, password: bytes | None
) -> None:
    denied(stack, connect(device.id, password))


def test_a_password_that_is_not_base64_is_denied(stack: Stack, device: Device) -> None:
    ev = connect(device.id, device.token)
    ev["protocolData"]["mqtt"]["password"] = device.token  # sent raw, not as IoT Core encodes it

    denied(stack, ev)


@pytest.mark.parametrize("ev", [{}, {"protocolData": None}, {"protocolData": {"http": {}}}, "garbage"])
def test_a_malformed_event_is_denied(stack: Stack, device: Device, ev: Any) -> None:
    denied(stack, ev)
