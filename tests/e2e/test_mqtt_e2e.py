"""MQTT devices against the local stack: real Mosquitto behind the template's device authorizer, paho-mqtt
2 clients speaking MQTT 5 (and 3.1.1), devices registered through the operator API.

The first part runs on the session's stack (the project's template); the second on a stack of its own
whose template is the project's plus rules and a function written for the test (a function that always
fails, a rule whose function does not exist), under ``tmp_path``.
"""

from __future__ import annotations

import base64
import json
import os
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import requests
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleetgate_local.cfn_yaml import load_template_file
from fleetgate_local.stack import LocalStack
from tests.e2e.conftest import REPOSITORY, OperatorSession

pytestmark = pytest.mark.e2e

WAIT_S = 15


@dataclass
class Device:
    id: str
    name: str
    token: str


def register(operator: OperatorSession, name: str | None = None) -> Device:
    name = name or f"mqtt-{uuid.uuid4().hex[:8]}"
    response = operator.post(f"{operator.base_url}/manage/v1/devices", json={"name": name}, timeout=30)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return Device(data["id"], name, data["credentials"]["accessToken"])


@dataclass
class Client:
    """A paho client with what it saw: the CONNACK, SUBACK reason codes, messages."""

    mqtt: paho.Client
    connack: list[Any] = field(default_factory=list)
    subacks: list[list[int]] = field(default_factory=list)
    messages: list[paho.MQTTMessage] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)

    def subscribe(self, topic_filter: str) -> int:
        count = len(self.subacks)
        self.mqtt.subscribe(topic_filter, qos=1)
        wait_for(lambda: len(self.subacks) > count)
        return self.subacks[-1][0]

    def publish(self, topic: str, payload: Any, properties: Properties | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.mqtt.publish(topic, data, qos=1, properties=properties).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def wait_for(condition: Any, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def connect(
    stack: LocalStack,
    username: str | None,
    password: str | None,
    client_id: str,
    *,
    version: int = paho.MQTTv5,
) -> Client:
    host, port = stack.mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
    mqtt = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)
    if username is not None:
        mqtt.username_pw_set(username, password)
    client = Client(mqtt)
    mqtt.on_connect = lambda c, u, flags, reason, props: (client.connack.append(reason), client.event.set())
    mqtt.on_subscribe = lambda c, u, mid, reasons, props: client.subacks.append([r.value for r in reasons])
    mqtt.on_message = lambda c, u, message: client.messages.append(message)
    mqtt.connect(host, int(port), keepalive=30)
    mqtt.loop_start()
    assert client.event.wait(WAIT_S), "no CONNACK"
    return client


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def device_client(
    stack: LocalStack, device: Device, clients: list[Client], client_id: str | None = None
) -> Client:
    client = connect(stack, device.id, device.token, client_id or device.id)
    clients.append(client)
    assert client.connack[0].value == 0, client.connack
    return client


# ====================================================================== the project's template
def test_a_registered_device_connects_with_its_id_and_token(
    stack: LocalStack, operator: OperatorSession, clients: list[Client]
) -> None:
    device = register(operator)

    own = device_client(stack, device, clients)
    by_name = device_client(stack, device, clients, client_id=device.name)

    assert own.connack[0].value == by_name.connack[0].value == 0


def test_an_mqtt_3_1_1_device_connects_too(
    stack: LocalStack, operator: OperatorSession, clients: list[Client]
) -> None:
    device = register(operator)

    client = connect(stack, device.id, device.token, device.id, version=paho.MQTTv311)
    clients.append(client)

    assert client.connack[0].value == 0


@pytest.mark.parametrize("version", [paho.MQTTv5, paho.MQTTv311], ids=["MQTT 5", "MQTT 3.1.1"])
def test_a_wrong_password_is_refused_at_connect(
    stack: LocalStack, operator: OperatorSession, clients: list[Client], version: int
) -> None:
    device = register(operator)

    client = connect(stack, device.id, device.token + "x", device.id, version=version)
    clients.append(client)

    # 0x86 bad user name or password (MQTT 5); return code 4 (MQTT 3.1.1, paho reports it as 134 too)
    assert client.connack[0].value == 134


@pytest.mark.parametrize(
    ("username", "password"),
    [("unknown", "token"), (None, None)],
    ids=["unknown device", "no credentials"],
)
def test_an_unknown_device_or_none_is_refused(
    stack: LocalStack, clients: list[Client], username: str | None, password: str | None
) -> None:
    client = connect(stack, username, password, "some-client")
    clients.append(client)

    assert client.connack[0].value == 134


def test_another_devices_token_or_client_id_is_refused(
    stack: LocalStack, operator: OperatorSession, clients: list[Client]
) -> None:
    a, b = register(operator), register(operator)

    with_b_token = connect(stack, a.id, b.token, a.id)
    as_b = connect(stack, a.id, a.token, b.id)
    clients.extend([with_b_token, as_b])

    assert with_b_token.connack[0].value == 134
    assert as_b.connack[0].value == 134


def test_a_device_may_subscribe_to_its_topics_only(
    stack: LocalStack, operator: OperatorSession, clients: list[Client]
) -> None:
    a, b = register(operator), register(operator)
    client = device_client(stack, a, clients)

    assert client.subscribe(f"v1/device/{a.id}/#") == 1
    assert client.subscribe(f"fleetgate/commands/things/{a.name}/#") == 1
    assert client.subscribe(f"v1/device/{b.id}/#") == 0x87  # not authorized
    assert client.subscribe(f"fleetgate/commands/things/{b.name}/#") == 0x87
    assert client.subscribe("#") == 0x87


def test_a_publish_to_another_devices_topic_reaches_no_subscriber(
    stack: LocalStack, operator: OperatorSession, clients: list[Client]
) -> None:
    a, b = register(operator), register(operator)
    alice, bob = device_client(stack, a, clients), device_client(stack, b, clients)
    assert bob.subscribe(f"v1/device/{b.id}/#") == 1

    alice.publish(f"v1/device/{b.id}/status", {"forged": True})
    bob.publish(f"v1/device/{b.id}/status", {"own": True})  # the control: this one arrives

    wait_for(lambda: bob.messages)
    time.sleep(0.3)
    assert [json.loads(m.payload) for m in bob.messages] == [{"own": True}]


def test_a_thingdatas_command_reaches_the_mqtt_device_and_its_answer_completes_it(
    stack: LocalStack, operator: OperatorSession, clients: list[Client]
) -> None:
    # Given a device subscribed to its command topics, connected with its name as client id
    device = register(operator)
    client = device_client(stack, device, clients, client_id=device.name)
    assert client.subscribe(f"fleetgate/commands/things/{device.name}/#") == 1

    # When the operator sends it a command through the operator API
    sent = operator.post(
        f"{operator.base_url}/manage/v1/devices/{device.id}/commands",
        json={"action": "setTemperature", "params": {"value": 24}, "ttl": 60},
        timeout=30,
    )
    assert sent.status_code == 201, sent.text
    execution_id = sent.json()["data"]["executionId"]

    # Then the device gets it, with the MQTT 5 properties of a request
    message = wait_for(lambda: client.messages)[0]
    assert message.topic == f"fleetgate/commands/things/{device.name}/executions/{execution_id}/request"
    assert json.loads(message.payload)["action"] == "setTemperature"
    properties = message.properties
    assert (
        properties.ResponseTopic
        == f"fleetgate/commands/things/{device.name}/executions/{execution_id}/response"
    )
    assert properties.CorrelationData == execution_id.encode()
    assert 0 < properties.MessageExpiryInterval <= 60
    assert properties.ContentType == "application/json"

    # When it answers on the response topic, with the request's correlation data
    answer = Properties(PacketTypes.PUBLISH)
    answer.CorrelationData = properties.CorrelationData
    client.publish(properties.ResponseTopic, {"status": "SUCCEEDED", "result": {"ok": True}}, answer)

    # Then the rule runs TdOnCommandResponseFunction and the command is SUCCEEDED
    def status() -> Any:
        url = f"{operator.base_url}/manage/v1/devices/{device.id}/commands/{execution_id}"
        data = operator.get(url, timeout=30).json()["data"]
        return data if data["status"] != "SENT" else None

    recorded = wait_for(status)
    assert (recorded["status"], recorded["result"]) == ("SUCCEEDED", {"ok": True})


# ====================================================================== a template of the test's own
FAILING_HANDLER = """
def lambda_handler(event, context):
    raise RuntimeError("this function always fails")
"""
ORPHAN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:not-in-the-template"
DEVICE_SELECT = "SELECT *, topic(3) AS deviceId, clientid() AS clientId FROM 'v1/device/+/fail'"


def extended_template(root: Path) -> None:
    """The project's template plus a failing rule function, its rules and two queues, under ``root``."""
    for name in ("functions", "layers", "docs"):
        (root / name).symlink_to(REPOSITORY / name)
    (root / "failing").mkdir()
    (root / "failing" / "app.py").write_text(textwrap.dedent(FAILING_HANDLER))
    document = load_template_file(REPOSITORY / "template.yaml")
    resources = document["Resources"]
    resources["TestDeadLetters"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    resources["TestRuleErrors"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    resources["TestPresence"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    resources["FailingFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": "failing/",
            "Timeout": 3,
            "DeadLetterQueue": {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["TestDeadLetters", "Arn"]}},
        },
    }

    def rule(sql: str, function_arn: Any, errors: str = "TestRuleErrors") -> dict[str, Any]:
        return {
            "Type": "AWS::IoT::TopicRule",
            "Properties": {
                "TopicRulePayload": {
                    "AwsIotSqlVersion": "2016-03-23",
                    "Sql": sql,
                    "Actions": [{"Lambda": {"FunctionArn": function_arn}}],
                    "ErrorAction": {
                        "Sqs": {
                            "QueueUrl": {"Ref": errors},
                            "RoleArn": "arn:aws:iam::123456789012:role/x",
                        }
                    },
                }
            },
        }

    failing_arn = {"Fn::GetAtt": ["FailingFunction", "Arn"]}
    resources["DeviceFailRule"] = rule(DEVICE_SELECT, failing_arn)
    resources["CommandRequestRule"] = rule(
        "SELECT encode(*, 'base64') AS payload, topic() AS topic, clientid() AS clientId "
        "FROM 'fleetgate/commands/things/+/executions/+/request'",
        failing_arn,
    )
    # a rule whose function does not exist: its error action gets each event (base64OriginalPayload)
    resources["PresenceRule"] = rule("SELECT * FROM '$aws/events/presence/+/+'", ORPHAN_ARN, "TestPresence")
    resources["OrphanRule"] = rule(
        "SELECT * FROM 'v1/device/+/orphan'",
        ORPHAN_ARN,
    )
    (root / "template.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("mqtt-template")
    extended_template(root)
    with LocalStack(root, log=lambda line: None) as running:
        assert running.mqtt is not None
        running.mqtt.rules._retry_delays = (0.2, 0.2)  # type: ignore[union-attr] # AWS: about 1 and 2 minutes
        yield running


@pytest.fixture
def own_operator(own_stack: LocalStack) -> Iterator[OperatorSession]:
    response = requests.post(
        f"{own_stack.url}/manage/v1/auth",
        json={"name": own_stack.admin_name, "password": own_stack.admin_password},
        timeout=30,
    )
    with OperatorSession(own_stack.url, response.json()["data"]["token"]) as session:
        yield session


def received(stack: LocalStack, queue: str, count: int, settle: float = 0.0) -> list[dict[str, Any]]:
    """The queue's messages once there are ``count`` (and ``settle`` seconds more for any extra one);
    each is deleted as it is read."""
    sqs, url = stack.client("sqs"), stack.provisioned.physical_ids[queue]
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in batch.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            messages.append(message)
        if len(messages) >= count:
            if settle <= 0:
                break
            deadline, settle = time.monotonic() + settle, 0.0
    return messages


def drain(stack: LocalStack, queue: str) -> None:
    sqs, url = stack.client("sqs"), stack.provisioned.physical_ids[queue]
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_function_that_keeps_failing_lands_in_its_dead_letter_queue_after_three_tries(
    own_stack: LocalStack, own_operator: OperatorSession, clients: list[Client]
) -> None:
    drain(own_stack, "TestDeadLetters")
    device = register(own_operator)
    client = device_client(own_stack, device, clients)

    client.publish(f"v1/device/{device.id}/fail", {"n": 1})

    [message] = received(own_stack, "TestDeadLetters", 1)
    assert json.loads(message["Body"]) == {"n": 1, "deviceId": device.id, "clientId": device.id}
    attributes = message["MessageAttributes"]
    assert attributes["ErrorMessage"]["StringValue"].endswith("this function always fails")
    assert {"RequestID", "ErrorCode"} <= set(attributes)


def test_a_publish_its_policy_forbids_reaches_no_rule(
    own_stack: LocalStack, own_operator: OperatorSession, clients: list[Client]
) -> None:
    drain(own_stack, "TestDeadLetters")
    a, b = register(own_operator), register(own_operator)
    alice, bob = device_client(own_stack, a, clients), device_client(own_stack, b, clients)

    alice.publish(f"v1/device/{b.id}/fail", {"forged": True})
    bob.publish(f"v1/device/{b.id}/fail", {"own": True})  # the control, which does reach the rule

    messages = received(own_stack, "TestDeadLetters", 1, settle=1.5)  # the retries take 0.4 s
    assert [json.loads(m["Body"]) for m in messages] == [{"own": True, "deviceId": b.id, "clientId": b.id}]


def test_a_rule_whose_function_does_not_exist_sends_its_error_action(
    own_stack: LocalStack, own_operator: OperatorSession, clients: list[Client]
) -> None:
    drain(own_stack, "TestRuleErrors")
    device = register(own_operator)
    client = device_client(own_stack, device, clients)

    client.publish(f"v1/device/{device.id}/orphan", b'{"n":2}')

    [message] = received(own_stack, "TestRuleErrors", 1)
    body = json.loads(message["Body"])
    assert body["ruleName"] == own_stack.provisioned.physical_ids["OrphanRule"]
    assert (body["topic"], body["clientId"], body["base64OriginalPayload"]) == (
        f"v1/device/{device.id}/orphan",
        device.id,
        "eyJuIjoyfQ==",
    )
    assert body["failures"] == [
        {
            "failedAction": "LambdaAction",
            "failedResource": ORPHAN_ARN,
            "errorMessage": f"Function not found: {ORPHAN_ARN}",
        }
    ]
    uuid.UUID(body["cloudwatchTraceId"])


def test_what_functions_publish_through_iot_data_runs_the_rules(
    own_stack: LocalStack, own_operator: OperatorSession
) -> None:
    drain(own_stack, "TestDeadLetters")
    device = register(own_operator)

    sent = own_operator.post(
        f"{own_stack.url}/manage/v1/devices/{device.id}/commands",
        json={"action": "reboot", "ttl": 60},
        timeout=30,
    )
    assert sent.status_code == 201, sent.text

    [message] = received(own_stack, "TestDeadLetters", 1)
    event = json.loads(message["Body"])
    execution_id = sent.json()["data"]["executionId"]
    assert event["topic"] == f"fleetgate/commands/things/{device.name}/executions/{execution_id}/request"
    assert event["clientId"] == "n/a"  # not published over MQTT


def test_connections_and_their_ends_are_lifecycle_events_for_the_rules(
    own_stack: LocalStack, own_operator: OperatorSession
) -> None:
    drain(own_stack, "TestPresence")
    device = register(own_operator)
    first = connect(own_stack, device.id, device.token, device.id)
    first.close()  # a DISCONNECT packet
    second = connect(own_stack, device.id, device.token, device.id)
    second.mqtt.loop_stop()
    second.mqtt.socket().close()  # the connection drops: no DISCONNECT

    failures = [json.loads(m["Body"]) for m in received(own_stack, "TestPresence", 4, settle=1.0)]
    bodies = [json.loads(base64.b64decode(f["base64OriginalPayload"])) for f in failures]
    ours = sorted(
        (b for b in bodies if b.get("clientId") == device.id),
        key=lambda b: (b["versionNumber"], b["eventType"]),
    )
    assert [(b["eventType"], b.get("disconnectReason")) for b in ours] == [
        ("connected", None),
        ("disconnected", "CLIENT_INITIATED_DISCONNECT"),
        ("connected", None),
        ("disconnected", "CONNECTION_LOST"),
    ]
    assert ours[0]["versionNumber"] + 1 == ours[2]["versionNumber"]
    assert ours[1]["sessionIdentifier"] == ours[0]["sessionIdentifier"] != ours[2]["sessionIdentifier"]
    assert [b.get("clientInitiatedDisconnect") for b in ours] == [None, True, None, False]
    assert all(b["principalIdentifier"] and isinstance(b["timestamp"], int) for b in ours)


def test_the_broker_is_stopped_with_the_stack(tmp_path: Path) -> None:
    with LocalStack(REPOSITORY, log=lambda line: None) as running:
        assert running.mqtt is not None
        pid = running.mqtt.broker.pid
        assert pid is not None
        os.kill(pid, 0)  # alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
