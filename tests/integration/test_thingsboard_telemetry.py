"""ThingsBoard POST /api/v1/{token}/telemetry, handler in process against moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from fleetgate.settings import get_settings
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import Device, Stack, event, with_body

FUNCTION = "TbPostTelemetryFunction"


def post(stack: Stack, device: Device, body: str | bytes | None, **kw: Any) -> dict[str, Any]:
    return stack.invoke(
        FUNCTION, with_body(event("thingsboard/post_telemetry", token=device.token), body, **kw)
    )


def history(stack: Stack, device: Device) -> dict[str, Any]:
    response = stack.invoke(
        "ManageDevicesFunction",
        event("manage/get_telemetry", device_id=device.id)
        | {
            "queryStringParameters": {"startTs": "0", "endTs": "99999999999999", "limit": "100"},
            "rawQueryString": "startTs=0&endTs=99999999999999&limit=100",
        },
    )
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])["data"]


def latest(stack: Stack, device: Device) -> dict[str, Any]:
    response = stack.invoke(
        "ManageDevicesFunction", event("manage/get_latest_telemetry", device_id=device.id)
    )
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])["data"]


def test_documented_object_is_stored_with_server_time(stack: Stack, device: Device) -> None:
    response = stack.invoke(FUNCTION, event("thingsboard/post_telemetry", token=device.token))

    assert response["statusCode"] == 200
    assert response["body"] == ""
    values = latest(stack, device)
    assert values["temperature"]["value"] == 42
    assert values["humidity"]["value"] == 73


def test_timestamped_values_keep_their_types(stack: Stack, device: Device) -> None:
    response = stack.invoke(FUNCTION, event("thingsboard/post_telemetry_with_ts", token=device.token))

    assert response["statusCode"] == 200
    stored = history(stack, device)
    assert stored["doubleKey"] == [{"ts": 1451649600512, "value": 42.0}]
    assert isinstance(stored["doubleKey"][0]["value"], float)
    assert stored["longKey"] == [{"ts": 1451649600512, "value": 73}]
    assert stored["booleanKey"][0]["value"] is True
    assert stored["jsonKey"][0]["value"] == {
        "someNumber": 42,
        "someArray": [1, 2, 3],
        "someNestedObject": {"key": "value"},
    }


def test_curl_form_encoded_lenient_body_is_accepted(stack: Stack, device: Device) -> None:
    """curl -d sends application/x-www-form-urlencoded (base64 through API Gateway) and the shell has
    stripped the inner quotes: {temperature:42,humidity:73}."""
    response = stack.invoke(FUNCTION, event("thingsboard/post_telemetry_form_encoded", token=device.token))

    assert response["statusCode"] == 200
    assert latest(stack, device)["temperature"]["value"] == 42


def test_array_of_objects_shares_the_server_timestamp(stack: Stack, device: Device) -> None:
    response = post(stack, device, '[{"key1":"value1"}, {"key2":true}]')

    assert response["statusCode"] == 200
    stored = history(stack, device)
    assert stored["key1"][0]["value"] == "value1"
    assert stored["key2"][0]["value"] is True
    assert stored["key1"][0]["ts"] == stored["key2"][0]["ts"]


def test_one_write_per_distinct_timestamp_not_per_key(stack: Stack, device: Device) -> None:
    body = json.dumps([{"ts": 1000 + i % 3, "values": {f"k{i}": i, "other": i}} for i in range(20)])

    with recorded_aws_calls() as calls:
        response = post(stack, device, body)

    assert response["statusCode"] == 200
    writes = [c for c in calls if c.operation in ("BatchWriteItem", "PutItem", "UpdateItem")]
    assert [
        (c.operation, sum(len(v) for v in c.params.get("RequestItems", {}).values())) for c in writes
    ] == [
        ("BatchWriteItem", 3),
        ("UpdateItem", 0),  # the latest-values item
    ]
    telemetry_items = boto3.client("dynamodb").scan(TableName=stack.table("TelemetryTable"))["Items"]
    assert len([i for i in telemetry_items if i["sk"]["S"] != "LATEST"]) == 3


def test_older_sample_does_not_replace_latest(stack: Stack, device: Device) -> None:
    post(stack, device, '{"ts": 2000, "values": {"t": 2, "u": 1}}')
    response = post(stack, device, '{"ts": 1000, "values": {"t": 1, "v": 5}}')

    assert response["statusCode"] == 200
    values = latest(stack, device)
    assert values["t"] == {"ts": 2000, "value": 2}
    assert values["v"] == {"ts": 1000, "value": 5}
    assert values["u"] == {"ts": 2000, "value": 1}


@pytest.mark.parametrize("body", ["[]", "{}", '{"a": null}'])
def test_empty_payloads_succeed_and_write_nothing(stack: Stack, device: Device, body: str) -> None:
    response = post(stack, device, body)

    assert response["statusCode"] == 200
    assert stack.count_items("TelemetryTable") == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"temperature":42', "Invalid JSON"),
        ('{"a":1,}', "Invalid JSON"),
        ("[1, 2]", "Can't parse value: 1"),
        ('"text"', "Can't parse value"),
        ("42", "Can't parse value"),
        ('{"ts": 1, "values": [1]}', "Can't parse value"),
        ('{"ts": -5, "values": {"a": 1}}', "Invalid ts"),
        ('{"ts": "soon", "values": {"a": 1}}', "Invalid ts"),
        ('[{"a": 1}, 7]', "Can't parse value: 7"),
        ('{"": 1}', "Key must be"),
    ],
)
def test_bad_payloads_get_400_in_text_and_write_nothing(
    stack: Stack, device: Device, body: str, message: str
) -> None:
    response = post(stack, device, body)

    assert response["statusCode"] == 400
    assert response["body"].startswith(message)
    assert stack.count_items("TelemetryTable") == 0


def test_missing_body_is_400(stack: Stack, device: Device) -> None:
    assert post(stack, device, None)["statusCode"] == 400


def test_invalid_utf8_is_400(stack: Stack, device: Device) -> None:
    assert post(stack, device, b'{"a": "\xff"}')["statusCode"] == 400
    assert stack.count_items("TelemetryTable") == 0


def test_unknown_token_is_401_with_empty_body(stack: Stack, device: Device) -> None:
    response = post(stack, Device(device.id, "not-a-token"), '{"a": 1}')

    assert response["statusCode"] == 401
    assert response["body"] == ""
    assert stack.count_items("TelemetryTable") == 0


def test_oversized_body_is_413_with_thingsboard_message(stack: Stack, device: Device) -> None:
    limit = get_settings().device_payload_limit_bytes
    body = json.dumps({"blob": "x" * limit})

    response = post(stack, device, body)

    assert response["statusCode"] == 413
    assert json.loads(response["body"]) == f"Payload size exceeds the limit of {limit} bytes"
    assert stack.count_items("TelemetryTable") == 0
