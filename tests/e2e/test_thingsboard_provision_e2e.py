"""ThingsBoard device provisioning over real HTTP against a local stack: ThingsBoard's own Python SDK
(``TBHTTPDevice.provision``), unmodified, and raw requests for what the SDK does not send."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from tb_device_http import TBHTTPDevice, TBProvisionFailure

pytestmark = pytest.mark.e2e
TIMEOUT_S = 30


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_profile(operator: requests.Session, strategy: str) -> dict[str, Any]:
    response = operator.post(
        f"{operator.base_url}/manage/v1/device-profiles",
        json={"name": unique("profile"), "provisionStrategy": strategy},
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def provision(stack: Any, profile: dict[str, Any], **fields: Any) -> requests.Response:
    body = {
        "provisionDeviceKey": profile["provisionDeviceKey"],
        "provisionDeviceSecret": profile["provisionDeviceSecret"],
        **fields,
    }
    return requests.post(f"{stack.url}/api/v1/provision", json=body, timeout=TIMEOUT_S)


def find_device(operator: requests.Session, profile: dict[str, Any], name: str) -> dict[str, Any]:
    response = operator.get(f"{operator.base_url}/manage/v1/device-profiles/{profile['id']}/devices")
    assert response.status_code == 200, response.text
    [summary] = [d for d in response.json()["data"] if d["name"] == name]
    device = operator.get(f"{operator.base_url}/manage/v1/devices/{summary['id']}")
    data: dict[str, Any] = device.json()["data"]
    return data


@pytest.fixture
def allow_create(operator: requests.Session) -> dict[str, Any]:
    return create_profile(operator, "ALLOW_CREATE_NEW_DEVICES")


# --------------------------------------------------------------------------- ThingsBoard's SDK
def test_sdk_provisions_a_device_that_connects_and_sends(
    stack: Any, operator: requests.Session, allow_create: dict[str, Any]
) -> None:
    name = unique("sdk")

    device = TBHTTPDevice.provision(
        stack.url, name, allow_create["provisionDeviceKey"], allow_create["provisionDeviceSecret"]
    )

    assert device.connect() is True
    device.send_telemetry({"temperature": 21.5}, queued=False)
    stored = find_device(operator, allow_create, name)
    latest = operator.get(f"{operator.base_url}/manage/v1/devices/{stored['id']}/telemetry/latest")
    assert latest.json()["data"]["temperature"]["value"] == 21.5
    assert stored["type"] == allow_create["name"]


def test_sdk_raises_provision_failure_for_a_wrong_secret(stack: Any, allow_create: dict[str, Any]) -> None:
    with pytest.raises(TBProvisionFailure) as failure:
        TBHTTPDevice.provision(stack.url, unique("sdk"), allow_create["provisionDeviceKey"], "wrong-secret")

    assert failure.value.args[0] == {"errorMsg": "Provision data was not found!", "status": "NOT_FOUND"}


def test_sdk_raises_provision_failure_for_a_disabled_profile(stack: Any, operator: requests.Session) -> None:
    disabled = create_profile(operator, "DISABLED")

    with pytest.raises(TBProvisionFailure):
        TBHTTPDevice.provision(
            stack.url, unique("sdk"), disabled["provisionDeviceKey"], disabled["provisionDeviceSecret"]
        )


def test_sdk_raises_provision_failure_for_an_existing_device(
    stack: Any, allow_create: dict[str, Any]
) -> None:
    name = unique("sdk")
    TBHTTPDevice.provision(
        stack.url, name, allow_create["provisionDeviceKey"], allow_create["provisionDeviceSecret"]
    )

    with pytest.raises(TBProvisionFailure) as failure:
        TBHTTPDevice.provision(
            stack.url, name, allow_create["provisionDeviceKey"], allow_create["provisionDeviceSecret"]
        )

    assert failure.value.args[0] == {"errorMsg": "Failed to provision device!", "status": "FAILURE"}


# --------------------------------------------------------------------------- raw requests
def test_mqtt_basic_credentials(stack: Any, operator: requests.Session, allow_create: dict[str, Any]) -> None:
    name, client_id = unique("mqtt"), unique("client")

    response = provision(
        stack,
        allow_create,
        deviceName=name,
        credentialsType="MQTT_BASIC",
        clientId=client_id,
        username=f"user-{client_id}",
        password="s3cret",
    )

    assert response.status_code == 200
    assert response.text == (
        f'{{"credentialsValue":{{"clientId":"{client_id}","userName":"user-{client_id}","password":"s3cret"}},'
        '"credentialsType":"MQTT_BASIC","status":"SUCCESS"}'
    )
    stored = find_device(operator, allow_create, name)
    regenerated = operator.post(f"{operator.base_url}/manage/v1/devices/{stored['id']}/credentials")
    token = regenerated.json()["data"]["credentials"]["accessToken"]
    assert TBHTTPDevice(stack.url, token).test_connection() is True  # its HTTP token, via the operator


def test_chosen_token(stack: Any, allow_create: dict[str, Any]) -> None:
    token = unique("tok")

    response = provision(
        stack, allow_create, deviceName=unique("chosen"), credentialsType="ACCESS_TOKEN", token=token
    )

    assert response.json() == {
        "credentialsValue": token,
        "credentialsType": "ACCESS_TOKEN",
        "status": "SUCCESS",
    }
    assert TBHTTPDevice(stack.url, token).test_connection() is True
    again = provision(stack, allow_create, deviceName=unique("chosen"), token=token)
    assert again.json() == {"errorMsg": "Failed to provision device!", "status": "FAILURE"}


def test_gateway_flag(stack: Any, operator: requests.Session, allow_create: dict[str, Any]) -> None:
    name = unique("gw")

    response = provision(stack, allow_create, deviceName=name, gateway=True)

    assert response.json()["status"] == "SUCCESS"
    assert find_device(operator, allow_create, name)["gateway"] is True


def test_pre_provisioned_device(stack: Any, operator: requests.Session) -> None:
    profile = create_profile(operator, "CHECK_PRE_PROVISIONED_DEVICES")
    name = unique("pre")
    created = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": name, "profileId": profile["id"]}
    )
    assert created.status_code == 201, created.text
    old_token = created.json()["data"]["credentials"]["accessToken"]

    device = TBHTTPDevice.provision(
        stack.url, name, profile["provisionDeviceKey"], profile["provisionDeviceSecret"]
    )

    assert device.connect() is True
    assert TBHTTPDevice(stack.url, old_token).test_connection() is False  # a fresh token replaced it
    with pytest.raises(TBProvisionFailure):  # provisioned once only
        TBHTTPDevice.provision(
            stack.url, name, profile["provisionDeviceKey"], profile["provisionDeviceSecret"]
        )
    with pytest.raises(TBProvisionFailure):  # not pre-provisioned
        TBHTTPDevice.provision(
            stack.url, unique("pre"), profile["provisionDeviceKey"], profile["provisionDeviceSecret"]
        )


def test_unreadable_request_is_400_plain_text(stack: Any) -> None:
    response = requests.post(f"{stack.url}/api/v1/provision", data='{"deviceName":"x"}', timeout=TIMEOUT_S)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "provisionDeviceKey" in response.text


def test_device_claims_and_operator_becomes_owner(stack: Any, operator: requests.Session) -> None:
    name = unique("claim")
    created = operator.post(f"{operator.base_url}/manage/v1/devices", json={"name": name})
    device_id, token = created.json()["data"]["id"], created.json()["data"]["credentials"]["accessToken"]

    opened = requests.post(
        f"{stack.url}/api/v1/{token}/claim", json={"secretKey": "label-42"}, timeout=TIMEOUT_S
    )
    claimed = operator.post(
        f"{operator.base_url}/manage/v1/devices/claim", json={"deviceName": name, "secretKey": "label-42"}
    )
    released = operator.delete(f"{operator.base_url}/manage/v1/devices/{device_id}/claim")

    assert (opened.status_code, opened.text) == (200, "")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["data"]["deviceId"] == device_id
    assert released.status_code == 204
