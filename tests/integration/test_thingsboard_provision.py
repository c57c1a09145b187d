"""ThingsBoard POST /api/v1/provision in process against moto: ThingsBoard's answers (always 200 with
SUCCESS, NOT_FOUND or FAILURE, keys in its order), its own provisioning test cases, our deviations,
and every class of bad input (400, nothing written)."""

from __future__ import annotations

import json
import string
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from fleetgate.data.profiles import ProvisioningRepository
from fleetgate.dialects.thingsboard.provisioning import parse_provision_request
from fleetgate.errors import Retryable
from fleetgate.services import devices, provisioning
from tests.integration.conftest import Stack, create_device, event, with_body
from tests.integration.test_manage_profiles import call, create_profile, stored_items

PROVISION = "TbProvisionFunction"
NOT_FOUND = '{"errorMsg":"Provision data was not found!","status":"NOT_FOUND"}'
FAILURE = '{"errorMsg":"Failed to provision device!","status":"FAILURE"}'


def raw_provision(stack: Stack, body: str | None) -> dict[str, Any]:
    return stack.invoke(PROVISION, with_body(event("thingsboard/provision"), body))


def provision(stack: Stack, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The raw body (to check key order) and its parsed form."""
    response = raw_provision(stack, json.dumps(body))
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"] == "application/json"
    return response["body"], json.loads(response["body"])


def request(profile: dict[str, Any], name: str | None = "pump-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provisionDeviceKey": profile["provisionDeviceKey"],
        "provisionDeviceSecret": profile["provisionDeviceSecret"],
        **extra,
    }
    if name is not None:
        body["deviceName"] = name
    return body


def telemetry_status(stack: Stack, token: str) -> int:
    response = stack.invoke(
        "TbPostTelemetryFunction", with_body(event("thingsboard/post_telemetry", token=token), '{"t":1}')
    )
    return int(response["statusCode"])


def queue_count() -> int:
    return len(boto3.client("sqs").list_queues().get("QueueUrls", []))


def device_by_name(stack: Stack, name: str) -> dict[str, Any] | None:
    _, page = call(stack, "manage/list_devices", query={"limit": "100"}, function="ManageDevicesFunction")
    found = [d for d in page["data"] if d["name"] == name]
    if not found:
        return None
    _, body = call(stack, "manage/get_device", profile_id=found[0]["id"], function="ManageDevicesFunction")
    device: dict[str, Any] = body["data"]
    return device


@pytest.fixture
def profile(stack: Stack) -> dict[str, Any]:
    return create_profile(stack, "thermostats", "ALLOW_CREATE_NEW_DEVICES")


@pytest.fixture
def pre_profile(stack: Stack) -> dict[str, Any]:
    return create_profile(stack, "meters", "CHECK_PRE_PROVISIONED_DEVICES")


# ------------------------------------------------------------------ ALLOW_CREATE_NEW_DEVICES
def test_new_device_gets_an_access_token_in_thingsboards_shape(stack: Stack, profile: dict[str, Any]) -> None:
    raw, body = provision(stack, request(profile))

    token = body["credentialsValue"]
    assert raw == f'{{"credentialsValue":"{token}","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"}}'
    assert len(token) == 20
    assert telemetry_status(stack, token) == 200
    device = device_by_name(stack, "pump-1")
    assert device is not None
    assert device["type"] == "thermostats"  # ThingsBoard types a provisioned device by its profile
    assert device["profileId"] == profile["id"]
    assert "gateway" not in device
    assert token not in stored_items(stack)


def test_existing_device_is_failure_and_writes_nothing(stack: Stack, profile: dict[str, Any]) -> None:
    create_device(stack, "pump-1")
    before, queues = stack.count_items("DevicesTable"), queue_count()

    raw, _ = provision(stack, request(profile))

    assert raw == FAILURE
    assert stack.count_items("DevicesTable") == before
    assert queue_count() == queues


def test_chosen_token_becomes_the_devices_token(stack: Stack, profile: dict[str, Any]) -> None:
    raw, _ = provision(stack, request(profile, credentialsType="ACCESS_TOKEN", token="test_token"))

    assert raw == '{"credentialsValue":"test_token","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"}'
    assert telemetry_status(stack, "test_token") == 200


def test_token_without_credentials_type_is_used_too(stack: Stack, profile: dict[str, Any]) -> None:
    _, body = provision(stack, request(profile, token="chosen-token-2"))

    assert body["credentialsValue"] == "chosen-token-2"


def test_chosen_token_in_use_is_failure_and_writes_nothing(stack: Stack, profile: dict[str, Any]) -> None:
    provision(stack, request(profile, "first", token="test_token"))
    before, queues = stack.count_items("DevicesTable"), queue_count()

    raw, _ = provision(stack, request(profile, "second", token="test_token"))

    assert raw == FAILURE
    assert stack.count_items("DevicesTable") == before
    assert queue_count() == queues
    assert device_by_name(stack, "second") is None


@pytest.mark.parametrize("token", ["has/slash", "has space", "x" * 257])
def test_unusable_chosen_token_is_failure_with_a_reason(
    stack: Stack, profile: dict[str, Any], token: str
) -> None:
    before = stack.count_items("DevicesTable")

    _, body = provision(stack, request(profile, credentialsType="ACCESS_TOKEN", token=token[:256]))

    if len(token) > 256:  # the field limit is the token limit: the longest token is accepted
        assert body["status"] == "SUCCESS"
        return
    assert body["status"] == "FAILURE"
    assert body["errorMsg"].startswith("Failed to provision device! A chosen token")
    assert stack.count_items("DevicesTable") == before


def test_access_token_credentials_without_a_token_are_failure(stack: Stack, profile: dict[str, Any]) -> None:
    """ThingsBoard applies ACCESS_TOKEN credentials when any credential field is set; without a token
    its credentials validation fails."""
    raw, _ = provision(stack, request(profile, credentialsType="ACCESS_TOKEN", clientId="c-1"))

    assert raw.startswith('{"errorMsg":"Failed to provision device!')
    assert stack.count_items("DevicesTable") == 3  # the profile's three items only


def test_gateway_flag_is_recorded(stack: Stack, profile: dict[str, Any]) -> None:
    provision(stack, request(profile, "gw-1", gateway=True))
    provision(stack, request(profile, "gw-2", gateway="TRUE"))  # Gson's getAsBoolean on a string
    provision(stack, request(profile, "plain", gateway=False))

    assert device_by_name(stack, "gw-1")["gateway"] is True  # type: ignore[index]
    assert device_by_name(stack, "gw-2")["gateway"] is True  # type: ignore[index]
    assert "gateway" not in device_by_name(stack, "plain")  # type: ignore[operator]


def test_absent_name_gets_twenty_random_letters_and_digits(stack: Stack, profile: dict[str, Any]) -> None:
    _, body = provision(stack, request(profile, name=None))

    assert body["status"] == "SUCCESS"
    _, page = call(stack, "manage/list_device_profile_devices", profile_id=profile["id"])
    [device] = page["data"]
    assert len(device["name"]) == 20
    assert set(device["name"]) <= set(string.ascii_letters + string.digits)


def test_empty_name_is_like_an_absent_one(stack: Stack, profile: dict[str, Any]) -> None:
    _, body = provision(stack, request(profile, name=""))

    assert body["status"] == "SUCCESS"


def test_name_is_trimmed(stack: Stack, profile: dict[str, Any]) -> None:
    provision(stack, request(profile, name="  pump-7\t"))

    assert device_by_name(stack, "pump-7") is not None


def test_blank_name_is_failure_even_before_the_key_is_checked(stack: Stack, profile: dict[str, Any]) -> None:
    raw, _ = provision(stack, {"deviceName": "   ", "provisionDeviceKey": "x", "provisionDeviceSecret": "y"})

    assert raw == FAILURE
    assert stack.count_items("DevicesTable") == 3


def test_name_we_cannot_store_is_failure_with_a_reason(stack: Stack, profile: dict[str, Any]) -> None:
    _, body = provision(stack, request(profile, name="has space"))

    assert body["status"] == "FAILURE"
    assert "name must be" in body["errorMsg"]
    assert stack.count_items("DevicesTable") == 3


def test_numbers_read_as_text_like_gson(stack: Stack) -> None:
    profile = create_profile(stack, "numeric", "ALLOW_CREATE_NEW_DEVICES", provisionDeviceKey="12345")

    _, body = provision(
        stack,
        {
            "deviceName": 42,
            "provisionDeviceKey": 12345,
            "provisionDeviceSecret": profile["provisionDeviceSecret"],
        },
    )

    assert body["status"] == "SUCCESS"
    assert device_by_name(stack, "42") is not None


def test_lenient_json_is_accepted(stack: Stack, profile: dict[str, Any]) -> None:
    body = (
        f"{{deviceName:lenient-1,provisionDeviceKey:'{profile['provisionDeviceKey']}',"
        f"provisionDeviceSecret:'{profile['provisionDeviceSecret']}'}}"
    )

    response = raw_provision(stack, body)

    assert json.loads(response["body"])["status"] == "SUCCESS"


# ------------------------------------------------------------------ NOT_FOUND
@pytest.mark.parametrize(
    "override",
    [
        {"provisionDeviceKey": "wrong-key"},
        {"provisionDeviceSecret": "wrong-secret"},
        {"provisionDeviceKey": ""},
        {"provisionDeviceSecret": ""},
    ],
)
def test_bad_key_or_secret_is_not_found_and_writes_nothing(
    stack: Stack, profile: dict[str, Any], override: dict[str, str]
) -> None:
    before, queues = stack.count_items("DevicesTable"), queue_count()

    raw, _ = provision(stack, {**request(profile), **override})

    assert raw == NOT_FOUND
    assert stack.count_items("DevicesTable") == before
    assert queue_count() == queues


def test_disabled_profile_is_not_found(stack: Stack) -> None:
    disabled = create_profile(stack, "off", "DISABLED")

    raw, _ = provision(stack, request(disabled))

    assert raw == NOT_FOUND
    assert stack.count_items("DevicesTable") == 3


# ------------------------------------------------------------------ MQTT_BASIC
def test_mqtt_basic_credentials_in_thingsboards_shape(stack: Stack, profile: dict[str, Any]) -> None:
    raw, _ = provision(
        stack,
        request(
            profile, credentialsType="MQTT_BASIC", clientId="client-1", username="user-1", password="pw-1!"
        ),
    )

    assert raw == (
        '{"credentialsValue":{"clientId":"client-1","userName":"user-1","password":"pw-1!"},'
        '"credentialsType":"MQTT_BASIC","status":"SUCCESS"}'
    )
    stored = boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]
    [mqtt] = [i for i in stored if i["sk"]["S"] == "MQTT"]
    assert mqtt["clientId"]["S"] == "client-1"
    assert mqtt["userName"]["S"] == "user-1"
    assert mqtt["passwordHash"]["S"].startswith("scrypt$")
    assert "pw-1!" not in json.dumps(stored)
    device = device_by_name(stack, "pump-1")
    assert device is not None
    assert device["type"] == "thermostats"


def test_mqtt_basic_with_a_client_id_only(stack: Stack, profile: dict[str, Any]) -> None:
    raw, _ = provision(stack, request(profile, credentialsType="MQTT_BASIC", clientId="only-client"))

    assert raw == (
        '{"credentialsValue":{"clientId":"only-client","userName":"","password":""},'
        '"credentialsType":"MQTT_BASIC","status":"SUCCESS"}'
    )


@pytest.mark.parametrize(
    "taken",
    [{"clientId": "client-1", "username": "other-user"}, {"clientId": "other-client", "username": "user-1"}],
)
def test_mqtt_client_id_and_user_name_are_unique(
    stack: Stack, profile: dict[str, Any], taken: dict[str, str]
) -> None:
    provision(
        stack, request(profile, "first", credentialsType="MQTT_BASIC", clientId="client-1", username="user-1")
    )
    before, queues = stack.count_items("DevicesTable"), queue_count()

    raw, _ = provision(stack, request(profile, "second", credentialsType="MQTT_BASIC", **taken))

    assert raw == FAILURE
    assert stack.count_items("DevicesTable") == before
    assert queue_count() == queues


def test_mqtt_names_of_a_deleted_device_are_free_again(stack: Stack, profile: dict[str, Any]) -> None:
    _, first = provision(stack, request(profile, "first", credentialsType="MQTT_BASIC", clientId="client-1"))
    device = device_by_name(stack, "first")
    assert device is not None
    call(stack, "manage/delete_device", profile_id=device["id"], function="ManageDevicesFunction")

    _, second = provision(
        stack, request(profile, "second", credentialsType="MQTT_BASIC", clientId="client-1")
    )

    assert first["status"] == second["status"] == "SUCCESS"


def test_mqtt_device_name_taken_releases_the_mqtt_names(stack: Stack, profile: dict[str, Any]) -> None:
    create_device(stack, "pump-1")

    raw, _ = provision(stack, request(profile, credentialsType="MQTT_BASIC", clientId="client-1"))
    _, again = provision(stack, request(profile, "pump-2", credentialsType="MQTT_BASIC", clientId="client-1"))

    assert raw == FAILURE
    assert again["status"] == "SUCCESS"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "", "clientId": "", "password": "pw"},  # neither client id nor user name
        {"clientId": "client-1", "password": "pw"},  # a password needs a user name
    ],
)
def test_invalid_mqtt_basic_credentials_are_failure(
    stack: Stack, profile: dict[str, Any], credentials: dict[str, str]
) -> None:
    _, body = provision(stack, request(profile, credentialsType="MQTT_BASIC", **credentials))

    assert body["status"] == "FAILURE"
    assert body["errorMsg"].startswith("Failed to provision device!")
    assert stack.count_items("DevicesTable") == 3


def test_mqtt_basic_without_any_credential_gets_an_access_token(
    stack: Stack, profile: dict[str, Any]
) -> None:
    """ThingsBoard applies requested credentials only when a credential field is set."""
    _, body = provision(stack, request(profile, credentialsType="MQTT_BASIC"))

    assert body["credentialsType"] == "ACCESS_TOKEN"
    assert telemetry_status(stack, body["credentialsValue"]) == 200


# ------------------------------------------------------------------ X.509 (out of scope)
def test_x509_certificate_is_failure_with_a_reason_and_writes_nothing(
    stack: Stack, profile: dict[str, Any]
) -> None:
    raw, body = provision(
        stack, request(profile, credentialsType="X509_CERTIFICATE", hash="-----BEGIN CERTIFICATE-----")
    )

    assert list(body) == ["errorMsg", "status"]
    assert body["status"] == "FAILURE"
    assert "X509_CERTIFICATE credentials are not supported" in body["errorMsg"]
    assert stack.count_items("DevicesTable") == 3
    assert "SUCCESS" not in raw


# ------------------------------------------------------------------ CHECK_PRE_PROVISIONED_DEVICES
def test_pre_provisioned_device_gets_a_fresh_token_once(stack: Stack, pre_profile: dict[str, Any]) -> None:
    status, created = call(
        stack,
        "manage/create_device",
        body={"name": "meter-1", "profileId": pre_profile["id"]},
        function="ManageDevicesFunction",
    )
    assert status == 201
    old_token = created["data"]["credentials"]["accessToken"]

    raw, body = provision(stack, request(pre_profile, "meter-1"))
    again, _ = provision(stack, request(pre_profile, "meter-1"))

    token = body["credentialsValue"]
    assert raw == f'{{"credentialsValue":"{token}","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"}}'
    assert token != old_token
    assert telemetry_status(stack, token) == 200
    assert telemetry_status(stack, old_token) == 401  # deviation: tokens are stored as digests only
    assert again == FAILURE  # already provisioned
    assert telemetry_status(stack, token) == 200  # and the working token was not replaced


def test_pre_provisioned_ignores_requested_credentials(stack: Stack, pre_profile: dict[str, Any]) -> None:
    call(
        stack,
        "manage/create_device",
        body={"name": "meter-1", "profileId": pre_profile["id"]},
        function="ManageDevicesFunction",
    )

    _, body = provision(stack, request(pre_profile, "meter-1", credentialsType="MQTT_BASIC", clientId="c"))

    assert body["credentialsType"] == "ACCESS_TOKEN"


@pytest.mark.parametrize("name", ["no-such-meter", "elsewhere", None])
def test_device_not_pre_provisioned_in_the_profile_is_failure(
    stack: Stack, pre_profile: dict[str, Any], name: str | None
) -> None:
    create_device(stack, "elsewhere")  # exists, but in no profile
    before = stack.count_items("DevicesTable")

    raw, _ = provision(stack, request(pre_profile, name))

    assert raw == FAILURE
    assert stack.count_items("DevicesTable") == before


# ------------------------------------------------------------------ bad input: 400, nothing written
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Required request body is missing"),
        ("", "Required request body is missing"),
        ('{"provisionDeviceKey":', "Invalid JSON"),
        ("[]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"provisionDeviceSecret": "s"}', "provisionDeviceKey"),
        ('{"provisionDeviceKey": "k"}', "provisionDeviceSecret"),
        ('{"provisionDeviceKey": null, "provisionDeviceSecret": "s"}', "provisionDeviceKey must be a string"),
        ('{"provisionDeviceKey": "k", "provisionDeviceSecret": "s", "deviceName": {}}', "deviceName"),
        (
            '{"provisionDeviceKey": "k", "provisionDeviceSecret": "s", "credentialsType": "PSK"}',
            "credentialsType",
        ),
        (
            '{"provisionDeviceKey": "k", "provisionDeviceSecret": "s", "credentialsType": null}',
            "credentialsType",
        ),
        ('{"provisionDeviceKey": "k", "provisionDeviceSecret": "s", "gateway": [true]}', "gateway"),
        ('{"provisionDeviceKey": "k", "provisionDeviceSecret": "s", "token": "' + "t" * 300 + '"}', "token"),
    ],
)
def test_unreadable_request_is_400_plain_text_and_writes_nothing(
    stack: Stack, profile: dict[str, Any], body: str | None, message: str
) -> None:
    response = raw_provision(stack, body)

    assert response["statusCode"] == 400
    assert response["headers"]["content-type"].startswith("text/plain")
    assert message in response["body"]
    assert stack.count_items("DevicesTable") == 3


def test_oversized_request_is_413(stack: Stack, profile: dict[str, Any]) -> None:
    body = json.dumps({**request(profile), "pad": "x" * 1_048_576})

    response = raw_provision(stack, body)

    assert response["statusCode"] == 413
    assert stack.count_items("DevicesTable") == 3


# ------------------------------------------------------------------ concurrency
def test_parallel_provisioning_of_one_name_creates_one_device(stack: Stack, profile: dict[str, Any]) -> None:
    raw_provision(stack, json.dumps(request(profile, "warm-up")))  # the function's environment is now set
    parsed = parse_provision_request(request(profile, "same-name"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: provisioning.provision(parsed), range(6)))

    assert sorted(r.status.value for r in results) == ["FAILURE"] * 5 + ["SUCCESS"]
    [winner] = [r for r in results if r.status.value == "SUCCESS"]
    assert telemetry_status(stack, str(winner.credentials_value)) == 200


def test_parallel_provisioning_of_a_pre_provisioned_device_succeeds_once(
    stack: Stack, pre_profile: dict[str, Any]
) -> None:
    call(
        stack,
        "manage/create_device",
        body={"name": "meter-1", "profileId": pre_profile["id"]},
        function="ManageDevicesFunction",
    )
    raw_provision(stack, json.dumps(request(pre_profile, "warm-up")))
    parsed = parse_provision_request(request(pre_profile, "meter-1"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: provisioning.provision(parsed), range(6)))

    assert sorted(r.status.value for r in results) == ["FAILURE"] * 5 + ["SUCCESS"]
    [winner] = [r for r in results if r.status.value == "SUCCESS"]
    assert telemetry_status(stack, str(winner.credentials_value)) == 200


# ------------------------------------------------------------------ a failure half-way leaves nothing behind
def fail(*_: Any, **__: Any) -> None:
    raise Retryable("The service is busy; retry the request")


def test_device_is_removed_when_it_cannot_be_marked_provisioned(
    stack: Stack, profile: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    queues = queue_count()
    monkeypatch.setattr(ProvisioningRepository, "mark_provisioned", fail)

    response = raw_provision(stack, json.dumps(request(profile)))

    assert response["statusCode"] == 503
    assert stack.count_items("DevicesTable") == 3
    assert queue_count() == queues


def test_mqtt_device_and_names_are_removed_when_binding_fails(
    stack: Stack, profile: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    queues = queue_count()
    monkeypatch.setattr(ProvisioningRepository, "bind_mqtt", fail)

    response = raw_provision(
        stack, json.dumps(request(profile, credentialsType="MQTT_BASIC", clientId="c-1"))
    )

    assert response["statusCode"] == 503
    assert stack.count_items("DevicesTable") == 3
    assert queue_count() == queues


def test_pre_provisioned_mark_is_undone_when_the_token_cannot_be_replaced(
    stack: Stack, pre_profile: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    call(
        stack,
        "manage/create_device",
        body={"name": "meter-1", "profileId": pre_profile["id"]},
        function="ManageDevicesFunction",
    )
    with monkeypatch.context() as patched:
        patched.setattr(devices, "regenerate_token", fail)
        assert raw_provision(stack, json.dumps(request(pre_profile, "meter-1")))["statusCode"] == 503

    _, body = provision(stack, request(pre_profile, "meter-1"))

    assert body["status"] == "SUCCESS"  # not left marked as provisioned
