"""The MQTT device authorizer's answer (``fleetgate.domain.mqtt_policy``) and the denials of
``fleetgate.services.mqtt_auth`` that need no registry: malformed events and credentials are refused
before any lookup (the registry's answers are in ``tests/integration/test_iot_authorizer.py``)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from fleetgate.domain import mqtt_policy
from fleetgate.domain.mqtt_policy import ArnScope
from fleetgate.errors import Retryable
from fleetgate.services import mqtt_auth

DEVICE = "8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11"
SCOPE = ArnScope("aws", "us-east-1", "123456789012")
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fleetgate-MqttAuthorizerFunction-X"
ARN = "arn:aws:iot:us-east-1:123456789012:"


def statements(documents: list[str]) -> list[dict[str, Any]]:
    return [statement for document in documents for statement in json.loads(document)["Statement"]]


# --------------------------------------------------------------------------- the policy documents
def test_a_device_gets_exactly_its_own_topics_and_its_command_topics() -> None:
    documents = mqtt_policy.device_policies(DEVICE, "thermostat-1", SCOPE, "fleetgate")

    assert [json.loads(d)["Version"] for d in documents] == ["2012-10-17", "2012-10-17"]
    assert statements(documents) == [
        {
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": [f"{ARN}client/{DEVICE}", f"{ARN}client/thermostat-1"],
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Publish", "iot:Receive"],
            "Resource": [f"{ARN}topic/v1/device/{DEVICE}/*"],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": [f"{ARN}topicfilter/v1/device/{DEVICE}/*"],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": [f"{ARN}topicfilter/fleetgate/commands/things/thermostat-1/*"],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Receive",
            "Resource": [f"{ARN}topic/fleetgate/commands/things/thermostat-1/*"],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": [f"{ARN}topic/fleetgate/commands/things/thermostat-1/executions/*/response"],
        },
    ]


def test_a_thingspro_gateway_also_gets_its_remote_api_and_message_topics_only() -> None:
    plain = mqtt_policy.device_policies(DEVICE, "gw-1", SCOPE, "fleetgate")
    documents = mqtt_policy.device_policies(DEVICE, "gw-1", SCOPE, "fleetgate", gateway=True)

    assert documents[: len(plain)] == plain
    assert statements(documents[len(plain) :]) == [
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": [f"{ARN}topicfilter/thingspro/{DEVICE}/api/request"],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Receive",
            "Resource": [f"{ARN}topic/thingspro/{DEVICE}/api/request"],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": [
                f"{ARN}topic/thingspro/{DEVICE}/api/response",
                f"{ARN}topic/thingspro/{DEVICE}/messages/*",
            ],
        },
    ]
    assert not any("thingspro" in d for d in plain)


def test_a_device_named_as_its_id_has_one_connect_resource() -> None:
    documents = mqtt_policy.device_policies(DEVICE, DEVICE, SCOPE, "fleetgate")

    assert statements(documents)[0]["Resource"] == [f"{ARN}client/{DEVICE}"]


def test_the_scope_comes_from_the_authorizer_function_arn() -> None:
    scope = ArnScope.of_function("arn:aws-cn:lambda:cn-north-1:210987654321:function:f:live")

    assert scope.arn("client/x") == "arn:aws-cn:iot:cn-north-1:210987654321:client/x"
    with pytest.raises(ValueError):
        ArnScope.of_function("arn:aws:iam::123456789012:role/x")


def test_the_longest_name_and_prefix_stay_within_aws_policy_limits() -> None:
    # Given the longest name the registry takes (128) and the longest CommandTopicPrefix (64)
    name, prefix = "n" * 128, "p" * 64
    scope = ArnScope("aws-us-gov", "us-gov-west-1", "123456789012")

    documents = mqtt_policy.device_policies(str(uuid.uuid4()), name, scope, prefix, gateway=True)

    assert len(documents) <= mqtt_policy.MAX_POLICY_DOCUMENTS
    assert max(len(d) for d in documents) <= mqtt_policy.MAX_POLICY_CHARS
    assert all(d == json.dumps(json.loads(d), separators=(",", ":")) for d in documents)  # compact JSON


def test_the_answer_has_every_field_iot_core_reads_within_its_ranges() -> None:
    answer = mqtt_policy.allowed(DEVICE, "thermostat-1", SCOPE, "fleetgate")

    assert answer["isAuthenticated"] is True
    assert answer["principalId"] == DEVICE.replace("-", "")
    assert 300 <= answer["refreshAfterInSeconds"] <= answer["disconnectAfterInSeconds"] <= 86_400
    assert answer["policyDocuments"] == mqtt_policy.device_policies(
        DEVICE, "thermostat-1", SCOPE, "fleetgate"
    )


@pytest.mark.parametrize("device_id", [DEVICE, "0b6f4f5e-2c3d-4e5f-8a9b-0c1d2e3f4a5b", "a" * 200, "x-y_z:1"])
def test_the_principal_id_is_alphanumeric_and_at_most_128_characters(device_id: str) -> None:
    assert mqtt_policy.PRINCIPAL_PATTERN.match(mqtt_policy.principal_id(device_id))


def test_an_id_without_a_letter_or_digit_has_no_principal() -> None:
    with pytest.raises(ValueError):
        mqtt_policy.principal_id("---")


def test_a_denial_grants_nothing() -> None:
    answer = mqtt_policy.denied()

    assert answer["isAuthenticated"] is False
    assert answer["policyDocuments"] == []
    assert mqtt_policy.PRINCIPAL_PATTERN.match(answer["principalId"])


# --------------------------------------------------------------------------- denials before any lookup
def event(**mqtt: Any) -> dict[str, Any]:
    fields = {"username": DEVICE, "password": base64.b64encode(b"token").decode(), "clientId": DEVICE}
    fields.update(mqtt)
    return {
        "protocols": ["tls", "mqtt"],
        "protocolData": {"mqtt": {k: v for k, v in fields.items() if v is not None}},
    }


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(None, "no protocolData.mqtt", id="no event"),
        pytest.param([], "no protocolData.mqtt", id="a list"),
        pytest.param({"protocolData": {}}, "no protocolData.mqtt", id="no mqtt"),
        pytest.param({"protocolData": {"mqtt": "x"}}, "no protocolData.mqtt", id="mqtt not an object"),
        pytest.param(event(username=None), "no username", id="no username"),
        pytest.param(event(username=""), "no username", id="empty username"),
        pytest.param(event(username=7), "no username", id="username not text"),
        pytest.param(event(username="u" * 2000), "no username", id="username too long"),
        pytest.param(event(password=None), "no password", id="no password"),
        pytest.param(event(password=""), "no password", id="empty password"),
        pytest.param(event(password=["x"]), "no password", id="password not text"),
        pytest.param(
            event(password="not base64!"), "the password is not base64 of UTF-8 text", id="not base64"
        ),
        pytest.param(
            event(password=base64.b64encode(b"\xff\xfe").decode()),
            "the password is not base64 of UTF-8 text",
            id="not UTF-8",
        ),
        pytest.param(event(clientId=5), "clientId is not a string", id="client id not text"),
    ],
)
def test_a_malformed_connect_is_denied_with_its_reason(bad: Any, reason: str) -> None:
    decision = mqtt_auth.authorize(bad, FUNCTION_ARN)

    assert decision.answer == mqtt_policy.denied()
    assert decision.reason == reason


def test_a_denial_names_no_password() -> None:
    secret = "a-secret-token-value"
    decision = mqtt_auth.authorize(event(password=secret + "!"), FUNCTION_ARN)

    assert decision.answer["isAuthenticated"] is False
    assert secret not in repr(decision)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Retryable("DynamoDB throttled"), "the registry could not be read: ServiceUnavailable"),
        (KeyError("deviceId"), "unexpected KeyError"),
    ],
)
def test_a_registry_that_fails_is_a_denial_not_an_error(
    monkeypatch: pytest.MonkeyPatch, failure: Exception, reason: str
) -> None:
    # Given a registry read that fails (transiently, or with an item it cannot read)
    def failing(token: str) -> None:
        raise failure

    monkeypatch.setattr(mqtt_auth.devices, "authenticate", failing)

    decision = mqtt_auth.authorize(event(), FUNCTION_ARN)

    assert (decision.answer, decision.reason, decision.device_id) == (mqtt_policy.denied(), reason, DEVICE)
