"""ThingsBoard POST and GET /api/v1/{token}/attributes, handlers in process against moto."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fleetgate.services import attributes
from tests.integration.conftest import Device, Stack, event, with_body, with_query

POST = "TbPostAttributesFunction"
GET = "TbGetAttributesFunction"


def post(stack: Stack, device: Device, body: str | None) -> dict[str, Any]:
    return stack.invoke(POST, with_body(event("thingsboard/post_attributes", token=device.token), body))


def get(stack: Stack, device: Device, query: dict[str, str] | None = None) -> dict[str, Any]:
    response = stack.invoke(GET, with_query(event("thingsboard/get_attributes", token=device.token), query))
    return response


def set_shared(stack: Stack, device: Device, values: dict[str, Any]) -> None:
    response = stack.invoke(
        "ManageDevicesFunction",
        with_body(event("manage/put_shared_attributes", device_id=device.id), json.dumps(values)),
    )
    assert response["statusCode"] == 200, response


def test_documented_attributes_are_stored_as_client_attributes(stack: Stack, device: Device) -> None:
    response = stack.invoke(POST, event("thingsboard/post_attributes", token=device.token))

    assert response["statusCode"] == 200
    assert response["body"] == ""
    body = json.loads(get(stack, device)["body"])
    assert body == {
        "client": {
            "attribute1": "value1",
            "attribute2": True,
            "attribute3": 42.0,
            "attribute4": 73,
            "attribute5": {"someNumber": 42, "someArray": [1, 2, 3], "someNestedObject": {"key": "value"}},
        }
    }


def test_shell_mangled_seed_example_is_accepted(stack: Stack, device: Device) -> None:
    """Seed: curl --data "{"attribute1": "value1", "attribute2":true, "attribute3": 43.0}" reaches the
    server as {attribute1: value1, attribute2:true, attribute3: 43.0}."""
    response = post(stack, device, "{attribute1: value1, attribute2:true, attribute3: 43.0}")

    assert response["statusCode"] == 200
    assert json.loads(get(stack, device)["body"])["client"] == {
        "attribute1": "value1",
        "attribute2": True,
        "attribute3": 43.0,
    }


def test_json_attribute_is_replaced_not_merged(stack: Stack, device: Device) -> None:
    post(stack, device, '{"cfg": {"a": 1, "b": 2}}')
    post(stack, device, '{"cfg": {"c": 3}}')

    assert json.loads(get(stack, device)["body"])["client"]["cfg"] == {"c": 3}


def test_get_returns_both_scopes_and_filters_by_key(stack: Stack, device: Device) -> None:
    post(stack, device, '{"fw": "v1.0", "serial": "A1"}')
    set_shared(stack, device, {"interval": 30, "mode": "eco"})

    everything = json.loads(get(stack, device)["body"])
    only_shared = json.loads(get(stack, device, {"sharedKeys": "interval"})["body"])
    only_client = json.loads(get(stack, device, {"clientKeys": "fw,missing"})["body"])
    sdk_style = json.loads(get(stack, device, {"client_keys": "fw"})["body"])

    assert everything == {"client": {"fw": "v1.0", "serial": "A1"}, "shared": {"interval": 30, "mode": "eco"}}
    assert only_shared == {"shared": {"interval": 30}}
    assert only_client == {"client": {"fw": "v1.0"}}
    assert sdk_style == everything  # unknown parameter names are ignored, as ThingsBoard does


def test_repeated_parameters_joined_by_api_gateway_select_each_key(stack: Stack, device: Device) -> None:
    set_shared(stack, device, {"fw_title": "t", "fw_version": "1", "other": 1})

    body = json.loads(get(stack, device, {"sharedKeys": "fw_title,fw_version"})["body"])

    assert body == {"shared": {"fw_title": "t", "fw_version": "1"}}


def test_get_with_no_attributes_is_empty_object(stack: Stack, device: Device) -> None:
    response = get(stack, device)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"]) == {}


@pytest.mark.parametrize(
    "body",
    ['["a"]', '"text"', "42", '{"a":', "null", '{"deep": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}'],
)
def test_bad_attribute_bodies_get_400_and_write_nothing(stack: Stack, device: Device, body: str) -> None:
    response = post(stack, device, body)

    assert response["statusCode"] == 400
    assert response["body"]
    assert stack.count_items("ShadowsTable") == 0


def test_attributes_over_the_shadow_limit_get_413(stack: Stack, device: Device) -> None:
    response = post(stack, device, json.dumps({"blob": "x" * 9000}))

    assert response["statusCode"] == 413
    assert stack.count_items("ShadowsTable") == 0


def test_unknown_token_is_401_for_both_routes(stack: Stack, device: Device) -> None:
    stranger = Device(device.id, "wrong-token")

    assert post(stack, stranger, '{"a": 1}') | {"headers": None} == {
        "statusCode": 401,
        "headers": None,
        "body": "",
        "isBase64Encoded": False,
    }
    assert get(stack, stranger)["statusCode"] == 401
    assert stack.count_items("ShadowsTable") == 0


def test_parallel_writers_lose_no_update(stack: Stack, device: Device) -> None:
    """The use case under threads (handlers themselves run one request per execution environment, and
    Powertools' metrics object is not meant to be shared between threads; tests/e2e drives the same
    race through the real HTTP path)."""
    writers = 12
    stack.invoke(POST, with_body(event("thingsboard/post_attributes", token=device.token), "{}"))  # env

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(lambda i: attributes.report_client(device.id, {f"key{i}": i}), range(writers)))

    client = json.loads(get(stack, device)["body"])["client"]
    assert client == {f"key{i}": i for i in range(writers)}
    assert attributes.read(device.id).version == writers
